"""The RDE report's 2-D projection of the regime vectors and its figure (training layer):
PCA fitted on the training split, three panels coloured by future volatility, future trend and
MMD regime (``replay/train/rde_report.py`` describes the figure)."""

from __future__ import annotations

import io
import math

import msgspec
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from components.regime.mmd import N_SETS

__all__ = ["Projection", "pca", "plot"]

_DPI = 100

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Projection(msgspec.Struct, frozen=True, kw_only=True):
    """The two PCA axes of the plot (``latent`` loadings each) and their train variance share."""

    components: list[list[float]]
    explained_variance_ratio: list[float]



def pca(mu: F64, fit: slice) -> tuple[Projection, F64]:
    train = mu[fit]
    mean = train.mean(axis=0)
    _, singular, vt = np.linalg.svd(train - mean, full_matrices=False)
    axes = np.zeros((2, mu.shape[1]))
    used = min(2, vt.shape[0])
    axes[:used] = vt[:used]
    for axis in axes:  # a deterministic sign: the largest loading positive
        if axis[np.argmax(np.abs(axis))] < 0.0:
            axis *= -1.0
    power = singular ** 2
    ratio = np.zeros(2)
    if power.sum() > 0.0:
        ratio[:used] = power[:used] / power.sum()
    return (Projection(components=axes.tolist(), explained_variance_ratio=ratio.tolist()),
            (mu - mean) @ axes.T)


# train, validation, test: marker, size, alpha, edge width
_STYLE = {1: ("o", 6.0, 0.35, 0.0), 2: ("s", 10.0, 0.6, 0.0), 3: ("^", 16.0, 0.85, 0.25)}
_REGIME_COLOURS = ("#8c0b0b", "#d7301f", "#fc8d59", "#8c8c8c", "#74add1", "#2c7bb6",
                   "#08306b")


def _panel(axes: Axes, points: F64, split_of: I64, colour: F64, valid: npt.NDArray[np.bool_],
           cmap: str | ListedColormap, norm: Normalize) -> None:
    missing = ~valid
    axes.scatter(points[missing, 0], points[missing, 1], s=4.0, c="#c0c0c0", marker="o",
                 linewidths=0.0)
    for key, (marker, size, alpha, edge) in _STYLE.items():
        chosen = valid & (split_of == key)
        axes.scatter(points[chosen, 0], points[chosen, 1], s=size, c=colour[chosen],
                     cmap=cmap, norm=norm, marker=marker, alpha=alpha, linewidths=edge,
                     edgecolors="#202020" if edge else "face")


def plot(points: F64, split_of: I64, volatility: F64, trend: F64, regime: I64,
          projection: Projection, horizon: int) -> bytes:
    figure = Figure(figsize=(16.5, 5.2))
    panels = figure.subplots(1, 3)
    valid = np.isfinite(volatility)
    ratio = projection.explained_variance_ratio
    vol_hi = float(np.quantile(volatility[valid], 0.98)) if valid.any() else 1.0
    vol_lo = float(np.quantile(volatility[valid], 0.02)) if valid.any() else 0.0
    span = float(np.quantile(np.abs(trend[valid]), 0.98)) if valid.any() else 1.0
    vol_norm = Normalize(vol_lo, max(vol_hi, vol_lo + 1e-12))
    trend_norm = Normalize(-max(span, 1e-12), max(span, 1e-12))
    categories = ListedColormap(list(_REGIME_COLOURS))
    regime_norm = Normalize(-0.5, N_SETS - 0.5)
    _panel(panels[0], points, split_of, volatility, valid, "viridis", vol_norm)
    _panel(panels[1], points, split_of, trend, valid, "RdBu", trend_norm)
    _panel(panels[2], points, split_of, regime.astype(np.float64), np.ones_like(valid),
           categories, regime_norm)
    titles = (f"future volatility ({horizon} bars)", f"future trend ({horizon} bars, log)",
              "MMD nearest regime (last bar)")
    for axes, title in zip(panels, titles, strict=True):
        axes.set_facecolor("#f0f0f0")  # so that trend near 0 (white) still shows
        axes.set_title(title, fontsize=10)
        axes.set_xlabel(f"PC1 ({ratio[0]:.0%} of train variance)", fontsize=8)
        axes.set_ylabel(f"PC2 ({ratio[1]:.0%})", fontsize=8)
        axes.tick_params(labelsize=7)
    for axes in panels[:2]:  # the last scatter carries the panel's colour map and norm
        figure.colorbar(axes.collections[-1], ax=axes, fraction=0.046,
                        pad=0.02).ax.tick_params(labelsize=7)
    markers = [Line2D([], [], marker=m, linestyle="", color="#404040", alpha=a, label=label,
                      markersize=math.sqrt(s))
               for (m, s, a, _), label in zip(_STYLE.values(),
                                              ("train", "validation", "test"), strict=True)]
    markers.append(Line2D([], [], marker="o", linestyle="", color="#c0c0c0",
                          label="no full horizon", markersize=2.0))
    panels[0].legend(handles=markers, fontsize=7, loc="best")
    names = [Line2D([], [], marker="o", linestyle="", color=colour, markersize=5.0,
                    label=f"{k}{' bearish' if k == 0 else ' bullish' if k == N_SETS - 1 else ''}")
             for k, colour in enumerate(_REGIME_COLOURS)]
    panels[2].legend(handles=names, fontsize=7, loc="best", title="regime", title_fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


