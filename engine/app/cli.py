"""The ``algospace`` command line (application layer).

Subcommands: ``data`` (inspect, resample), ``backtest``, ``features``, ``train``
(``mmd-reference``, ``rde``, ``mrms``, ``marl``, ``all``), ``models`` (list, show,
verify, export), ``live``, ``feed``, ``replay-journal``, ``sweep``, ``walk-forward``,
``report`` (a backtest run; ``report rde MODEL``).
A subcommand whose issue has not landed yet says so and exits with status 2.
Configuration errors and data errors print one line naming the file, place and value, and exit
with status 1. Every run that writes outputs writes a manifest beside them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import structlog

from engine.app.cli_live import add_live_parsers
from engine.app.cli_models import (
    add_models_parser,
    add_train_mrms_parser,
    add_train_rde_parser,
    report_rde,
    train_mmd_reference_command,
)
from engine.app.cli_research import add_research_parsers
from engine.app.cli_train import add_train_all_parser, add_train_marl_parser
from engine.app.common import DEFAULT_CONFIG, load_args, run_dir
from engine.core.errors import EngineError
from engine.core.logging import set_log_clock
from engine.core.manifest import build_manifest, write_manifest
from engine.core.timeframes import parse_timeframe

__all__ = ["build_parser", "main"]

log = structlog.get_logger(__name__)

_PENDING: dict[str, str] = {}
_PENDING_TRAIN: dict[str, str] = {}
EXIT_ERROR = 1
EXIT_UNAVAILABLE = 2
EXIT_TARGETS_FAILED = 3
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "pending", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except EngineError as exc:
        print(f"algospace: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return _interrupted(args)


#: commands whose run directory is worthless when cut short (the trainers checkpoint and
#: resume, and the live daemon keeps its journal: they handle the interrupt themselves)
_DISCARD_ON_INTERRUPT = frozenset({"backtest", "features", "data", "sweep", "walk-forward",
                                   "report"})


def _interrupted(args: argparse.Namespace) -> int:
    """Ctrl-C: one line, no traceback; the half-written run directories this command created
    are removed (never one that existed before it)."""
    import shutil

    from engine.core.manifest import CREATED_RUN_DIRS

    removed = []
    if args.command in _DISCARD_ON_INTERRUPT:
        for folder in reversed(CREATED_RUN_DIRS):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    where = f"; removed the unfinished {', '.join(removed)}" if removed else ""
    print(f"algospace {args.command}: interrupted{where}", file=sys.stderr)
    return EXIT_INTERRUPTED


class _Version(argparse.Action):
    """``--version``: the package version and, in a checkout, its git revision (computed
    only when asked: it runs git)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from engine.core.manifest import code_version, package_version

        version, revision = package_version(), code_version()
        print(f"algospace {version}" + (f" ({revision})" if revision != version else ""))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="algospace",
        description="AlgoSpace Engine: event-driven backtests, replay training and live signals.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the package version and the source revision, and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="inspect, validate and resample market data")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    inspect = data_commands.add_parser(
        "inspect", help="validate a data file and replay it through the bus: rows, span, gaps, "
        "rejects, bars per timeframe")
    _common_options(inspect)
    inspect.set_defaults(handler=_data_inspect)
    resample = data_commands.add_parser(
        "resample", help="aggregate the configured data to another timeframe (CSV or Parquet)")
    _common_options(resample)
    resample.add_argument("--to", required=True, metavar="TIMEFRAME",
                          help="target timeframe, e.g. 5m, 30m, 4h")
    resample.add_argument("--output", type=Path, metavar="FILE",
                          help="output .csv or .parquet (default: inside the run directory)")
    resample.add_argument("--include-partial", action="store_true",
                          help="also write the last, incomplete bar")
    resample.set_defaults(handler=_data_resample)

    backtest = commands.add_parser(
        "backtest", help="backtest a strategy on the configured data: summary, targets, report")
    _common_options(backtest)
    backtest.add_argument("--strategy", metavar="NAME",
                          help="strategy to run (default: backtest.strategy of the config)")
    backtest.add_argument("--path", choices=("bus", "batch"), default="bus",
                          help="bus: every bar through the event bus (default); batch: the "
                          "same kernels over chunks (strategies with a batch form)")
    backtest.add_argument("--strict", action="store_true",
                          help=f"exit with status {EXIT_TARGETS_FAILED} when a target fails")
    backtest.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                          help="progress bar (default: only on a terminal)")
    backtest.set_defaults(handler=_backtest)

    features = commands.add_parser(
        "features", help="replay the data through every indicator and write one row per fast "
        "and slow bar with all outputs (Parquet)")
    _common_options(features)  # --out: the run directory; the table is features.parquet in it
    features.set_defaults(handler=_features)

    report = commands.add_parser(
        "report", help="print the summary of a finished backtest run directory, or "
        "'report rde MODEL': evaluate a registered RDE on the configured data")
    report.add_argument("run_dir", metavar="RUN_DIR|rde",
                        help="a directory written by 'algospace backtest', or 'rde'")
    report.add_argument("model", nargs="?", metavar="MODEL",
                        help="with 'rde': a version folder or rde/NAME/VERSION")
    _common_options(report)
    report.add_argument("--models-dir", type=Path, metavar="DIR",
                        help="with 'rde': registry root for rde/NAME/VERSION (default: models "
                        "of the working directory, else of this checkout)")
    report.add_argument("--horizon", type=int, metavar="BARS",
                        help="with 'rde': slow bars after each window for its realised "
                        "volatility and trend (default: 24)")
    report.set_defaults(handler=_report)

    _train_parser(commands)
    add_models_parser(commands)
    add_live_parsers(commands, _common_options)
    add_research_parsers(commands, _common_options)
    for name, issue in _PENDING.items():
        pending = commands.add_parser(name, help=f"not available yet (arrives with {issue})")
        pending.set_defaults(handler=_pending(name, issue), pending=True)
    return parser


