"""Shared pieces of the peer benchmark: input arrays, the reference trades, the comparison.

Imports only numpy and pandas (and the standard library), so the NautilusTrader worker can load
it from its own virtualenv, which has no AlgoSpace engine installed (see docs/benchmarks.md).

The strategy every engine runs (the issue's spec): ``fast`` / ``slow`` are the means of the last
10 / 30 closes including the current bar. A long entry is decided at bar ``i``'s close when
``fast > slow`` at ``i`` and ``fast <= slow`` at ``i - 1`` (all four defined); the long is
closed when ``fast < slow`` at ``i`` and ``fast >= slow`` at ``i - 1``. Long/flat, 1 unit:
an entry signal while long and an exit signal while flat do nothing. A decision at bar ``i``
fills at bar ``i + 1``'s open; a decision at the last bar is not filled; a position still open
at the end is not a trade. No commission, no slippage.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

FAST = 10
SLOW = 30
QUANTITY = 1
COLUMNS = ("ts_open", "ts_close", "open", "high", "low", "close", "volume")


class Trades(NamedTuple):
    """Closed trades as bar indices (of the fill bars) and fill prices, one row per trade."""

    entry_idx: np.ndarray
    entry_price: np.ndarray
    exit_idx: np.ndarray
    exit_price: np.ndarray

    @property
    def count(self) -> int:
        return int(self.entry_idx.shape[0])

    @staticmethod
    def from_rows(rows: list[tuple[int, float, int, float]]) -> Trades:
        if not rows:
            return Trades(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64), np.empty(0))
        ei, ep, xi, xp = zip(*rows, strict=True)
        return Trades(np.asarray(ei, np.int64), np.asarray(ep, np.float64),
                      np.asarray(xi, np.int64), np.asarray(xp, np.float64))

    def to_npz(self, path: Path) -> None:
        np.savez(path, **self._asdict())

    @staticmethod
    def from_npz(path: Path) -> Trades:
        with np.load(path) as f:
            return Trades(*(f[name] for name in Trades._fields))


# --------------------------------------------------------------------------------- input


def load_bars(path: Path) -> dict[str, np.ndarray]:
    """The tiled bars written by ``peers.py`` (one ``.npz`` per bar count)."""
    with np.load(path) as f:
        return {name: f[name] for name in COLUMNS}


# ----------------------------------------------------------------------------- reference


def sma_signals(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fast, slow, up, down): pandas rolling means and the spec's crossings at each bar."""
    fast = pd.Series(close).rolling(FAST).mean().to_numpy()
    slow = pd.Series(close).rolling(SLOW).mean().to_numpy()
    up = np.zeros(close.shape[0], dtype=bool)
    down = np.zeros(close.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):  # NaN comparisons are False, which is the spec
        up[1:] = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1])
        down[1:] = (fast[1:] < slow[1:]) & (fast[:-1] >= slow[:-1])
    return fast, slow, up, down


def trades_from_signals(open_: np.ndarray, up: np.ndarray, down: np.ndarray) -> Trades:
    """Long/flat next-open fills of the decisions ``up`` (enter) and ``down`` (exit)."""
    n = open_.shape[0]
    rows: list[tuple[int, float, int, float]] = []
    entry = -1
    for i in np.flatnonzero(up | down).tolist():
        if i + 1 >= n:
            break
        if entry < 0 and up[i]:
            entry = i + 1
        elif entry >= 0 and down[i]:
            rows.append((entry, float(open_[entry]), i + 1, float(open_[i + 1])))
            entry = -1
    return Trades.from_rows(rows)


def reference(bars: dict[str, np.ndarray]) -> tuple[Trades, dict[str, int]]:
    """The expected trades, and counts that explain where a peer's helper would differ."""
    fast, slow, up, down = sma_signals(bars["close"])
    tie_prev = np.zeros_like(up)
    tie_prev[1:] = fast[:-1] == slow[:-1]
    notes = {
        "up_crosses": int(up.sum()),
        "down_crosses": int(down.sum()),
        "bars_fast_eq_slow": int(np.sum(fast == slow)),
        # Crosses out of an exact tie: backtesting.lib.crossover (strict < at i-1) misses these.
        "up_crosses_from_tie": int(np.sum(up & tie_prev)),
        "down_crosses_from_tie": int(np.sum(down & tie_prev)),
    }
    return trades_from_signals(bars["open"], up, down), notes


# ---------------------------------------------------------------------------- comparison


def compare(expected: Trades, got: Trades) -> dict[str, object]:
    """Whether ``got`` has every expected trade at the same bars and prices, and where not."""
    n = min(expected.count, got.count)
    same = ((expected.entry_idx[:n] == got.entry_idx[:n])
            & (expected.exit_idx[:n] == got.exit_idx[:n])
            & np.isclose(expected.entry_price[:n], got.entry_price[:n], rtol=0, atol=1e-9)
            & np.isclose(expected.exit_price[:n], got.exit_price[:n], rtol=0, atol=1e-9))
    bad = np.flatnonzero(~same)
    first = int(bad[0]) if bad.size else (n if expected.count != got.count else -1)
    out: dict[str, object] = {
        "match": bool(expected.count == got.count and not bad.size),
        "expected_trades": expected.count,
        "trades": got.count,
        "matching_prefix": first if first >= 0 else n,
    }
    if first >= 0:
        out["first_mismatch"] = {
            "trade": first,
            "expected": _row(expected, first),
            "got": _row(got, first),
        }
        both = np.intersect1d(expected.entry_idx, got.entry_idx).size
        out["entries_in_common"] = int(both)
    return out


def _row(trades: Trades, k: int) -> list[float] | None:
    if k >= trades.count:
        return None
    return [int(trades.entry_idx[k]), float(trades.entry_price[k]), int(trades.exit_idx[k]),
            float(trades.exit_price[k])]


# -------------------------------------------------------------------------------- memory


def rss_mb() -> float:
    """Current resident set size of this process (``VmRSS`` from /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (``ru_maxrss``, KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, object]:
    """A short description of the machine the figures were taken on."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem = f"{int(meminfo.read_text().split()[1]) / 1024**2:.0f} GiB"
    return {"cpu": model, "cores": os.cpu_count(), "memory": mem}
