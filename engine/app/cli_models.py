"""``algospace train rde``, ``algospace models ...`` and ``algospace report rde``
(application layer).

Torch is imported only inside these commands, so the others start fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
import structlog

from engine.core.errors import EngineError, ModelError
from engine.core.manifest import build_manifest, write_manifest

__all__ = ["EXIT_INTERRUPTED", "add_models_parser", "add_train_mrms_parser",
           "add_train_rde_parser", "format_comparison", "models_dir_of", "report_rde",
           "train_mrms_command", "train_rde_command"]

log = structlog.get_logger(__name__)

EXIT_INTERRUPTED = 130
EXPORT_CHECK_WINDOWS = 16


def add_train_rde_parser(targets: argparse._SubParsersAction[argparse.ArgumentParser],
                         common: Callable[[argparse.ArgumentParser], None]) -> None:
    """``algospace train rde``."""
    rde = targets.add_parser(
        "rde", help="train the Regime Detection Engine (Transformer + VAE) on the regime "
        "matrices of the training split and register it")
    common(rde)
    rde.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue the interrupted run in RUN_DIR from its last checkpoint "
                     "(same config and data); the final weights equal an uninterrupted run's")
    rde.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                     help="registry root (default: models, in the working directory)")
    rde.add_argument("--name", metavar="NAME",
                     help="model name (default: the config file's stem)")
    rde.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar (default: only on a terminal)")
    rde.set_defaults(handler=train_rde_command, pending=False)


def add_train_mrms_parser(targets: argparse._SubParsersAction[argparse.ArgumentParser],
                          common: Callable[[argparse.ArgumentParser], None]) -> None:
    """``algospace train mrms``."""
    mrms = targets.add_parser(
        "mrms", help="train the M-RMS risk model with PPO on the training split's real "
        "setups, compare it with fixed rules on the validation and test splits, register it")
    common(mrms)
    mrms.add_argument("--resume", type=Path, metavar="RUN_DIR",
                      help="continue the interrupted run in RUN_DIR from its last checkpoint")
    mrms.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                      help="registry root (default: models, in the working directory)")
    mrms.add_argument("--name", metavar="NAME",
                      help="model name (default: the config file's stem)")
    mrms.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="progress bar (default: only on a terminal)")
    mrms.set_defaults(handler=train_mrms_command, pending=False)


def add_models_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``algospace models list|show|verify|export``."""
    models = commands.add_parser("models", help="list, show, verify and export registered "
                                 "models and fitted artifacts")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--models-dir", type=Path, metavar="DIR",
                      help="registry root (default: models of the working directory, else of "
                      "this checkout)")
    listing = actions.add_parser("list", parents=[root], help="every artifact under the root")
    listing.set_defaults(handler=_models_list)
    show = actions.add_parser("show", parents=[root], help="print an artifact's manifest")
    show.add_argument("model", metavar="MODEL",
                      help="a version folder, or KIND/NAME/VERSION under --models-dir")
    show.set_defaults(handler=_models_show)
    verify = actions.add_parser("verify", parents=[root], help="load and verify artifacts "
                                "(hashes, shapes); exit 1 when any fails")
    verify.add_argument("model", nargs="*", metavar="MODEL",
                        help="version folders or KIND/NAME/VERSION (default: all)")
    verify.set_defaults(handler=_models_verify)
    export = actions.add_parser(
        "export", parents=[root], help="export an RDE's inference graph (window -> mu, "
        "log_var) to ONNX and check it against torch (needs the [onnx] extra)")
    export.add_argument("model", metavar="MODEL", help="an RDE version folder or "
                        "rde/NAME/VERSION")
    export.add_argument("--output", type=Path, metavar="FILE.onnx",
                        help="output file (default: model.onnx in the version folder)")
    export.add_argument("--atol", type=float, default=1e-4, metavar="X",
                        help="largest accepted |onnx - torch| of mu (default: 1e-4)")
    export.set_defaults(handler=_models_export)


