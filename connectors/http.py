"""The HTTP client every API connector shares: auth headers, retries, rate limits, pages.

* Retries with exponential back-off and full jitter on timeouts, dropped connections (including a
  body cut off half-way), 429 and 5xx, honouring `Retry-After`. Bounded twice: by attempts and by
  a total time budget, so a dead API fails the sync instead of hanging it.
* 401/403 fail at once with a message naming the channel and the *environment variable* that
  holds its credential; no credential value ever appears in a message, a log line or the
  warehouse (auth travels in headers, never in URLs, and error texts are built by us, not from
  request objects).
* Optional client-side token buckets per operation (Amazon SP-API's per-operation limits).

Connectors are plain Python generators of `Page`s: no Prefect, no DuckDB here.
"""

from __future__ import annotations

import email.utils
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.jsonstrict import NotStrictJson, Unreadable, loads_page
from connectors.records import RawRecord

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# Credentials as the platforms shape them, redacted wherever they appear even when we did not
# hand them out (a proxy quoting another token): Shopify access tokens, Login-with-Amazon refresh
# tokens and client secrets, WooCommerce consumer keys and secrets.
SECRET_SHAPES = re.compile(
    r"shp(?:at|ca|pa|ss)_[0-9A-Za-z]{16,}|Atzr\|[0-9A-Za-z_\-|]{16,}"
    r"|amzn1\.oa2-cs\.v1\.[0-9A-Za-z]{16,}|c[ks]_[0-9a-f]{20,}"
)
# Every match of SECRET_SHAPES starts with one of these (a cheap test before the regex).
SECRET_PREFIXES = ("shp", "Atzr|", "amzn1.oa2-cs.v1.", "ck_", "cs_")
# Every credential value read from the environment in this process (`credential()`).
_KNOWN_SECRETS: set[str] = set()
REDACTED = "[redacted]"


def known_secrets() -> frozenset[str]:
    """The credential values this process has read (for redacting what it writes)."""
    return frozenset(_KNOWN_SECRETS)


def redact(text: str) -> str:
    """`text` with every credential we know and everything shaped like one replaced. Applied to
    error bodies and exception messages before they reach a log, the Prefect database,
    `ops.runs`, artifacts, quarantine or raw: an API that echoes the request's token back in an
    error must not make us store it."""
    for secret in sorted(_KNOWN_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return SECRET_SHAPES.sub(REDACTED, text)


class ChannelError(RuntimeError):
    """The channel's API could not be read (retries exhausted, unexpected answer).

    `status` is the HTTP status of the answer that ended the call, when there was one (None for
    timeouts, dropped connections and bodies that were not JSON). `retryable` says whether a
    later attempt can help: the flows retry a channel sync by this, never by the message. The
    message is redacted (`redact`) when the error is made."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.status = status

    def __reduce__(self):  # keep `status` through pickling (task results, process pools)
        return (type(self), (str(self), self.status))

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES


class ChannelAuthError(ChannelError):
    """The API refused our credentials (401/403): never retried."""

    @property
    def retryable(self) -> bool:
        return False


class SyncDeadlineExceeded(ChannelError):
    """The channel's sync used its whole `sync_deadline_seconds`: what landed stays, the cursor
    stays at the last landed page, the rest is read next run. Never retried within the run."""

    @property
    def retryable(self) -> bool:
        return False


class ChannelConfigError(ChannelAuthError):
    """A credential the channel needs is not set in the environment: never retried."""


@dataclass
class Batch:
    """Records of one raw stream read in one page, plus the ones that could not be read
    (`bad`: source id, reason, payload text) which go to quarantine."""

    records: list[RawRecord] = field(default_factory=list)
    bad: list[tuple[str | None, str, str]] = field(default_factory=list)

    def hold_unreadable(self, item: object, what: str) -> bool:
        """Hold a record of a page that was not JSON (`jsonstrict.Unreadable`) with its text as
        received and the rule it broke; True when it was one (the mapping then skips it)."""
        if not isinstance(item, Unreadable):
            return False
        self.bad.append((None, f"{what} is not JSON: {item.reason}", item.text))
        return True


@dataclass
class Page:
    """What one API page lands, in one transaction: batches per stream (an order page may carry
    the refunds or order items fetched for its orders) and the cursor of `stream` it covers.

    `cursor` is None when the page must not advance the cursor (a source that does not sort by
    updated time: its cursor moves only with its last page)."""

    stream: str
    cursor: str | None
    batches: dict[str, Batch]

    @property
    def n_records(self) -> int:
        return sum(len(b.records) + len(b.bad) for b in self.batches.values())


def iso_cursor(ts: datetime | None) -> str | None:
    """Cursor text: UTC ISO-8601, the format `ops.sync_state.cursor` compares as text."""
    return ts.astimezone(UTC).isoformat() if ts else None


def credential(channel: str, env_var: str) -> str:
    """Read one credential from the environment; a missing one fails naming the variable."""
    value = os.environ.get(env_var)
    if not value:
        raise ChannelConfigError(
            f"channel '{channel}': environment variable {env_var} is not set "
            "(it must hold the API credential; oms.yaml stores only its name)"
        )
    remember_secret(value)
    return value


def remember_secret(value: str) -> None:
    """Redact `value` from everything this process writes from now on (a credential, or a token
    obtained with one). Values shorter than 8 characters would redact ordinary words."""
    if len(value) >= 8:
        _KNOWN_SECRETS.add(value)


@dataclass(frozen=True)
class RetryPolicy:
    """How long a call may take. `total_seconds` bounds one call's retries; `sync_seconds` bounds
    every call of one client (one sync of one channel) in all, so a server that trickles its
    answers cannot keep an hourly sync running into the next hour. Each attempt is bounded too:
    by the client's `timeout` in all, not only per read (httpx's timeouts are per read, so a
    body sent a byte at a time would never time out)."""

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_seconds: float = 300.0
    sync_seconds: float | None = None


class TokenBucket:
    """`rate` requests per second with bursts of `burst`; `take()` sleeps until one is free.
    `clock` and `sleep` are injectable so a test or benchmark can run minutes of waits in
    emulated time (both must then come from the same emulated clock)."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.clock = clock
        self.stamp = clock()
        self.sleep = sleep
        self.lock = threading.Lock()

    def empty(self) -> float:
        """The server said we are over the limit (a 429): the bucket holds nothing now; the
        seconds until its next token."""
        with self.lock:
            self.tokens = 0.0
            self.stamp = self.clock()
            return 1 / self.rate

    def take(self) -> None:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            wait = (1 - self.tokens) / self.rate
            self.tokens = 0
            self.stamp = now + wait
        self.sleep(wait)


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    by_reason: dict[str, int] = field(default_factory=dict)

    def note(self, reason: str) -> None:
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


