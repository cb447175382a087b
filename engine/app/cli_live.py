"""``algospace live`` and ``algospace feed`` (application layer)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core.events import Event
    from engine.wiring.schema import AppConfig

__all__ = ["add_live_parsers"]


def add_live_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                     common: Callable[[argparse.ArgumentParser], None]) -> None:
    """``algospace live``, ``algospace feed`` and ``algospace replay-journal``."""
    live = commands.add_parser(
        "live", help="the live signal daemon: bars or ticks from a ZeroMQ feed through the "
        "backtest's components, signals and heartbeats published, a control socket")
    common(live)
    live.add_argument("--strategy", metavar="NAME",
                      help="strategy to run (default: backtest.strategy of the config)")
    live.add_argument("--feed", required=True, metavar="ADDR",
                      help="ZeroMQ address of the feed to subscribe to (e.g. tcp://127.0.0.1:5555)")
    live.add_argument("--publish", required=True, metavar="ADDR",
                      help="address to bind the signal PUB socket to")
    live.add_argument("--control", required=True, metavar="ADDR",
                      help="address to bind the control REP socket to (status, snapshot, stop)")
    live.add_argument("--journal", type=Path, metavar="FILE",
                      help="journal file (default: <output.dir>/live/journal.bin); an existing "
                      "one is replayed first (warm restart)")
    live.add_argument("--snapshot", type=Path, metavar="FILE",
                      help="snapshot file (default: the journal's name with .snapshot); a "
                      "valid one is restored first and only the journal after it is replayed")
    live.add_argument("--snapshot-every", type=float, default=60.0, metavar="SECONDS",
                      help="snapshot interval (default: 60; 0: only on stop and on request)")
    live.add_argument("--warmup", type=Path, metavar="FILE",
                      help="history in the config's data format, replayed before going live "
                      "when there is no snapshot to restore (nothing is published for it)")
    live.add_argument("--heartbeat", type=float, default=1.0, metavar="SECONDS",
                      help="heartbeat interval (default: 1)")
    live.add_argument("--fsync", choices=("always", "interval", "never"), default="interval",
                      help="journal durability (default: interval, every second)")
    live.set_defaults(handler=live_command)
    feed = commands.add_parser(
        "feed", help="publish the configured data file over ZeroMQ at N x real time")
    common(feed)
    feed.add_argument("--publish", required=True, metavar="ADDR", help="address to bind")
    feed.add_argument("--speed", type=float, default=0.0, metavar="N",
                      help="N x real time; 0 (default) as fast as possible")
    feed.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                      help="how long to wait for the first subscriber (default: 30)")
    feed.set_defaults(handler=feed_command)

    replay = commands.add_parser(
        "replay-journal", help="run a live journal's inputs through the backtest and compare "
        "its signals one by one (exit 0: identical, 1: diverged; first divergence and cause)")
    replay.add_argument("journal", type=Path, metavar="JOURNAL", help="the daemon's journal")
    common(replay)
    replay.add_argument("--strategy", metavar="NAME",
                        help="strategy (default: backtest.strategy of the config)")
    replay.add_argument("--warmup", type=Path, metavar="FILE",
                        help="the history the daemon warmed up on (live --warmup)")
    replay.set_defaults(handler=replay_journal)


def live_command(args: argparse.Namespace) -> int:
    """``algospace live``."""
    from engine.app.common import load_args as _load
    from engine.live.live import LiveDaemon, LiveSettings
    from engine.wiring.artifacts import Artifacts, load_artifacts
    from engine.wiring.build import learned, uses_models
    from engine.wiring.session import TradingSession

    loaded, _ = _load(args)
    cfg = loaded.config
    artifacts = (load_artifacts(loaded, risk=True, marl=learned(cfg))
                 if uses_models(cfg) else Artifacts())
    journal = args.journal or Path(cfg.output.dir) / "live" / "journal.bin"
    daemon = LiveDaemon(TradingSession(cfg, artifacts),
                        LiveSettings(feed=args.feed, publish=args.publish,
                                     control=args.control, journal=journal,
                                     heartbeat_s=args.heartbeat, fsync=args.fsync,
                                     snapshot=args.snapshot,
                                     snapshot_s=args.snapshot_every),
                        models=[f"{r.name}/{r.version}" for r in artifacts.model_refs()])
    return daemon.run(warmup_batches(cfg, args.warmup) if args.warmup else ())


def warmup_batches(cfg: AppConfig, path: Path) -> Iterator[list[Event]]:
    """The events of a history file, one batch per chunk the reader validated."""
    from engine.live.feed import chunk_events
    from engine.wiring.pipeline import build_replay_pipeline

    pipeline = build_replay_pipeline(cfg, path)
    symbol = cfg.instrument_spec.symbol
    for chunk in pipeline.chunks():
        yield list(chunk_events(chunk, symbol, cfg.data.bar_interval))


def feed_command(args: argparse.Namespace) -> int:
    """``algospace feed``."""
    from engine.app.common import load_args as _load
    from engine.live.feed import chunk_events, publish_feed
    from engine.wiring.pipeline import build_replay_pipeline

    loaded, data_path = _load(args)
    cfg = loaded.config
    pipeline = build_replay_pipeline(cfg, data_path)
    symbol = cfg.instrument_spec.symbol
    events = (e for chunk in pipeline.chunks()
              for e in chunk_events(chunk, symbol, cfg.data.bar_interval))
    stats = publish_feed(events, args.publish, args.speed, args.wait)
    rate = stats.sent / stats.seconds if stats.seconds > 0 else float("inf")
    print(f"feed          {stats.sent:,} events to {args.publish} in {stats.seconds:.2f} s "
          f"({rate:,.0f}/s); {pipeline.rejects.total_rejected} rows rejected by the reader")
    return 0


def replay_journal(args: argparse.Namespace) -> int:
    """``algospace replay-journal``."""
    from engine.app.common import load_args
    from engine.live.replay_journal import replay_journal_command

    loaded, _ = load_args(args)
    return replay_journal_command(args, loaded)