def models_dir_of(args: argparse.Namespace) -> Path:
    """``--models-dir``, else ``models`` of the working directory, else of this checkout (as
    the default config is found); ModelError when it is not a directory."""
    from engine.app.common import default_models_dir

    root = Path(args.models_dir) if args.models_dir is not None else default_models_dir()
    if not root.is_dir():
        raise ModelError(f"--models-dir: expected a directory of registered models, "
                         f"{root} is none")
    return root


def _resolve_arg(args: argparse.Namespace, text: str) -> Path:
    """A version folder or file named directly, else KIND/NAME/VERSION under the models dir."""
    path = Path(text)
    if (path / "manifest.json").is_file() or path.name in ("weights.pt", "reference.msgpack"):
        return path
    return _resolve(models_dir_of(args), text)


def _resolve(models_dir: Path, text: str) -> Path:
    path = Path(text)
    if (path / "manifest.json").is_file() or path.name in ("weights.pt", "reference.msgpack"):
        return path
    candidate = models_dir / text
    if (candidate / "manifest.json").is_file():
        return candidate
    raise ModelError(f"{text}: expected a model version folder or KIND/NAME/VERSION under "
                     f"{models_dir}, found neither")


def _kind(folder: Path) -> str:
    try:
        raw = msgspec.json.decode((folder / "manifest.json").read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise ModelError(f"{folder / 'manifest.json'}: expected a manifest, {exc}") from exc
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return str(kind)


def _verify(folder: Path) -> str:
    """Load ``folder`` with every check of its kind; a one-line description."""
    kind = _kind(folder)
    if kind == "mmd_reference":
        from engine.wiring.references import load_reference

        ref = load_reference(folder)
        return (f"mmd_reference/{ref.name}/{ref.version}  {ref.manifest.instrument} "
                f"{ref.manifest.timeframe}  period to {ref.manifest.period.end}  sha256 ok")
    from engine.wiring.registry import load_model

    model = load_model(folder)
    m = model.manifest
    return (f"{model.label}  {m.instrument} {m.timeframe}  {m.parameters:,} parameters, "
            f"{len(m.shapes)} tensors  sha256 and shapes ok")


def _models_list(args: argparse.Namespace) -> int:
    from engine.wiring.registry import find_artifacts

    root = models_dir_of(args)
    folders = find_artifacts(root)
    if not folders:
        print(f"no artifacts under {root}")
        return 0
    print(f"{'kind':<14} {'name':<14} {'version':<13} {'trained to (data clock)':<25} detail")
    for folder in folders:
        try:
            raw = msgspec.json.decode((folder / "manifest.json").read_bytes())
        except msgspec.DecodeError:
            print(f"{folder}: unreadable manifest.json")
            continue
        kind = raw.get("kind", "?")
        if kind == "mmd_reference":
            until, detail = raw["period"]["end"], f"{raw['instrument']} {raw['timeframe']}"
        else:
            metrics = raw.get("metrics", {})
            until = raw.get("created", "")
            detail = (f"{raw.get('instrument')} {raw.get('timeframe')}  "
                      f"test recon {metrics.get('test_recon', float('nan')):.4f}")
        print(f"{kind:<14} {raw.get('name', '?'):<14} {raw.get('version', '?'):<13} "
              f"{until:<25} {detail}")
    return 0


def _models_show(args: argparse.Namespace) -> int:
    folder = _resolve_arg(args, args.model)
    if folder.is_file():
        folder = folder.parent
    raw = msgspec.json.decode((folder / "manifest.json").read_bytes())
    shapes = raw.pop("shapes", None) if isinstance(raw, dict) else None
    print(msgspec.json.format(msgspec.json.encode(raw, order="sorted"), indent=2).decode())
    if shapes:
        print("shapes:")
        for key, shape in shapes.items():
            print(f"  {key:<48} {tuple(shape)}")
    return 0


def _models_verify(args: argparse.Namespace) -> int:
    from engine.wiring.registry import find_artifacts

    targets = ([_resolve_arg(args, m) for m in args.model] if args.model
               else find_artifacts(models_dir_of(args)))
    if not targets:
        print(f"no artifacts under {models_dir_of(args)}")
        return 1
    failed = 0
    for folder in targets:
        folder = folder.parent if folder.is_file() else folder
        try:
            print(f"ok    {_verify(folder)}")
        except ModelError as exc:
            failed += 1
            print(f"FAIL  {folder}: {exc}")
    print(f"{len(targets) - failed} of {len(targets)} verified")
    return 1 if failed else 0


def _models_export(args: argparse.Namespace) -> int:
    import numpy as np

    from components.regime.model import RegimeModel
    from engine.wiring.registry import load_model
    from replay.train.onnx_export import check_onnx, export_onnx

    folder = _resolve_arg(args, args.model)
    loaded = load_model(folder, kind="rde")
    model = loaded.model
    assert isinstance(model, RegimeModel)
    output = args.output or loaded.path / "model.onnx"
    export_onnx(model, output)
    c = model.config
    # the check compares two implementations of one function, on seeded inputs spanning the
    # regime matrix's range [-1, 1]
    windows = np.random.default_rng(0).uniform(
        -1.0, 1.0, (EXPORT_CHECK_WINDOWS, c.window, c.features)).astype(np.float32)
    diff = check_onnx(model, output, windows, atol=args.atol)
    print(f"exported      {loaded.label} -> {output}")
    print(f"checked       {EXPORT_CHECK_WINDOWS} windows, max |onnx - torch| of mu "
          f"{diff:.2e} (atol {args.atol:g})")
    return 0


class _StopFlag:
    """Set by SIGINT/SIGTERM: the trainer finishes the epoch, checkpoints and returns. A second
    signal ends the process at once."""

    def __init__(self, command: str = "train rde") -> None:
        self.command = command
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\nalgospace {self.command}: {signal.Signals(signum).name} received; stopping "
              "after this step's checkpoint (again to abort now)", file=sys.stderr)

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train_rde_command(args: argparse.Namespace) -> int:
    """``algospace train rde``."""
    from engine.core.progress import EpochProgress
    from replay.train.rde_run import resolve_train_config, run_train_rde

    loaded, data_path, artifacts, out_dir = _start(args, "train rde")
    cfg = loaded.config
    train_config = resolve_train_config(cfg)
    epochs = train_config.epochs
    progress = EpochProgress(epochs, "train rde", enabled=args.progress)

    def on_epoch(row: dict[str, Any]) -> None:
        log.info("rde.epoch", epoch=row["epoch"], train_recon=round(row["losses/train_recon"], 6),
                 val_recon=round(row["losses/val_recon"], 6), kl=round(row["losses/val_kl"], 4),
                 active_units=row["charts/active_units"])
        progress.update(row["epoch"], f"train {row['losses/train_recon']:.4f}  val "
                        f"{row['losses/val_recon']:.4f}  active {row['charts/active_units']}")

    from engine.core.threads import training_threads

    stop = _StopFlag()
    stop.install()
    try:
        with training_threads():  # the one batched trainer: on the cores (engine/core/threads.py)
            run = run_train_rde(cfg, data_path, artifacts, out_dir, args.models_dir,
                                args.name or loaded.path.stem,
                                str(args.data) if args.data else cfg.data.path,
                                resume=args.resume is not None, should_stop=stop,
                                on_epoch=on_epoch)
    finally:
        stop.uninstall()
        progress.close()
    result = run.result
    sizes = {k: len(range(*getattr(run.split, k).indices(run.windows)))
             for k in ("train", "validation", "test")}
    print(f"rde           {run.rows.rows.shape[0]:,} slow bars, {run.windows:,} windows of "
          f"{run.rows.window} ({sizes['train']:,} train, {sizes['validation']:,} validation, "
          f"{sizes['test']:,} test)")
    print(f"epochs        {len(result.metrics)} run, best {result.best_epoch} (validation "
          f"recon {result.best_validation:.5f})"
          + ("; stopped early" if result.early_stopped else ""))
    for key, values in run.evaluation.items():
        print(f"{key:<13} recon {values['recon']:.5f}  kl {values['kl']:.3f}  active units "
              f"{values['active_units']}")
    if run.registered is None:
        return _interrupted("train rde", loaded.path, out_dir)
    _registered(out_dir, run.registered)
    return 0