class ApiClient:
    """httpx.Client with the retry, auth-error and rate-limit rules above."""

    def __init__(
        self,
        channel: str,
        base_url: str,
        *,
        credential_env: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self.credential_env = credential_env
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self.stats = ClientStats()
        self._rng = random.Random(seed)
        self.on_throttle: Callable[[httpx.Response], None] | None = None
        # A channel whose 429s carry no Retry-After but whose limit is a known rate (Amazon
        # SP-API) sets `throttle_wait`: the seconds until the operation's next token, or None to
        # back off as usual. Those waits are not failed attempts; they are bounded in all by
        # `throttle_total_seconds` per call.
        self.throttle_wait: Callable[[httpx.Response], float | None] | None = None
        # What a refusal (401/403) means when it is not always the credentials (WooCommerce
        # ignores Basic auth over plain HTTP): the rest of the message, from the answer.
        self.auth_hint: Callable[[httpx.Response], str] | None = None
        self.throttle_total_seconds: float = 600.0
        # Deadlines are wall-clock (time.monotonic), whatever `clock` emulates: they bound how
        # long the sync really runs.
        self.timeout = timeout
        self.sync_deadline = (
            time.monotonic() + self.policy.sync_seconds if self.policy.sync_seconds else None
        )
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=dict(headers or {}),
            auth=auth,
            timeout=timeout,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_header(self, name: str, value: str) -> None:
        self._client.headers[name] = value

    def _backoff(self, attempt: int) -> float:
        cap = min(self.policy.max_delay, self.policy.base_delay * (2 ** (attempt - 1)))
        return self._rng.uniform(0, cap)  # full jitter

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited_seconds += seconds
            self.sleep(seconds)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: object | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        bucket: TokenBucket | None = None,
        what: str | None = None,
        auth_statuses: tuple[int, ...] = (401, 403),
    ) -> httpx.Response:
        """Send with retries; return a response whose body has been read in full (2xx/3xx/4xx
        other than 401/403/429). `what` names the call in messages (never the query string)."""
        label = what or f"{method} {path}"
        deadline = self.clock() + self.policy.total_seconds
        throttled_until: float | None = None
        attempt = 0
        last = ""
        while True:
            attempt += 1
            if bucket is not None:
                bucket.take()
            self._check_sync_deadline(label)
            self.stats.requests += 1
            retry_in: float | None = None
            try:
                req = self._client.build_request(
                    method, path, params=params, json=json_body, data=data, headers=headers
                )
                resp = self._send_within(req)
            except httpx.TimeoutException:
                last, retry_in = "timed out", None
                self.stats.note("timeout")
            except httpx.TransportError as exc:
                last, retry_in = f"connection failed ({type(exc).__name__})", None
                self.stats.note("connection")
            else:
                status = resp.status_code
                if status in auth_statuses and self.auth_hint is not None:
                    raise ChannelAuthError(
                        f"channel '{self.channel}': the API refused the request (HTTP {status} "
                        f"on {label}): {self.auth_hint(resp)}",
                        status,
                    ) from None
                if status in auth_statuses:
                    raise ChannelAuthError(
                        f"channel '{self.channel}': the API refused the credentials "
                        f"(HTTP {status} on {label}); check the environment variable "
                        f"{self.credential_env}",
                        status,
                    ) from None
                if status not in RETRY_STATUSES:
                    if status >= 400:
                        raise ChannelError(
                            f"channel '{self.channel}': HTTP {status} on {label}: {_snippet(resp)}",
                            status,
                        ) from None
                    return resp
                last = f"HTTP {status}"
                self.stats.note(str(status))
                retry_in = _retry_after(resp)
                if self.on_throttle is not None and status == 429:
                    self.on_throttle(resp)
                paced = (
                    self.throttle_wait(resp)
                    if status == 429 and retry_in is None and self.throttle_wait is not None
                    else None
                )
                if paced is not None:
                    now = self.clock()
                    if throttled_until is None:
                        throttled_until = now + self.throttle_total_seconds
                    if now + paced > throttled_until:
                        raise ChannelError(
                            f"channel '{self.channel}': {label} still throttled (HTTP 429) after "
                            f"waiting {self.throttle_total_seconds:g} s for the operation's rate "
                            "limit; giving up for this run, the cursor stays at the last landed page",
                            429,
                        ) from None
                    attempt -= 1  # waiting for the next token is not a failed attempt
                    deadline += paced
                    self.stats.retries += 1
                    self._wait(paced)
                    continue
            if attempt >= self.policy.max_attempts:
                raise ChannelError(
                    f"channel '{self.channel}': {label} failed {attempt} times (last: {last}); "
                    "giving up for this run, the cursor stays at the last landed page"
                ) from None
            wait = retry_in if retry_in is not None else self._backoff(attempt)
            self._check_sync_deadline(label, after=wait)  # a wait ending past it: stop now
            if self.clock() + wait > deadline:
                raise ChannelError(
                    f"channel '{self.channel}': {label} still failing after "
                    f"{self.policy.total_seconds:g} s (last: {last}); giving up for this run"
                ) from None
            self.stats.retries += 1
            self._wait(wait)

    def _check_sync_deadline(self, label: str, after: float = 0.0) -> None:
        if self.sync_deadline is not None and time.monotonic() + after >= self.sync_deadline:
            raise SyncDeadlineExceeded(
                f"channel '{self.channel}': the sync used its {self.policy.sync_seconds:g} s "
                f"(api.sync_deadline_seconds) before {label}; what landed is kept, the rest is "
                "read next run"
            )

    def _send_within(self, req: httpx.Request) -> httpx.Response:
        """Send and read the whole body within `timeout` seconds in all (and within the sync's
        deadline): a body cut off mid-way raises a TransportError, one that trickles slower than
        that a TimeoutException; both are retried like any timeout."""
        now = time.monotonic()
        until = now + self.timeout
        if self.sync_deadline is not None:
            until = min(until, self.sync_deadline)
        req.extensions["timeout"] = httpx.Timeout(max(0.001, until - now)).as_dict()
        resp = self._client.send(req, stream=True)
        try:
            chunks = []
            for chunk in resp.iter_raw():
                chunks.append(chunk)
                if time.monotonic() > until:
                    raise httpx.ReadTimeout(
                        f"the answer took longer than {self.timeout:g} s in all", request=req
                    )
        finally:
            resp.close()
        # The body as received (still content-encoded): the new response decodes it on read.
        whole = httpx.Response(
            resp.status_code, headers=resp.headers, content=b"".join(chunks), request=req
        )
        whole.read()
        return whole

    def get_json(self, path: str, **kwargs: object) -> tuple[object, httpx.Response]:
        resp = self.request("GET", path, **kwargs)  # type: ignore[arg-type]
        return parse_json(self.channel, resp, str(kwargs.get("what") or f"GET {path}")), resp


def parse_json(channel: str, resp: httpx.Response, label: str) -> object:
    """The body of a page, strictly (connectors/jsonstrict.py): a record that is not JSON
    (a key given twice, NaN, an integer beyond 64 bits, a lone surrogate, nesting thousands
    deep) becomes an `Unreadable` in its place, which the mapping quarantines with its text, and
    the rest of the page lands. Only a body that is not JSON outside its records is an error."""
    try:
        return loads_page(resp.content)
    except NotStrictJson as exc:
        raise ChannelError(
            f"channel '{channel}': {label} returned a body that is not JSON ({exc}): "
            f"{_snippet(resp)}"
        ) from None


def _snippet(resp: httpx.Response) -> str:
    text = resp.text[:300].replace("\n", " ")
    return text or "(empty body)"
