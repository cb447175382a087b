"""The MMD reference sets as a versioned artifact: fit, save, load, guard (training layer).

``algospace train mmd-reference`` fits the seven reference sets of the MMD regime features
(:class:`components.regime.mmd.reference.MmdReference`) from a config's real data. The
procedure, deterministic for the same data, parameters and seed:

1. **Training period.** Replay the config's data set through the engine's own pipeline
   (:func:`engine.wiring.pipeline.build_replay_pipeline`) and keep the slow bars
   (``timeframes.slow``) in time order, ``ts_event`` = bar close. The period is the first
   ``floor(train_fraction * n)`` of the ``n`` slow bars (default ``train_fraction`` 0.7,
   chronological, as the 70/15/15 split of model training), or with ``--until TIMESTAMP`` the
   bars with ``ts_event <= until`` (the replay is then flushed at the end of the data, so a bar
   whose bucket ends in a gap at the cut is kept whether or not later rows exist). Nothing
   after the period influences the fit: changing or dropping later bars changes only the data
   file's sha256 recorded in the artifact (and so its version).
2. **Vectors.** ``mmd_vectors_batch_nb(mmd_vectors_init_state(vol_window), high, low, close)``
   on those bars, the kernel code the live component runs (``return``, ``log_return``,
   ``range``, ``volatility``; ``vol_window`` 20); the ``nan`` warm-up rows are dropped.
3. **Normalisation.** Per-dimension mean and population std (ddof 0) of all training vectors;
   a zero std is an error naming the dimension.
4. **Blocks.** Consecutive non-overlapping blocks of ``block_bars`` (default 20) vectors from
   the first one; the incomplete remainder is dropped. Each block is described by its log
   returns (vector column 1): trend = mean, volatility = population std, autocorrelation =
   lag-1 ``sum((x_t - m)(x_{t-1} - m)) / sum((x_t - m)^2)`` (0 when the std is 0). The
   descriptors are z-scored across blocks (population std; a zero std leaves the descriptor
   at 0).
5. **k-means**, K = 7, in plain numpy (distances by broadcast differences, no BLAS product):
   k-means++ seeding (the first seed uniform, each next drawn with probability proportional
   to the squared distance to its nearest seed) from ``numpy.random.default_rng(seed)``, then
   Lloyd iterations until the assignments stop changing (at most 300), ties to the lowest
   cluster index; ``n_init = 10`` restarts drawn from the same generator in sequence, keeping
   the lowest inertia (the first on ties). A restart that empties a cluster is discarded; an
   error says how many blocks the period gave and how long it must be when it has fewer than
   7 blocks (``vol_window + 7 * block_bars`` bars), fewer than 7 distinct ones, or every
   restart empties a cluster.
6. **Order.** Clusters sorted by centroid trend (mean of their blocks' raw descriptors,
   ascending: set 0 the most bearish), ties by volatility; named ``regime_0`` .. ``regime_6``.
7. **Sets.** Each set holds the normalised vectors of all bars of its blocks, in time order;
   above ``set_size`` (default 200) points, ``rng.choice(n, set_size, replace=False)`` (the
   same generator, after k-means, sets in order 0..6) picks which stay, kept in time order.
   Per set: count, blocks, bars, the centroid descriptors in raw units, and the mean and
   population std of its points per dimension.
8. **Bandwidth** by the median heuristic: ``sigma = sqrt(median squared Euclidean distance)``
   over all distinct pairs of the pooled selected points; the kernel is
   ``exp(-d^2 / (2 sigma^2))``.

The artifact is ``<models>/mmd_reference/<name>/<version>/`` with ``reference.msgpack``
(``msgspec.msgpack.encode(reference)``) and ``manifest.json`` (sorted keys; provenance, the
procedure's parameters, per-set counts); ``version`` is the first 12 hex digits of the sha256
of ``reference.msgpack``. Neither file holds a wall-clock time, so the same code, data and seed
give byte-identical files. :func:`load_reference` verifies the sha256 and every field;
:func:`require_out_of_sample` refuses a reference fitted on the period being evaluated.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import msgspec
import numpy as np

from components.regime.mmd.kernels import N_SETS
from engine.core.errors import ModelError
from engine.core.events import Bar, Event
from engine.core.manifest import code_version
from engine.wiring.dataset import DataSource, data_sha256, source_name
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.references import (
    KIND,
    MANIFEST_FILE,
    REFERENCE_FILE,
    LoadedReference,
    ReferenceBars,
    ReferenceData,
    ReferenceManifest,
    ReferencePeriod,
    ReferenceProcedure,
    ReferenceSet,
    load_reference,
)
from engine.wiring.schema import AppConfig
from replay.data.timestamps import format_ns
from replay.train.mmd_fit import N_INIT, FitParams, MmdFit, fit_reference, min_training_bars

__all__ = ["DEFAULT_TRAIN_FRACTION", "fit_mmd_reference", "save_reference"]

DEFAULT_TRAIN_FRACTION = 0.7


def fit_mmd_reference(config: AppConfig, data_path: DataSource, params: FitParams, *,
                      train_fraction: float | None = None, until_ns: int | None = None,
                      rejects_path: Path | None = None) -> tuple[MmdFit, ReferenceProcedure]:
    """Replay ``data_path`` and fit the reference on the training period (procedure steps
    1-8); also return the procedure's parameters for the manifest."""
    if until_ns is not None and train_fraction is not None:
        raise ModelError("train mmd-reference: expected --train-fraction or --until, not both")
    fraction = DEFAULT_TRAIN_FRACTION if train_fraction is None else train_fraction
    if until_ns is None and not 0 < fraction <= 1:
        raise ModelError(f"--train-fraction: expected a value in (0, 1], was {fraction}")
    slow = config.timeframes.slow
    ts, high, low, close = _replay_slow_bars(config, data_path, rejects_path, slow,
                                             flush=until_ns is not None)
    n = int(ts.shape[0])
    if until_ns is None:
        cut, period = math.floor(fraction * n), f"the first {fraction:g} of {n} slow {slow} bars"
    else:
        cut = int(np.searchsorted(ts, until_ns, side="right"))
        period = f"the {slow} bars closing at or before {format_ns(until_ns)} (of {n})"
    need = min_training_bars(params)
    if cut < need:
        blocks = max(cut - params.vol_window, 0) // params.block_bars
        longer = (f"; the data set needs at least {math.ceil(need / fraction)} slow bars"
                  if until_ns is None else "; pass a later --until")
        raise ModelError(
            f"{source_name(data_path)}: training period: expected at least {need} slow bars "
            f"({params.vol_window} warm-up + {N_SETS} blocks x {params.block_bars}), was {cut} "
            f"({period}), which gives {blocks} block{'' if blocks == 1 else 's'}{longer}")
    fit = fit_reference(ts[:cut], high[:cut], low[:cut], close[:cut],
                        instrument=config.instrument, timeframe=slow,
                        data_sha256=data_sha256(data_path), params=params,
                        source=source_name(data_path))
    procedure = ReferenceProcedure(
        train_fraction=None if until_ns is not None else fraction,
        until=None if until_ns is None else format_ns(until_ns), until_ns=until_ns,
        block_bars=params.block_bars, set_size=params.set_size, vol_window=params.vol_window,
        k=N_SETS, n_init=N_INIT, seed=params.seed)
    return fit, procedure