def _start(args: argparse.Namespace, command: str, *, risk: bool = False
           ) -> tuple[Any, Path, Any, Path]:
    """What every trainer does first: load the config and its artifacts (the M-RMS of
    ``[risk]`` only with ``risk``: the MARL trainer's input), write the run manifest into the
    run directory (a new one, or the ``--resume`` one), bind the log context. The seed
    recorded is the trainer's (``[train.<model>] seed``, default the root ``seed``)."""
    from engine.app.common import load_args as _load
    from engine.wiring.artifacts import load_artifacts
    from replay.train.marl_run import resolve_marl_config
    from replay.train.mrms_run import resolve_mrms_config
    from replay.train.rde_run import resolve_train_config

    loaded, data_path = _load(args)
    cfg = loaded.config
    seed = {"train rde": lambda: resolve_train_config(cfg).seed,
            "train mrms": lambda: resolve_mrms_config(cfg).seed,
            "train marl": lambda: resolve_marl_config(cfg).seed}[command]()
    artifacts = load_artifacts(loaded, risk=risk)
    manifest = build_manifest(command, cfg, [data_path], seeds={"seed": int(seed or 0)},
                              models=artifacts.model_refs())
    out_dir = _resume_dir(args, manifest.run_id, cfg)
    write_manifest(out_dir, manifest)
    structlog.contextvars.bind_contextvars(run_id=manifest.run_id, config_id=manifest.config_id)
    return loaded, data_path, artifacts, out_dir


