"""uvicorn's h11 protocol with a deadline for each request head. Not run on its own.

uvicorn has no such deadline: its keep-alive timer starts only after a response and stops at the
next byte, so a client that connects and sends nothing, or a header a byte at a time, holds its
connection forever. Here a connection gets `head_timeout_s` for every request head (the first
and each one after a response); then a half-sent head is answered 408 and the connection closed,
an idle one is just closed. The body's own deadline is the app's (web/proxy.py).

No supported setting gives this: uvicorn's options (timeout_keep_alive, h11_max_incomplete_event_size,
limit_concurrency) bound idle time, head size and connections, not the time a head takes; its planned
`--timeout-request-start` (Kludex/uvicorn#157, PR #1685) was never merged; h11 has no clock; and an
ASGI middleware runs only once the head is whole. So this class extends uvicorn's H11Protocol and
reads its internals (handle_events, cycle, on_response_complete, conn.trailing_data), which any
uvicorn release may change. UVICORN_CHECKED is the minor version the page's behaviour tests passed
with (tests/test_web_bad_requests.py and the other test_web_* files); tests/test_web_head_timeout.py
fails on any other, so an upgrade reruns them and moves this number, or drops this class.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

UVICORN_CHECKED = "0.54"

REQUEST_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nRequest Timeout."
)


class H11WithHeadTimeout(H11Protocol):
    head_timeout_s: float = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a whole head arrived: the app's timeouts take over
            self._cancel_head_deadline()

    def on_response_complete(self) -> None:
        # Armed before the base class looks at pipelined requests, which disarm it again.
        self._arm_head_deadline()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        received, _ = self.conn.trailing_data
        if received:
            self.transport.write(REQUEST_TIMEOUT_408)
        self.transport.close()


def with_head_timeout(seconds: float) -> type[H11WithHeadTimeout]:
    """The protocol class for uvicorn.Config(http=...), with this deadline."""
    return type("H11WithHeadTimeout", (H11WithHeadTimeout,), {"head_timeout_s": seconds})