def _train_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = commands.add_parser("train", help="fit model artifacts on the configured data "
                                "(mmd-reference, rde, mrms, marl, or all in order)")
    # no target: say what exists (exit 2) rather than an argparse usage error
    train.set_defaults(handler=_train_usage, pending=True)
    targets = train.add_subparsers(dest="train_command", metavar="MODEL")
    mmd = targets.add_parser(
        "mmd-reference", help="fit the 7 MMD regime reference sets on the training period "
        "(first 70%% of the slow bars, or up to --until) and save a versioned artifact")
    _common_options(mmd)
    period = mmd.add_mutually_exclusive_group()
    period.add_argument("--train-fraction", type=float, metavar="F",
                        help="train on the first F of the slow bars (default: 0.7)")
    period.add_argument("--until", metavar="TIMESTAMP",
                        help="train on the slow bars closing at or before this ISO 8601 time "
                        "(UTC unless a zone is given)")
    mmd.add_argument("--block-bars", type=int, default=20, metavar="N",
                     help="bars per block clustered into regimes (default: 20)")
    mmd.add_argument("--set-size", type=int, default=200, metavar="N",
                     help="most points kept per reference set (default: 200)")
    mmd.add_argument("--seed", type=int, metavar="N", help="random seed (default: config seed)")
    mmd.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                     help="artifact root (default: models, in the working directory)")
    mmd.add_argument("--name", metavar="NAME",
                     help="artifact name (default: the config file's stem)")
    mmd.set_defaults(handler=train_mmd_reference_command, pending=False)
    add_train_rde_parser(targets, _common_options)
    add_train_mrms_parser(targets, _common_options)
    add_train_marl_parser(targets, _common_options)
    add_train_all_parser(targets, _common_options)
    for name, issue in _PENDING_TRAIN.items():
        pending = targets.add_parser(name, help=f"not available yet (arrives with {issue})")
        pending.set_defaults(handler=_pending(f"train {name}", issue), pending=True)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help=f"TOML config (default: {DEFAULT_CONFIG})")
    parser.add_argument("--data", type=Path, metavar="FILE",
                        help="read this file instead of the config's data.path")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="run directory (default: <output.dir>/<run id>)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest="overrides",
                        help="override a config value, e.g. --set data.bar_interval=1m "
                        "(repeatable; recorded in the manifest and config_id)")


def _pending(name: str, issue: str) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        print(f"algospace {name}: not available yet; it arrives with {issue}.", file=sys.stderr)
        return EXIT_UNAVAILABLE

    return run


