"""``algospace sweep`` and ``algospace walk-forward`` (application layer).

Both read the data set once, run their tasks on Ray (a local instance with this machine's
cores by default, ``--address`` to join a cluster) or, with ``--backend serial``, one after
another in this process, and write a manifest, the results and the reports into the run
directory. Tasks that fail every attempt are listed and make the command exit with status 4.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import structlog

from engine.core.errors import EngineError
from engine.core.logging import configure_logging
from engine.research.folds import SELECT_METRICS

if TYPE_CHECKING:  # the commands import them; building the parser (--help) does not
    from engine.research.executor import Backend
    from engine.research.wf_select import Candidate
    from engine.wiring.dataset import Dataset
    from engine.wiring.schema import AppConfig, LoadedConfig

__all__ = ["EXIT_TASKS_FAILED", "add_research_parsers"]

EXIT_TASKS_FAILED = 4

log = structlog.get_logger(__name__)


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", metavar="NAME",
                        help="strategy to run (default: backtest.strategy of the config)")
    parser.add_argument("--backend", choices=("ray", "serial"), default="ray",
                        help="ray: tasks on Ray (default; needs the [distributed] extra); "
                        "serial: one after another in this process")
    parser.add_argument("--address", metavar="ADDR",
                        help="join the Ray cluster at ADDR (host:port, or 'auto' for the one "
                        "this machine belongs to) instead of starting a local one")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="cores of the local Ray (default: every core)")
    parser.add_argument("--retries", type=int, default=1, metavar="N",
                        help="run a failed task again up to N times (default: 1)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: only on a terminal)")


def add_research_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                         common: Callable[[argparse.ArgumentParser], None]) -> None:
    """``sweep`` and ``walk-forward``."""
    sweep = commands.add_parser(
        "sweep", help="backtest every trial of a parameter grid (or a random draw from it) on "
        "the configured data: results table, heatmaps, deflated Sharpe ratio of the best")
    common(sweep)
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=VALUES",
                       required=True,
                       help="a config key and its values: V1,V2,... or A:B:STEP; with --random "
                       "also uniform:A:B, loguniform:A:B, randint:A:B (repeatable)")
    sweep.add_argument("--random", type=int, metavar="N",
                       help="random search: N trials drawn from the space (default: the full "
                       "grid)")
    sweep.add_argument("--seed", type=int, metavar="N",
                       help="seed of the random draw (default: the config's seed)")
    sweep.add_argument("--path", choices=("bus", "batch"), default="bus",
                       help="bus: every bar through the event bus (default); batch: the same "
                       "kernels over chunks, identical results, for strategies with a batch "
                       "form (sma_cross, buy_hold)")
    sweep.add_argument("--top", type=int, default=10, metavar="N",
                       help="trials shown in the table (default: 10)")
    _backend_options(sweep)
    sweep.set_defaults(handler=sweep_command)

    walk = commands.add_parser(
        "walk-forward", help="refit the strategy's models on each fold's training window, "
        "backtest its test window, stitch the out-of-sample results")
    common(walk)
    walk.add_argument("--folds", type=int, required=True, metavar="N", help="number of folds")
    walk.add_argument("--train", required=True, metavar="DURATION",
                      help="training window, e.g. 180d, 26w, 2000h (anchored: the first one)")
    walk.add_argument("--test", metavar="DURATION",
                      help="test window (default: the span after the first training window, "
                      "split into N)")
    walk.add_argument("--gap", default="0h", metavar="DURATION",
                      help="embargo between a training window's end and its test window "
                      "(default: 0h)")
    walk.add_argument("--mode", choices=("rolling", "anchored"), default="rolling",
                      help="rolling: training windows of --train before each test window "
                      "(default); anchored: from the first row")
    walk.add_argument("--grid", action="append", default=[], metavar="KEY=VALUES",
                      help="walk-forward optimisation: choose each fold's parameters among "
                      "these trials on its training window (as sweep --grid; repeatable)")
    walk.add_argument("--random", type=int, metavar="N",
                      help="with --grid: N trials drawn from it instead of the full grid")
    walk.add_argument("--seed", type=int, metavar="N",
                      help="seed of the random draw (default: the config's seed)")
    walk.add_argument("--select", default="sharpe", choices=SELECT_METRICS,
                      help="the in-sample figure a fold's trial is chosen by (default: sharpe)")
    walk.add_argument("--strict", action="store_true",
                      help="exit with status 3 when a combined target fails")
    _backend_options(walk)
    walk.set_defaults(handler=walk_forward_command)


def _dataset(args: argparse.Namespace, command: str
             ) -> tuple[LoadedConfig, Path, Dataset, Path]:
    from engine.app.common import load_args as _load
    from engine.app.common import run_dir as _run_dir
    from engine.core.manifest import build_manifest, write_manifest
    from engine.wiring.dataset import load_dataset

    loaded, data_path = _load(args)
    cfg = loaded.config
    if cfg.logging.level == "info":  # a line per trial and fold would bury the results
        configure_logging(cfg.logging.json, "warning")
    manifest = build_manifest(command, cfg, [data_path], seeds={"seed": cfg.seed})
    out_dir = _run_dir(args, cfg, manifest.run_id)
    write_manifest(out_dir, manifest)
    structlog.contextvars.bind_contextvars(run_id=manifest.run_id, config_id=manifest.config_id)
    started = time.perf_counter()
    data = load_dataset(cfg, data_path, out_dir / "rejects.csv")
    print(f"data          {data.rows:,} rows of {data_path.name} read once "
          f"({data.rejected:,} rejected, {data.repaired:,} repaired) in "
          f"{time.perf_counter() - started:.1f} s")
    return loaded, data_path, data, out_dir


def _backend(args: argparse.Namespace, config: AppConfig) -> Backend:
    from engine.research.executor import make_backend

    if args.retries < 0:
        raise EngineError(f"--retries: expected 0 or more, was {args.retries}")
    level = "debug" if config.logging.level == "debug" else "warning"
    backend = make_backend(args.backend, args.address, args.workers, level)
    where = ("this process" if backend.name == "serial" else
             f"{args.address or 'a local Ray'}, {backend.workers} workers")
    print(f"backend       {backend.name} ({where})")
    return backend


def sweep_command(args: argparse.Namespace) -> int:
    """``algospace sweep``."""
    from engine.research.search import grid_size, grid_trials, parse_space, random_trials
    from engine.research.sweep import plan_sweep, run_sweep
    from engine.research.sweep_report import format_sweep, write_sweep

    try:
        space = parse_space(args.grid)
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    if args.random is None and args.seed is not None:
        raise EngineError("--seed: seeds the random draw; expected --random N with it")
    grid = " ".join(f"--grid {g}" for g in args.grid)
    drawn = "" if args.random is None else f" --random {args.random} --seed {args.seed}"
    loaded, _, data, out_dir = _dataset(args, f"sweep {grid}{drawn} --path {args.path}")
    seed = loaded.config.seed if args.seed is None else args.seed
    try:
        trials = (grid_trials(space) if args.random is None
                  else random_trials(space, args.random, seed))
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    plan = plan_sweep(loaded, args.overrides, trials, data, args.path)
    refs = {(r.name, r.version): r for a in plan.shared.artifacts.values()
            for r in a.model_refs()}
    if refs:  # the fitted models the trials decide with, in the run's manifest
        from engine.core.manifest import RunManifest, write_manifest

        manifest = msgspec.json.decode((out_dir / "manifest.json").read_bytes(),
                                       type=RunManifest)
        write_manifest(out_dir, msgspec.structs.replace(
            manifest, models=[refs[k] for k in sorted(refs)]))
    kind = (f"grid of {' x '.join(p.key for p in space)}" if args.random is None else
            f"random draw, seed {seed}, from {' x '.join(p.key for p in space)}"
            + (f" ({grid_size(space):,}-point grid)" if all(p.kind == "values" for p in space)
               else ""))
    print(f"sweep         {len(trials):,} trials ({kind}); {len(plan.invalid)} invalid")
    backend = _backend(args, loaded.config)
    started = time.perf_counter()
    try:
        rows, summary = run_sweep(plan, backend, args.retries, args.progress)
    finally:
        backend.close()
    seconds = time.perf_counter() - started
    files = write_sweep(out_dir, rows, summary, space)
    print(f"ran           {summary.run} trials in {seconds:.1f} s "
          f"({60 * summary.run / max(seconds, 1e-9):.1f} trials/min); {summary.ok} ok, "
          f"{summary.failed} failed")
    print(format_sweep(rows, summary, args.top))
    print("results       " + ", ".join(str(p) for p in files.values()))
    print(f"run directory: {out_dir}")
    return EXIT_TASKS_FAILED if summary.failed else 0


def walk_forward_command(args: argparse.Namespace) -> int:
    """``algospace walk-forward``."""
    from engine.research.folds import make_folds, parse_duration
    from engine.research.walk_forward import walk_forward
    from engine.research.walk_forward_report import fold_rows, format_folds, write_walk_forward
    from replay.report import format_summary

    try:
        train = parse_duration(args.train, "--train")
        test = None if args.test is None else parse_duration(args.test, "--test")
        gap = 0 if args.gap in ("0", "0h", "0d", "0w") else parse_duration(args.gap, "--gap")
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    grid = "".join(f" --grid {g}" for g in args.grid)
    loaded, _, data, out_dir = _dataset(
        args, f"walk-forward --folds {args.folds} --train {args.train} --test {args.test} "
        f"--gap {args.gap} --mode {args.mode}{grid} --select {args.select}")
    try:
        folds = make_folds(data.first_ns, data.last_ns, args.folds, train, test, args.mode,
                           gap, _bar_step(loaded.config))
    except ValueError as exc:
        raise EngineError(f"{data.source}: {exc}") from exc
    cfg = loaded.config
    candidates = _candidates(args, loaded, data)
    print(f"walk-forward  {len(folds)} {args.mode} folds of {cfg.backtest.strategy}; models "
          + ("refitted on each training window" if _learned(cfg) else "none to fit")
          + (f"; parameters chosen by {args.select} on each training window among "
             f"{len(candidates)} trials" if candidates else ""))
    backend = _backend(args, loaded.config)
    started = time.perf_counter()
    chosen: dict[int, tuple[str, float]] = {}
    try:
        configs = None
        if candidates:
            from engine.research.wf_select import Candidate, select_per_fold, write_selection

            picks, selection = select_per_fold(data, folds, candidates, args.select, backend,
                                               args.retries, args.progress)
            write_selection(out_dir / "selection.csv", selection)
            configs = {k: (c.config if isinstance(c, Candidate) else c)
                       for k, c in picks.items()}
            for r in selection:
                if r.chosen:
                    chosen[r.fold] = (r.params, float(getattr(r, args.select)))
        wf = walk_forward(cfg, data, folds, loaded.path.stem, backend, args.retries,
                          args.progress, configs)
    finally:
        backend.close()
    print(f"ran           {len(folds)} folds in {time.perf_counter() - started:.1f} s")
    files = write_walk_forward(out_dir, cfg, folds, wf, chosen or None)
    rows = fold_rows(folds, wf.folds, chosen or None)
    print(format_folds(rows))
    if chosen:
        ins = [r.in_sample for r in rows if r.status == "ok"]
        outs = [getattr(r, args.select) for r in rows if r.status == "ok"]
        print(f"{args.select:<13} chosen trials: in-sample mean {sum(ins) / max(len(ins), 1):.2f}"
              f", out-of-sample mean {sum(outs) / max(len(outs), 1):.2f} (the drop is the "
              "selection's optimism)")
    if wf.combined is None:
        print(f"algospace walk-forward: {len(wf.failed)} of {len(folds)} folds failed; no "
              "combined result", file=sys.stderr)
        print(f"run directory: {out_dir}")
        return EXIT_TASKS_FAILED
    print()
    print(format_summary(wf.combined))
    print(f"run directory: {out_dir}")
    if "html" in files:
        print(f"report:        {files['html']}")
    if args.strict and not all(t.passed for t in wf.combined.targets):
        return 3
    return 0


def _candidates(args: argparse.Namespace, loaded: LoadedConfig, data: Dataset
                ) -> list[Candidate]:
    """The trials of ``--grid`` as candidates (none without it); invalid ones are listed."""
    from engine.research.search import grid_trials, parse_space, random_trials
    from engine.research.sweep import plan_sweep
    from engine.research.wf_select import Candidate

    if not args.grid:
        if args.random is not None or args.seed is not None:
            raise EngineError("--random/--seed: draw the trials of --grid; expected --grid")
        return []
    if _learned(loaded.config):
        raise EngineError(f"--grid: {loaded.config.backtest.strategy} refits its models on "
                          "each training window; choosing its parameters per fold would fit "
                          "them once per trial (run a sweep per setting instead)")
    try:
        space = parse_space(args.grid)
        seed = loaded.config.seed if args.seed is None else args.seed
        trials = (grid_trials(space) if args.random is None
                  else random_trials(space, args.random, seed))
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    plan = plan_sweep(loaded, args.overrides, trials, data)
    for row in plan.invalid:
        print(f"invalid       #{row.trial} {' '.join(f'{k}={v}' for k, v in row.params.items())}"
              f": {row.error}")
    if not plan.tasks:
        raise EngineError("--grid: every trial is invalid; nothing to choose from")
    return [Candidate(t.index, plan.trials[t.index].params, t.config) for t in plan.tasks]


def _learned(cfg: AppConfig) -> bool:
    from engine.wiring.build import uses_models

    return uses_models(cfg)


def _bar_step(config: AppConfig) -> int:
    """The fold windows' step: the fast bars' interval (a second for ticks' own times), so
    every window starts and ends on a bar boundary."""
    from engine.core.timeframes import parse_timeframe

    return int(parse_timeframe(config.timeframes.fast))