def _registered(out_dir: Path, reg: Any) -> None:
    """Write the run's ``artifact.json`` and say where the model went."""
    (out_dir / "artifact.json").write_bytes(msgspec.json.format(msgspec.json.encode(
        {"kind": reg.manifest.kind, "name": reg.manifest.name, "version": reg.version,
         "sha256": reg.manifest.sha256, "path": str(reg.path)}), indent=2) + b"\n")
    print(f"registered    {reg.label} -> {reg.path}")
    print(f"run directory: {out_dir}")


def _interrupted(command: str, config: Path, out_dir: Path) -> int:
    print(f"interrupted   checkpoint in {out_dir}; continue with: algospace {command} "
          f"--config {config} --resume {out_dir}", file=sys.stderr)
    print(f"run directory: {out_dir}")
    return EXIT_INTERRUPTED


def _resume_dir(args: argparse.Namespace, run_id: str, cfg: Any) -> Path:
    from engine.app.common import run_dir as _run_dir

    if args.resume is None:
        return _run_dir(args, cfg, run_id)
    if args.out is not None and args.out.resolve() != args.resume.resolve():
        raise EngineError(f"--out: expected no --out with --resume (the run continues in "
                          f"{args.resume}), was {args.out}")
    if not (args.resume / "checkpoint.pt").is_file():
        raise EngineError(f"--resume: expected a run directory with checkpoint.pt, was "
                          f"{args.resume}")
    return Path(args.resume)


def format_comparison(table: dict[str, dict[str, dict[str, float]]]) -> str:
    """The learned-vs-baseline table for the terminal."""
    rows = [("trades", "trades", "{:.0f}"), ("P&L USD", "pnl_usd", "{:,.0f}"),
            ("Sortino/trade", "sortino", "{:.3f}"), ("max DD USD", "max_drawdown_usd", "{:,.0f}"),
            ("limit cuts", "limit_cuts", "{:.0f}"), ("vetoes", "vetoes", "{:.0f}")]
    lines = [f"{'':<15}" + "".join(f"{k + ' ' + side:>22}" for k in table
                                   for side in ("learned", "baseline"))]
    for label, key, spec in rows:
        lines.append(f"{label:<15}" + "".join(
            f"{spec.format(table[k][side][key]):>22}" for k in table
            for side in ("learned", "baseline")))
    return "\n".join(lines)


