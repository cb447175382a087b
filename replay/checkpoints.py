"""What every trainer writes into its run directory (training layer): the checkpoint, replaced
atomically, and the per-step metrics as JSON and CSV."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_checkpoint", "write_metrics"]


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