def _data_inspect(args: argparse.Namespace) -> int:
    loaded, data_path = load_args(args)
    from engine.wiring.inspect import inspect_replay

    manifest = build_manifest("data inspect", loaded.config, [data_path],
                              seeds={"seed": loaded.config.seed})
    out_dir = run_dir(args, loaded.config, manifest.run_id)
    write_manifest(out_dir, manifest)
    structlog.contextvars.bind_contextvars(run_id=manifest.run_id, config_id=manifest.config_id)
    report = inspect_replay(loaded.config, data_path, out_dir)
    (out_dir / "inspect.json").write_bytes(
        msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    print(report.render())
    print(f"run directory: {out_dir}")
    set_log_clock(None)
    return 0


def _data_resample(args: argparse.Namespace) -> int:
    from engine.wiring.resample import resample_file

    try:
        parse_timeframe(args.to)
    except ValueError as exc:
        raise EngineError(f"--to: {exc}") from exc
    loaded, data_path = load_args(args)
    manifest = build_manifest(f"data resample {args.to}", loaded.config, [data_path],
                              seeds={"seed": loaded.config.seed})
    out_dir = run_dir(args, loaded.config, manifest.run_id)
    write_manifest(out_dir, manifest)
    structlog.contextvars.bind_contextvars(run_id=manifest.run_id, config_id=manifest.config_id)
    output = args.output or out_dir / f"{loaded.config.instrument}_{args.to}.csv"
    summary = resample_file(loaded.config, data_path, args.to, output, out_dir,
                            include_partial=args.include_partial)
    print(summary)
    print(f"run directory: {out_dir}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from engine.app.jobs import backtest_job
    from engine.wiring.compare import format_comparison
    from replay.report import format_summary

    loaded, data_path = load_args(args)
    job = backtest_job(loaded, data_path, args.out, path=args.path, progress=args.progress)
    outcome = job.outcome
    print(format_summary(outcome.data))
    if job.comparison is not None:
        tried, n = job.selection_trials, len(job.comparison)
        print(f"\nthe same period, side by side (DSR: {n + tried} trials, the {n} strategies "
              f"and the {tried} configurations the model's selection tried)")
        print(format_comparison(job.comparison))
    if job.diagnostics is not None:
        from replay.train.marl_diagnostics import format_summary as gate_summary

        print(gate_summary(job.diagnostics, "\ngate 1, out of sample"))
    print(f"run directory: {job.out_dir}")
    if "html" in outcome.files:
        print(f"report:        {outcome.files['html']}")
    if args.strict and not outcome.targets_met:
        failed = [t.name for t in outcome.data.targets if not t.passed]
        print(f"algospace backtest: targets failed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_TARGETS_FAILED
    return 0


def _features(args: argparse.Namespace) -> int:
    from engine.wiring.artifacts import load_artifacts
    from engine.wiring.features import write_features

    loaded, data_path = load_args(args)
    cfg = loaded.config
    artifacts = load_artifacts(loaded)
    manifest = build_manifest("features", cfg, [data_path], seeds={"seed": cfg.seed},
                              models=artifacts.model_refs())
    out_dir = run_dir(args, cfg, manifest.run_id)
    write_manifest(out_dir, manifest)
    structlog.contextvars.bind_contextvars(run_id=manifest.run_id, config_id=manifest.config_id)
    report = write_features(cfg, data_path, out_dir / "features.parquet", out_dir / "rejects.csv",
                            artifacts)
    (out_dir / "features.json").write_bytes(
        msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    by_tf = ", ".join(f"{tf}={n:,}" for tf, n in report.rows_by_timeframe.items())
    print(f"features      {report.rows:,} rows ({by_tf}), {len(report.columns)} columns")
    print(f"columns       {', '.join(report.columns)}")
    print(f"written to    {report.path}")
    print(f"run directory: {out_dir}")
    return 0


def _train_usage(_: argparse.Namespace) -> int:
    print("algospace train: expected a model: mmd-reference, rde, mrms, marl, or all (the four "
          "in order)", file=sys.stderr)
    return EXIT_UNAVAILABLE


def _report(args: argparse.Namespace) -> int:
    from replay.report import format_summary, read_summary

    if args.run_dir == "rde":
        return report_rde(args)
    # a run directory's summary is read back as written: these options would change nothing
    unused = [flag for flag, value in (
        ("MODEL", args.model), ("--config", args.config), ("--data", args.data),
        ("--out", args.out), ("--set", args.overrides), ("--models-dir", args.models_dir),
        ("--horizon", args.horizon)) if value]
    if unused:
        verb = "applies" if len(unused) == 1 else "apply"
        raise EngineError(f"report {args.run_dir}: {', '.join(unused)} {verb} to 'report rde' "
                          "only; a run directory is reported as it was written")
    run = Path(args.run_dir)
    summary = run / "summary.json"
    if not summary.is_file():
        raise EngineError(f"{args.run_dir}: expected a backtest run directory with "
                          "summary.json, found none")
    print(format_summary(read_summary(summary)))
    if (run / "comparison.json").is_file():  # a learned strategy's run: its baselines, gate 1
        from engine.wiring.compare import format_comparison, read_comparison
        from replay.train.marl_diagnostics import format_summary as gate_summary

        rows = read_comparison(run / "comparison.json")
        print("\nthe same period, side by side")
        print(format_comparison(rows))
        gate = run / "diagnostics" / "backtest_summary.json"
        if gate.is_file():
            print(gate_summary(msgspec.json.decode(gate.read_bytes()), "\ngate 1, out of sample"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