def train_mrms_command(args: argparse.Namespace) -> int:
    """``algospace train mrms``."""
    from replay.train.mrms_run import resolve_mrms_config, run_train_mrms

    loaded, data_path, artifacts, out_dir = _start(args, "train mrms")
    cfg = loaded.config
    train_config = resolve_mrms_config(cfg)

    def on_iteration(row: dict[str, Any]) -> str:
        if row["iteration"] == 0:  # the full-information pretraining
            log.info("mrms.pretrained", utility=round(row["pretrain/utility"], 4),
                     trade_share=round(row["pretrain/trade_share"], 3),
                     validation_sortino=row.get("validation/sortino"))
            return f"pretrained, trades {row['pretrain/trade_share']:.0%} of setups"
        log.info("mrms.iteration", iteration=row["iteration"],
                 sortino=round(row["charts/sortino"], 4), pnl=round(row["charts/pnl"], 1),
                 violations=row["charts/violations"],
                 validation_sortino=row.get("validation/sortino"))
        return f"sortino {row['charts/sortino']:+.3f}  pnl {row['charts/pnl']:+,.0f}"

    run = run_policy_trainer(args, "train mrms", loaded, data_path, artifacts, out_dir,
                             train_config.iterations, run_train_mrms, on_iteration)
    sizes = {k: len(v) for k, v in run.splits.items()}
    print(f"mrms          {sum(sizes.values())} setups with a regime vector ({sizes['train']} "
          f"train, {sizes['validation']} validation, {sizes['test']} test; "
          f"{run.without_regime} before the first regime vector)")
    result = run.result
    print(f"iterations    {len(result.metrics)} run, best {result.best_iteration} (validation "
          f"score {result.best_validation:.3f}: its Sortino with at least "
          f"{train_config.min_trades} trades)")
    return finish_policy_run("train mrms", loaded.path, out_dir, run, format_comparison)


def run_policy_trainer(args: argparse.Namespace, command: str, loaded: Any, data_path: Path,
                       artifacts: Any, out_dir: Path, iterations: int, runner: Any,
                       on_iteration: Callable[[dict[str, Any]], str]) -> Any:
    """Run a PPO trainer (``run_train_mrms``/``run_train_marl``) with a progress bar (its text
    from ``on_iteration``, which also logs) and SIGINT/SIGTERM stopping it after a step."""
    from engine.core.progress import EpochProgress

    cfg = loaded.config
    progress = EpochProgress(iterations, command, enabled=args.progress)

    def step(row: dict[str, Any]) -> None:
        progress.update(row["iteration"], on_iteration(row))

    stop = _StopFlag(command)
    stop.install()
    try:
        return runner(cfg, data_path, artifacts, out_dir, args.models_dir,
                      args.name or loaded.path.stem,
                      str(args.data) if args.data else cfg.data.path,
                      resume=args.resume is not None, should_stop=stop, on_iteration=step)
    finally:
        stop.uninstall()
        progress.close()


def finish_policy_run(command: str, config: Path, out_dir: Path, run: Any,
                      table: Callable[[Any], str]) -> int:
    """After a PPO trainer: the resume hint when interrupted; else the comparison (printed
    and in ``comparison.json``) and the registered model."""
    if run.registered is None:
        return _interrupted(command, config, out_dir)
    print(table(run.table))
    (out_dir / "comparison.json").write_bytes(msgspec.json.format(
        msgspec.json.encode(run.table), indent=2) + b"\n")
    _registered(out_dir, run.registered)
    return 0


