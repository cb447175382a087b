"""What every trainer writes into its run directory (training layer): the checkpoint, replaced
atomically, and the per-step metrics as JSON and CSV; and the state the PPO trainers carry
across checkpoints (:class:`PolicyRun`)."""

from __future__ import annotations

import copy
import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.core.errors import ModelError

__all__ = ["PolicyRun", "save_checkpoint", "write_metrics"]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, then rename over ``path`` (a crash leaves the
    previous checkpoint whole)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def write_metrics(run_dir: Path, metrics: list[dict[str, Any]]) -> None:
    """``metrics.json`` (every value) and ``metrics.csv`` (the scalar columns, in the order
    they first appear; a row without a column leaves it empty)."""
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    flat = [{k: v for k, v in m.items() if not isinstance(v, list)} for m in metrics]
    if flat:
        keys = list(dict.fromkeys(k for row in flat for k in row))
        with (run_dir / "metrics.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(flat)


@dataclass
class PolicyRun:
    """What a PPO trainer carries across iterations and checkpoints: the network, its
    optimiser, the rollout sampler and minibatch shuffler, the best weights so far and the
    metrics. :meth:`save` writes all of it with the global torch RNG; :meth:`resume` loads it
    back, refusing a checkpoint of another config or data set (``fingerprint``)."""

    model: nn.Module
    optimiser: torch.optim.Optimizer
    sampler: torch.Generator
    shuffle: torch.Generator
    fingerprint: str
    best_state: dict[str, Any] = field(default_factory=dict)
    best_val: float = -math.inf
    best_it: int = 0
    metrics: list[dict[str, Any]] = field(default_factory=list)
    iteration: int = 0

    def __post_init__(self) -> None:
        if not self.best_state:
            self.best_state = copy.deepcopy(self.model.state_dict())

    def resume(self, path: Path) -> None:
        """Load the state :meth:`save` wrote to ``path`` (same config and data only)."""
        state = torch.load(path, weights_only=False)
        if state.get("fingerprint", "") != self.fingerprint:
            raise ModelError(f"{path}: expected a checkpoint of the same config and data "
                             f"({self.fingerprint[:16]}), was {state.get('fingerprint', '')[:16]}")
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.sampler.set_state(state["sampler"])
        self.shuffle.set_state(state["shuffle"])
        torch.set_rng_state(state["global_rng"])
        self.best_state, self.best_val, self.best_it = (state["best_state"], state["best_val"],
                                                        state["best_it"])
        self.metrics, self.iteration = state["metrics"], state["iteration"]

    def consider(self, score: float, iteration: int) -> None:
        """Keep the current weights if ``score`` beats the best so far."""
        if score > self.best_val:
            self.best_val, self.best_it = score, iteration
            self.best_state = copy.deepcopy(self.model.state_dict())

    def save(self, path: Path, run_dir: Path, iteration: int) -> None:
        """Checkpoint everything after ``iteration``; write the metrics files."""
        self.iteration = iteration
        save_checkpoint(path, {
            "model": self.model.state_dict(), "optimiser": self.optimiser.state_dict(),
            "sampler": self.sampler.get_state(), "shuffle": self.shuffle.get_state(),
            "global_rng": torch.get_rng_state(), "best_state": self.best_state,
            "best_val": self.best_val, "best_it": self.best_it, "metrics": self.metrics,
            "iteration": iteration, "fingerprint": self.fingerprint})
        write_metrics(run_dir, self.metrics)

    def finish(self) -> None:
        """Load the best weights, eval mode."""
        self.model.load_state_dict(self.best_state)
        self.model.eval()