def _replay_slow_bars(config: AppConfig, data_path: DataSource, rejects_path: Path | None,
                      slow: str, flush: bool) -> tuple[np.ndarray, ...]:
    pipeline = build_replay_pipeline(config, data_path, rejects_path)
    rows: list[tuple[int, float, float, float]] = []

    def on_bar(bar: Bar) -> list[Event]:
        if bar.timeframe == slow:
            rows.append((bar.ts_event, bar.high, bar.low, bar.close))
        return []

    pipeline.bus.subscribe_handler(Bar, on_bar, "mmd_reference.slow_bars")
    pipeline.run(flush=flush)
    table = np.array([r[1:] for r in rows], dtype=np.float64).reshape(-1, 3)
    return (np.array([r[0] for r in rows], dtype=np.int64), np.ascontiguousarray(table[:, 0]),
            np.ascontiguousarray(table[:, 1]), np.ascontiguousarray(table[:, 2]))


def save_reference(fit: MmdFit, procedure: ReferenceProcedure, models_dir: Path, name: str,
                   data_label: str) -> LoadedReference:
    """Write ``<models_dir>/mmd_reference/<name>/<version>/`` and return it, loaded back."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
        raise ModelError(f"--name: expected letters, digits, '_', '-' and '.', was {name!r}")
    ref = fit.reference
    payload = msgspec.msgpack.encode(ref)
    sha = hashlib.sha256(payload).hexdigest()
    manifest = ReferenceManifest(
        kind="mmd_reference", format=ref.format, name=name, version=sha[:12], sha256=sha,
        data=ReferenceData(path=data_label, sha256=ref.data_sha256), instrument=ref.instrument,
        timeframe=ref.timeframe,
        period=ReferencePeriod(start_ns=ref.period_start_ns, end_ns=ref.period_end_ns,
                       start=format_ns(ref.period_start_ns), end=format_ns(ref.period_end_ns)),
        bars=ReferenceBars(training=fit.bars, vectors=fit.vectors, blocks=fit.blocks),
        procedure=procedure,
        sets=[ReferenceSet(name=s.name, count=s.count, blocks=s.blocks, bars=s.bars, trend=s.trend,
                   volatility=s.volatility, autocorrelation=s.autocorrelation) for s in ref.sets],
        bandwidth=ref.bandwidth, code_version=code_version())
    out = models_dir / KIND / name / manifest.version
    out.mkdir(parents=True, exist_ok=True)
    (out / REFERENCE_FILE).write_bytes(payload)
    (out / MANIFEST_FILE).write_bytes(
        msgspec.json.format(msgspec.json.encode(manifest, order="sorted"), indent=2) + b"\n")
    return load_reference(out)


