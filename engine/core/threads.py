"""The engine's thread policy for torch and numba (core layer).

- **Per-event inference runs torch on one intra-op thread** (:data:`INFERENCE_THREADS`). The
  RDE, the M-RMS and the MARL gate each evaluate a few thousand numbers per event; waking a
  second thread costs more than the work, and on a busy machine the default (one thread per
  core) oversubscribes it: the learned BTC backtest took 7 min 43 s with torch's default
  threads beside another process on two cores, 16 s on one thread. The builders of the
  inference components (:func:`engine.wiring.risk.build_decider`,
  :func:`engine.wiring.risk.build_risk_manager`,
  :func:`engine.wiring.features.build_detector`) call :func:`use_inference_threads`, so every
  command
  that runs a learned component (backtest, features, live, replay-journal, sweeps) gets it.
- **The PPO trainers** (M-RMS, MARL) run on one thread as well: their rollouts are per-setup
  inference and their minibatches a few dozen rows (:func:`replay.train.train_mrms.one_thread`).
- **``algospace train rde`` runs on the cores** (:func:`training_threads`: the CPUs this
  process may use, per its affinity mask; its minibatches of 64 windows are the one batched
  workload). Set explicitly, not left to whatever an earlier command in the same process set:
  float reductions split over another number of threads round differently, and a resumed
  run must reproduce the uninterrupted one. Sweeps and walk-forward folds pin each task to
  one thread instead, so results do not depend on the backend
  (:func:`engine.research.trials.torch_threads`).
- **Numba** kernels are compiled without ``parallel=True`` (docs/indicators.md): they never
  start threads, so they cannot oversubscribe either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["INFERENCE_THREADS", "available_cores", "training_threads", "use_inference_threads"]

INFERENCE_THREADS = 1


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def use_inference_threads() -> None:
    """Set torch's intra-op threads to :data:`INFERENCE_THREADS` (imports torch)."""
    import torch

    if torch.get_num_threads() != INFERENCE_THREADS:
        torch.set_num_threads(INFERENCE_THREADS)


@contextmanager
def training_threads() -> Iterator[None]:
    """Torch on every available core while training (restored after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(available_cores())
    try:
        yield
    finally:
        torch.set_num_threads(before)
