"""How the WooCommerce connector proves who it is (REST API v3 "Authentication").

WooCommerce decides by the transport, not by what the client prefers
(`WC_REST_Authentication::authenticate`):

* over HTTPS it reads the consumer key and secret from HTTP Basic auth, or, where a server drops
  the `Authorization` header, from the `consumer_key` / `consumer_secret` query parameters;
* over plain HTTP it ignores both (the keys would travel in clear) and only accepts OAuth 1.0a
  "one-legged" signatures: `oauth_consumer_key`, `oauth_timestamp`, `oauth_nonce`,
  `oauth_signature_method` (HMAC-SHA1 or HMAC-SHA256) and `oauth_signature` in the query string
  (or an `Authorization: OAuth` header), signed with the consumer secret plus `&` over the
  method, the URL without its query and every query parameter (RFC 5849 section 3.4). Its
  timestamp must be within 15 minutes of the shop's clock and each nonce is used once.

So Basic over `http://` is answered 401 "you cannot list resources" however right the keys are.
`auth: auto` (the default) signs with OAuth 1.0a for `http://` and uses Basic for `https://`;
`query_string` puts the keys in the query string (HTTPS only); `oauth1` signs over HTTPS too.
Signing uses oauthlib (RFC 5849), with the signature parameters in the query string, which also
works on hosts that drop the `Authorization` header.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Literal

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_QUERY, Client

from connectors.http import ChannelConfigError

AuthMode = Literal["auto", "basic", "query_string", "oauth1"]
AUTH_MODES: tuple[str, ...] = ("auto", "basic", "query_string", "oauth1")
# the modes that send the keys themselves: WooCommerce accepts them only over HTTPS
KEYS_IN_CLEAR = ("basic", "query_string")


class OAuth1(httpx.Auth):
    """OAuth 1.0a one-legged signature of every request, parameters in the query string. A fresh
    nonce and timestamp per attempt (httpx runs `auth_flow` for each send, retries included)."""

    def __init__(self, key: str, secret: str) -> None:
        self._client = Client(
            key,
            client_secret=secret,
            signature_method=SIGNATURE_HMAC_SHA1,
            signature_type=SIGNATURE_TYPE_QUERY,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        uri, _, _ = self._client.sign(str(request.url), http_method=request.method)
        request.url = httpx.URL(uri)
        yield request


class QueryKeys(httpx.Auth):
    """`consumer_key` / `consumer_secret` as query parameters (HTTPS only): for servers that
    drop the `Authorization` header before PHP sees it."""

    def __init__(self, key: str, secret: str) -> None:
        self._params = {"consumer_key": key, "consumer_secret": secret}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_merge_params(self._params)
        yield request


def resolve(mode: str, base_url: str) -> str:
    """The mode to use for `base_url` (`auto` decided by its scheme). Sending the keys themselves
    over plain HTTP is refused here: WooCommerce would ignore them and answer 401."""
    if mode not in AUTH_MODES:
        raise ValueError(f"unknown WooCommerce auth mode {mode!r}; one of {', '.join(AUTH_MODES)}")
    https = base_url.lower().startswith("https://")
    if mode == "auto":
        return "basic" if https else "oauth1"
    if mode in KEYS_IN_CLEAR and not https:
        raise ChannelConfigError(
            f"auth: {mode} sends the consumer key and secret themselves, which WooCommerce accepts "
            f"only over HTTPS (over plain HTTP it ignores them and answers 401); use an https:// "
            f"base_url, or auth: oauth1 / auto (OAuth 1.0a signatures) for {base_url}"
        )
    return mode


def httpx_auth(mode: str, key: str, secret: str) -> httpx.Auth | tuple[str, str]:
    """What `ApiClient(auth=...)` sends for a resolved mode."""
    if mode == "basic":
        return (key, secret)
    if mode == "query_string":
        return QueryKeys(key, secret)
    return OAuth1(key, secret)


def refusal_hint(mode: str, base_url: str, credential_env: str) -> Callable[[httpx.Response], str]:
    """What a 401/403 means under `mode` (not always the credentials), with Woo's own words."""
    if mode == "oauth1":
        causes = (
            "an OAuth 1.0a signature is refused when the key or secret is wrong, but also when "
            "base_url is not the shop's site URL exactly (scheme, host, port: 127.0.0.1 is not "
            "localhost) or this machine's clock is more than 15 minutes off; check base_url "
            f"({base_url}), the clock and the environment variables {credential_env}"
        )
    else:
        causes = (
            f"{mode} auth sends the keys, which WooCommerce reads only when WordPress sees the "
            "request as HTTPS (behind a proxy that terminates TLS without telling WordPress it is "
            f"plain HTTP: then set auth: oauth1); else check the environment variables "
            f"{credential_env}"
        )

    def hint(resp: httpx.Response) -> str:
        try:
            body = resp.json()
            said = f"WooCommerce says {body['message']!r} ({body['code']}); "
        except (ValueError, KeyError, TypeError):
            said = ""
        return said + causes

    return hint