def report_rde(args: argparse.Namespace) -> int:
    """``algospace report rde MODEL``: replay the config's data and evaluate the model."""
    from components.assemblers import RegimeAssemblerConfig
    from components.regime.model import RegimeModel
    from engine.app.common import load_args as _load
    from engine.app.common import run_dir as _run_dir
    from engine.wiring.artifacts import load_artifacts
    from engine.wiring.registry import load_model
    from replay.train.rde_data import collect_regime_rows, split_windows
    from replay.train.rde_report import format_rde_report, rde_report

    if args.model is None:
        raise EngineError("report rde: expected a model (a version folder or rde/NAME/VERSION)")
    loaded_model = load_model(_resolve_arg(args, args.model), kind="rde")
    loaded, data_path = _load(args)
    cfg = loaded.config
    artifacts = load_artifacts(loaded, risk=False)
    m = loaded_model.manifest
    mmd = artifacts.mmd
    if mmd is None or m.inputs.get("mmd_reference") != f"{mmd.name}/{mmd.version}":
        have = "none" if mmd is None else f"{mmd.name}/{mmd.version}"
        raise ModelError(f"{loaded.path}: indicators.mmd: {loaded_model.label} reads the MMD "
                         f"features of reference {m.inputs.get('mmd_reference')}, the config "
                         f"names {have}")
    model = loaded_model.model
    assert isinstance(model, RegimeModel)
    manifest = build_manifest("report rde", cfg, [data_path], seeds={"seed": m.seed},
                              models=[*artifacts.model_refs()])
    out_dir = _run_dir(args, cfg, manifest.run_id)
    write_manifest(out_dir, manifest)
    span = int(m.training.get("span", 200))
    rows = collect_regime_rows(cfg, data_path, artifacts, RegimeAssemblerConfig(
        timeframe=cfg.timeframes.slow, window=model.config.window, span=span))
    windows, _ = rows.windows()
    fractions = tuple(m.training.get("fractions", cfg.train.fractions))
    split = split_windows(windows.shape[0], rows.window, (float(fractions[0]),
                                                          float(fractions[1])))
    report = rde_report(model, rows, split, out_dir,
                        horizon=24 if args.horizon is None else args.horizon)
    print(format_rde_report(report))
    print(f"run directory: {out_dir}")
    return 0


def train_mmd_reference_command(args: argparse.Namespace) -> int:
    """``algospace train mmd-reference``."""
    from engine.app.common import load_args, run_dir
    from engine.wiring.references import format_fit, parse_until
    from replay.train.mmd_fit import FitParams
    from replay.train.mmd_reference import fit_mmd_reference, save_reference

    until_ns = parse_until(args.until) if args.until is not None else None
    loaded, data_path = load_args(args)
    cfg = loaded.config
    params = FitParams(block_bars=args.block_bars, set_size=args.set_size,
                       seed=cfg.seed if args.seed is None else args.seed)
    manifest = build_manifest("train mmd-reference", cfg, [data_path],
                              seeds={"seed": params.seed})
    out_dir = run_dir(args, cfg, manifest.run_id)
    write_manifest(out_dir, manifest)
    structlog.contextvars.bind_contextvars(run_id=manifest.run_id, config_id=manifest.config_id)
    fit, procedure = fit_mmd_reference(cfg, data_path, params, train_fraction=args.train_fraction,
                                       until_ns=until_ns, rejects_path=out_dir / "rejects.csv")
    artifact = save_reference(fit, procedure, args.models_dir, args.name or loaded.path.stem,
                              str(args.data) if args.data else cfg.data.path)
    (out_dir / "artifact.json").write_bytes(msgspec.json.format(msgspec.json.encode(
        {"kind": "mmd_reference", "name": artifact.name, "version": artifact.version,
         "sha256": artifact.sha256, "path": str(artifact.path)}), indent=2) + b"\n")
    print(format_fit(artifact))
    print(f"run directory: {out_dir}")
    return 0
