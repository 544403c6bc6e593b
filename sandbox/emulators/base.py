"""A tiny HTTP server base for the emulated channel APIs, with fault knobs.

Each emulator is a stdlib `ThreadingHTTPServer` on 127.0.0.1 with an ephemeral port, served from
a daemon thread. Faults are drawn per request from a seeded RNG: server errors, 429s, latency,
connections dropped half-way through the body, and duplicate deliveries (the emulator repeats a
record inside a page, as real APIs do when data moves under a paginating client).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self, overload
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0  # share of requests answered 500/502/503
    throttle_rate: float = 0.0  # share answered 429 (Shopify GraphQL: a THROTTLED error)
    latency: float = 0.0  # seconds added to every request
    drop_rate: float = 0.0  # share whose connection is cut half-way through the body
    duplicate_rate: float = 0.0  # share of pages that deliver one of their records twice
    retry_after: float = 0.01  # the Retry-After the emulator sends with its 429s
    seed: int = 0


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @overload
    def arg(self, name: str, default: str) -> str: ...
    @overload
    def arg(self, name: str, default: None = None) -> str | None: ...
    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> dict:
        return json.loads(self.body or b"{}")


@dataclass
class EmulatorStats:
    requests: int = 0
    errors: int = 0
    throttled: int = 0
    dropped: int = 0
    duplicated: int = 0
    unauthorized: int = 0


class Emulator:
    """Subclasses implement `handle(req) -> Reply` (auth included)."""

    name = "emulator"

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.lock = threading.RLock()
        self.stats = EmulatorStats()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # A server that trickles: the answers to the requests `trickle_when` picks are sent a byte
        # every `trickle_gap` seconds (each read is quick, the whole answer is not).
        self.trickle_gap = 0.0
        self.trickle_when: Callable[[Request], bool] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        emu = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                emu._dispatch(self, req)

            do_GET = _serve
            do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # AF_INET: always a str (typeshed allows bytes too)
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ faults
    def chance(self, p: float) -> bool:
        if p <= 0:
            return False
        with self.lock:
            return self.rng.random() < p

    def maybe_duplicate(self, items: list) -> list:
        """Deliver one record of the page twice (a duplicate delivery)."""
        if len(items) > 1 and self.chance(self.faults.duplicate_rate):
            self.stats.duplicated += 1
            with self.lock:
                i = self.rng.randrange(len(items))
            return items[: i + 1] + [items[i]] + items[i + 1 :]
        return items

    def throttle_reply(self) -> Reply:
        return Reply(
            429,
            {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]},
            {"Retry-After": f"{self.faults.retry_after:g}"},
        )

    def _dispatch(self, h: BaseHTTPRequestHandler, req: Request) -> None:
        f = self.faults
        self.stats.requests += 1
        if f.latency:
            time.sleep(f.latency)
        if self.chance(f.error_rate):
            self.stats.errors += 1
            with self.lock:
                status = self.rng.choice([500, 502, 503])
            return self._send(h, Reply(status, {"errors": "Internal Server Error"}), False)
        if self.chance(f.throttle_rate):
            self.stats.throttled += 1
            return self._send(h, self.throttle_reply(), False)
        try:
            reply = self.handle(req)
        except Exception as exc:  # an emulator bug must not look like a hang
            reply = Reply(500, {"errors": f"emulator error: {type(exc).__name__}: {exc}"})
        drop = reply.status == 200 and self.chance(f.drop_rate)
        if drop:
            self.stats.dropped += 1
        slow = self.trickle_gap > 0 and self.trickle_when is not None and self.trickle_when(req)
        self._send(h, reply, drop, self.trickle_gap if slow else 0.0)

    def _send(self, h: BaseHTTPRequestHandler, reply: Reply, drop: bool, gap: float = 0.0) -> None:
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            now = self.server_time()
            if now is not None:  # the Date header tells the emulated clock, as a server's does
                h.date_time_string = lambda timestamp=None: formatdate(now, usegmt=True)  # type: ignore[method-assign]
            h.send_response(reply.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if drop:
                h.send_header("Connection", "close")
            h.end_headers()
            if drop:
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(2)  # socket.SHUT_RDWR: the client sees a cut body
                return
            if gap:
                for i in range(len(data)):
                    h.wfile.write(data[i : i + 1])
                    h.wfile.flush()
                    time.sleep(gap)
                return
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True

    def server_time(self) -> int | None:
        """The emulated clock (epoch seconds) for the `Date` header; None: the real clock."""
        return None

    def handle(self, req: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError
