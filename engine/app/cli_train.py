"""``algospace train marl`` and ``algospace train all`` (wiring layer; the other trainers'
commands are in :mod:`engine.app.cli_models`)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import structlog

from engine.app.cli_models import _start, finish_policy_run, run_policy_trainer

__all__ = ["add_train_all_parser", "add_train_marl_parser", "format_marl_comparison",
           "format_marl_diagnostics",
           "train_all_command", "train_marl_command"]

log = structlog.get_logger(__name__)


def add_train_marl_parser(targets: argparse._SubParsersAction[argparse.ArgumentParser],
                          common: Callable[[argparse.ArgumentParser], None]) -> None:
    """``algospace train marl``."""
    marl = targets.add_parser(
        "marl", help="train the MARL decision core with MAPPO on the training split's real "
        "setups (RDE and M-RMS frozen), compare gate 1 + M-RMS with the M-RMS alone and the "
        "fixed rule on the validation and test splits, register it")
    common(marl)
    marl.add_argument("--resume", type=Path, metavar="RUN_DIR",
                      help="continue the interrupted run in RUN_DIR from its last checkpoint")
    marl.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                      help="registry root (default: models, in the working directory)")
    marl.add_argument("--name", metavar="NAME",
                      help="model name (default: the config file's stem)")
    marl.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="progress bar (default: only on a terminal)")
    marl.set_defaults(handler=train_marl_command, pending=False)


def format_marl_comparison(table: dict[str, dict[str, dict[str, float]]]) -> str:
    """The learned pipeline against the M-RMS alone and the fixed rule, for the terminal."""
    sides = ("marl", "mrms", "baseline")
    rows = [("trades", "trades", "{:.0f}"), ("P&L USD", "pnl_usd", "{:,.0f}"),
            ("Sortino/trade", "sortino", "{:.3f}"), ("max DD USD", "max_drawdown_usd", "{:,.0f}"),
            ("vetoes", "vetoes", "{:.0f}")]
    lines = [f"{'':<15}" + "".join(f"{k[:4] + ' ' + side:>16}" for k in table for side in sides)]
    for label, key, spec in rows:
        lines.append(f"{label:<15}" + "".join(
            f"{spec.format(table[k][side][key]):>16}" for k in table for side in sides))
    lines.append(f"{'gate 1 passed':<15}" + "".join(
        f"{table[k]['marl']['gate1_passed']:>16.0f}{'':>32}" for k in table))
    return "\n".join(lines)


def train_marl_command(args: argparse.Namespace) -> int:
    """``algospace train marl``."""
    from replay.train.marl_run import resolve_marl_config, run_train_marl

    loaded, data_path, artifacts, out_dir = _start(args, "train marl", risk=True)
    train_config = resolve_marl_config(loaded.config)

    def on_iteration(row: dict[str, Any]) -> str:
        if row["iteration"] == 0:  # the full-information pretraining
            log.info("marl.pretrained", team_loss=round(row["pretrain/team_loss"], 4),
                     validation_score=row.get("validation/score"),
                     threshold=row.get("gate/threshold"), min_agree=row.get("gate/min_agree"))
            return "pretrained"
        log.info("marl.iteration", iteration=row["iteration"],
                 episode_r=round(row["charts/episode_r"], 3),
                 take_rate=round(row["charts/take_rate"], 3),
                 value_loss=round(row["losses/value"], 4),
                 validation_score=row.get("validation/score"),
                 threshold=row.get("gate/threshold"), min_agree=row.get("gate/min_agree"))
        return f"R {row['charts/episode_r']:+.2f}  take {row['charts/take_rate']:.2f}"

    run = run_policy_trainer(args, "train marl", loaded, data_path, artifacts, out_dir,
                             train_config.iterations, run_train_marl, on_iteration)
    sizes = {k: len(v) for k, v in run.splits.items()}
    print(f"marl          {sum(sizes.values())} setups with a regime vector and full matrices "
          f"({sizes['train']} train, {sizes['validation']} validation, {sizes['test']} test; "
          f"{run.not_ready} before the matrices were full)")
    result = run.result
    print(f"iterations    {len(result.metrics)} run, best {result.best_iteration} (validation "
          f"P&L {result.best_validation:+,.0f} USD with at least {train_config.min_trades} "
          f"trades; gate 1 calibrated to threshold {result.threshold:.2f}, "
          f"{result.gate.min_agree} of 3 agreeing)")
    code = finish_policy_run("train marl", loaded.path, out_dir, run, format_marl_comparison)
    if run.diagnostics:
        print(format_marl_diagnostics(run.diagnostics))
        print(f"diagnostics   {out_dir / 'diagnostics'}")
    return code


def format_marl_diagnostics(diagnostics: dict[str, dict[str, Any]]) -> str:
    """Per split: the gate-1 summary, the per-agent ablation and the deciders side by side."""
    from replay.train.marl_diagnostics import format_interval as ci
    from replay.train.marl_diagnostics import format_summary

    lines = []
    for split, summary in diagnostics.items():
        lines.append(format_summary(summary, f"gate 1, {split}"))
        ablation = summary["ablation"]
        lines.append("  own input replaced by its training mean: " + ", ".join(
            f"{agent} {int(a['decisions_changed'])} decisions changed "
            f"(|dp| {a['mean_abs_change']:.3f})" for agent, a in ablation.items()))
        lines.append(f"  {'decider':<11} {'taken':>5} {'R taken':>8} {'trades':>6} "
                     f"{'P&L USD':>9}  {'Spearman [95% CI]':<22} {'AUC [95% CI]':<22}")
        for d in summary["deciders"]:
            rank = d["ranking"]
            lines.append(
                f"  {d['name']:<11} {d['taken']:>5} {d['r_taken']:>+8.2f} {d['trades']:>6} "
                f"{d['pnl_usd']:>+9,.0f}  {ci(rank and rank['spearman']):<22} "
                f"{ci(rank and rank['auc']):<22}")
    return "\n".join(lines)


_STAGES = (("mmd-reference", "indicators.mmd.reference", "[indicators.mmd]", "reference"),
           ("rde", "regime.model", "[regime]", "model"),
           ("mrms", "risk.model", "[risk]", "model"),
           ("marl", "marl.model", "[marl]", "model"))


def add_train_all_parser(targets: argparse._SubParsersAction[argparse.ArgumentParser],
                         common: Callable[[argparse.ArgumentParser], None]) -> None:
    """``algospace train all``."""
    every = targets.add_parser(
        "all", help="train the whole pipeline in order: mmd-reference -> rde -> mrms -> marl, "
        "each on the artifacts the previous steps registered")
    common(every)
    every.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                       help="registry root (default: models, in the working directory)")
    every.add_argument("--name", metavar="NAME",
                       help="model name (default: the config file's stem)")
    every.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bars (default: only on a terminal)")
    every.set_defaults(handler=train_all_command, pending=False)


def train_all_command(args: argparse.Namespace) -> int:
    """``algospace train all``: every trainer in order, each reading what the previous ones
    registered (passed on as ``--set`` overrides). Each step runs in ``<out>/<step>/``; run the
    same command with the same ``--out`` again after an interruption: finished steps are
    reused, an interrupted one resumes from its checkpoint. Writes ``<out>/models.toml`` with
    the sections that name the new models."""
    from engine.app.cli_models import (
        EXIT_INTERRUPTED,
        train_mmd_reference_command,
        train_mrms_command,
        train_rde_command,
    )
    from engine.app.common import load_args as _load
    from engine.app.common import run_dir as _run_dir
    from engine.core.manifest import build_manifest, write_manifest

    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "mmd-reference": train_mmd_reference_command, "rde": train_rde_command,
        "mrms": train_mrms_command, "marl": train_marl_command}
    loaded, data_path = _load(args)
    cfg = loaded.config
    manifest = build_manifest("train all", cfg, [data_path], seeds={"seed": cfg.seed})
    out = _run_dir(args, cfg, manifest.run_id)
    write_manifest(out, manifest)
    overrides = list(args.overrides)
    paths: dict[str, str] = {}
    timings: dict[str, float] = {}
    for step, key, _, _ in _STAGES:
        step_dir = out / step
        artifact = step_dir / "artifact.json"
        if not artifact.is_file():
            resume = step_dir if (step_dir / "checkpoint.pt").is_file() else None
            print(f"train all     step {step}" + (" (resuming)" if resume else ""))
            started = time.monotonic()
            code = commands[step](argparse.Namespace(
                config=args.config, data=args.data, out=None if resume else step_dir,
                overrides=list(overrides), models_dir=args.models_dir, name=args.name,
                progress=args.progress, resume=resume, strategy=None, train_fraction=None,
                until=None, block_bars=20, set_size=200, seed=None))
            if code != 0:
                if code == EXIT_INTERRUPTED:
                    print(f"interrupted   continue with: algospace train all --out {out} "
                          f"(and the same --config/--set)", file=sys.stderr)
                return code
            timings[step] = time.monotonic() - started
        else:
            print(f"train all     step {step}: done earlier")
        paths[step] = str(Path(msgspec.json.decode(artifact.read_bytes())["path"]).resolve())
        overrides.append(f"{key}={paths[step]}")
    lines = []
    for step, _, section, field in _STAGES:
        lines += [section, f'{field} = "{paths[step]}"', ""]
    (out / "models.toml").write_text("\n".join(lines))
    for step, seconds in timings.items():
        print(f"took          {step:<14} {seconds / 60:6.1f} min")
    print(f"models        {out / 'models.toml'} (paste into the config, or pass as --set):")
    print("              " + " ".join(f"--set {key}={paths[step]}" for step, key, _, _ in _STAGES))
    print(f"run directory: {out}")
    return 0
