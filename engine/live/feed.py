"""``algospace feed``: a data file published over ZeroMQ, for demos and tests (live layer).

The file is read by the same validating reader as a backtest (rejects are counted, never
published); each row becomes a ``Bar`` (bar data, ``data.bar_interval``) or a ``Tick`` and is
sent as our three-frame message (:mod:`engine.live.wire`) on an XPUB socket. The feed waits for the
first subscription (an XPUB sees it), so a daemon that connects first loses nothing, then
publishes at ``speed`` times real time (the gaps between event times divided by ``speed``) or,
with speed 0, as fast as the socket takes them (sends block at the high-water mark rather than
drop).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import zmq

from engine.core.chunks import BarChunk, TickChunk
from engine.core.errors import EngineError
from engine.core.events import Bar, Event, Tick
from engine.live.wire import encode_message

__all__ = ["FeedStats", "chunk_events", "publish_feed"]


@dataclass
class FeedStats:
    """What the feed sent and how long it took."""

    sent: int = 0
    seconds: float = 0.0


def chunk_events(chunk: BarChunk | TickChunk, instrument: str, timeframe: str
                 ) -> Iterator[Event]:
    """The events of one validated chunk, in order."""
    if isinstance(chunk, TickChunk):
        for t, p, s in zip(chunk.ts.tolist(), chunk.price.tolist(), chunk.size.tolist(),
                           strict=True):
            yield Tick(ts_event=t, ts_init=t, instrument=instrument, price=p, size=s)
        return
    columns = [c.tolist() for c in chunk]
    for o, c, a, h, lo, z, v in zip(*columns, strict=True):
        yield Bar(ts_event=c, ts_init=c, instrument=instrument, timeframe=timeframe, ts_open=o,
                  open=a, high=h, low=lo, close=z, volume=v)


def publish_feed(events: Iterator[Event], address: str, speed: float = 0.0,
                 wait_s: float = 30.0) -> FeedStats:
    """Publish ``events`` on an XPUB bound at ``address`` (module docstring)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, 0)  # unlimited queue: block, never drop
    sock.bind(address)
    try:
        if not sock.poll(int(wait_s * 1000), zmq.POLLIN):
            raise EngineError(f"feed {address}: expected a subscriber within {wait_s:g} s, "
                              "none connected")
        sock.recv()  # the subscription message
        stats = FeedStats()
        started = time.monotonic()
        first_ts: int | None = None
        for event in events:
            if speed > 0:
                if first_ts is None:
                    first_ts = event.ts_event
                due = started + (event.ts_event - first_ts) / 1e9 / speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            sock.send_multipart(encode_message(event))
            stats.sent += 1
        stats.seconds = time.monotonic() - started
        return stats
    finally:
        sock.close(linger=-1)  # return only once every queued message went out
