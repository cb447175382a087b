"""How well a score ranks trade outcomes (training layer): Spearman correlation with the R
multiple, ROC AUC for winning trades, paired percentile-bootstrap intervals of both, a plain
L2-regularised logistic-regression baseline, and a text table of the results.

Invariants: everything is deterministic given its inputs and ``seed`` (the bootstrap draws from
``numpy.random.Generator(PCG64(seed))``; the logistic fit uses no randomness at all); undefined
statistics (a constant side, a missing class, too few points) are NaN, never an exception; bad
shapes and non-finite inputs raise ``ValueError("expected X, was Y")`` at the edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from replay.train.rde_stats import rank_average
from replay.train.rde_stats import spearman as rde_spearman

__all__ = ["LogisticBaseline", "RankingRow", "auc", "bootstrap_ci", "ranking_row",
           "ranking_table", "spearman"]

F64 = npt.NDArray[np.float64]
Interval = tuple[float, float, float]

_MAX_ITERATIONS = 100
_GRADIENT_TOLERANCE = 1e-10
_MAX_HALVINGS = 50
_ROUNDING_SLACK = 64 * np.finfo(np.float64).eps


def _vector(name: str, values: npt.ArrayLike) -> F64:
    """Return ``values`` as a finite 1-D float64 array or raise ``ValueError``."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, was {array.ndim}-D {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: expected finite values, was {int((~np.isfinite(array)).sum())}"
                         " non-finite")
    return array


def _labels(name: str, values: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return ``values`` (bool, or numbers in {0, 1}) as a 1-D bool array or raise."""
    raw = np.asarray(values)
    if raw.dtype == np.bool_:
        if raw.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array, was {raw.ndim}-D {raw.shape}")
        return raw
    array = _vector(name, raw)
    if not np.isin(array, (0.0, 1.0)).all():
        bad = array[~np.isin(array, (0.0, 1.0))][0]
        raise ValueError(f"{name}: expected labels in {{0, 1}}, was {float(bad)!r}")
    labels: npt.NDArray[np.bool_] = array == 1.0
    return labels


def _same_length(name: str, a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name}: expected arrays of one length, was {a.shape[0]} and "
                         f"{b.shape[0]}")


def spearman(score: npt.ArrayLike, outcome: npt.ArrayLike) -> float:
    """Return Spearman's rank correlation of ``score`` and ``outcome``.

    Ties share their average rank. The result is NaN when either side is constant or there are
    fewer than 2 points.

    Examples
    --------
    >>> round(spearman([1.0, 2.0, 2.0, 4.0], [10.0, 30.0, 20.0, 40.0]), 6)
    0.948683
    >>> spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    nan
    """
    x, y = _vector("score", score), _vector("outcome", outcome)
    _same_length("spearman", x, y)
    return rde_spearman(x, y)


def auc(score: npt.ArrayLike, win: npt.ArrayLike) -> float:
    """Return the ROC AUC of ``score`` for the boolean label ``win``.

    This is the Mann-Whitney statistic: the fraction of (win, loss) pairs in which the win has
    the higher score, a tie counting 1/2. NaN when either class is missing.

    Examples
    --------
    >>> auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    >>> auc([0.1, 0.2], [True, True])
    nan
    """
    x, w = _vector("score", score), _labels("win", win)
    _same_length("auc", x, w)
    n_win = int(w.sum())
    n_loss = w.size - n_win
    if n_win == 0 or n_loss == 0:
        return math.nan
    # the average-rank sum of the wins counts each tied (win, loss) pair 1/2
    rank_sum = float(rank_average(x)[w].sum())
    return (rank_sum - n_win * (n_win + 1) / 2.0) / (n_win * n_loss)


def bootstrap_ci(stat: Callable[..., float], *arrays: npt.ArrayLike, samples: int = 1000,
                 level: float = 0.95, seed: int = 0) -> Interval:
    """Return ``stat``'s point estimate and its percentile bootstrap interval.

    Every resample draws ``n`` row indices with replacement and applies the same indices to
    every array (paired resampling, along the first axis). Resamples on which the statistic is
    NaN (or infinite) are dropped; if none is finite the bounds are NaN.

    Parameters
    ----------
    stat
        The statistic, called as ``stat(*arrays)`` on the data and on each resample.
    *arrays
        One or more arrays with the same length along their first axis.
    samples
        Number of bootstrap resamples (at least 1).
    level
        Coverage of the two-sided interval, strictly between 0 and 1.
    seed
        Seed of the ``numpy.random.Generator(PCG64(seed))`` that draws the resamples.

    Returns
    -------
    tuple of float
        ``(point, low, high)``.

    Examples
    --------
    >>> x = np.arange(100.0)
    >>> point, low, high = bootstrap_ci(lambda a: float(a.mean()), x, samples=200, seed=1)
    >>> point, bool(low < point < high)
    (49.5, True)
    """
    if not arrays:
        raise ValueError("bootstrap_ci: expected at least one array, was none")
    if samples < 1:
        raise ValueError(f"bootstrap_ci: expected samples >= 1, was {samples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"bootstrap_ci: expected 0 < level < 1, was {level}")
    data = [np.asarray(a) for a in arrays]
    for array in data:
        if array.ndim == 0:
            raise ValueError("bootstrap_ci: expected arrays of at least 1 dimension, was 0-D")
        _same_length("bootstrap_ci", data[0], array)
    point = float(stat(*data))
    n = data[0].shape[0]
    if n == 0:
        return point, math.nan, math.nan
    rng = np.random.Generator(np.random.PCG64(seed))
    indices = rng.integers(0, n, size=(samples, n))
    values = np.array([float(stat(*(a[row] for a in data))) for row in indices])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return point, math.nan, math.nan
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return point, float(low), float(high)


def _sigmoid(eta: F64) -> F64:
    # tanh form: no overflow for large |eta|
    result: F64 = 0.5 * (1.0 + np.tanh(0.5 * eta))
    return result


def _log_loss(eta: F64, y: F64) -> float:
    # sum of log(1 + e^eta) - y * eta, computed without overflow
    return float((np.logaddexp(0.0, eta) - y * eta).sum())


class LogisticBaseline:
    """L2-regularised logistic regression fitted by Newton's method (IRLS) in float64.

    ``fit`` standardises the columns with the training mean and standard deviation (constant
    columns become 0) and minimises the summed log loss plus ``l2 / 2`` times the squared norm
    of the standardised coefficients; the intercept is not penalised. Newton steps are halved
    while they do not decrease the objective. The fit stops when the gradient norm is below
    1e-10 or after 100 iterations. There is no randomness.

    Examples
    --------
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticBaseline().fit(x, [0, 0, 1, 1])
    >>> p = model.predict_proba(x)
    >>> bool(np.all(np.diff(p) > 0)), model.converged
    (True, True)
    """

    def __init__(self) -> None:
        self._mean: F64 | None = None
        self._scale: F64 | None = None
        self._weights: F64 | None = None  # (1 + n_features,): intercept, standardised coefs
        self.n_iterations = 0
        self.converged = False

    def fit(self, x: npt.ArrayLike, y: npt.ArrayLike, l2: float = 1.0) -> LogisticBaseline:
        """Fit the model to rows ``x`` (n, n_features) and labels ``y`` (n,) in {0, 1}.

        Parameters
        ----------
        x
            Finite feature matrix of shape ``(n, n_features)``.
        y
            Labels, bool or numbers in {0, 1}; both classes must occur.
        l2
            Penalty on the standardised coefficients, finite and > 0.

        Returns
        -------
        LogisticBaseline
            ``self``, fitted.
        """
        features = self._matrix(x)
        labels = _labels("y", y).astype(np.float64)
        _same_length("fit", features, labels)
        if not (math.isfinite(l2) and l2 > 0.0):
            raise ValueError(f"fit: expected a finite l2 > 0, was {l2}")
        n_wins = int(labels.sum())
        if n_wins in (0, labels.size):
            raise ValueError(f"fit: expected both classes in y, was {n_wins} of {labels.size} "
                             "positive")
        mean = features.mean(axis=0)
        std = features.std(axis=0)
        self._mean = mean
        self._scale = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0.0)
        design = np.column_stack([np.ones(labels.size), self._standardise(features)])
        penalty = np.full(design.shape[1], float(l2))
        penalty[0] = 0.0  # the intercept is not penalised
        self._weights, self.n_iterations, self.converged = _newton(design, labels, penalty)
        return self

    def predict_proba(self, x: npt.ArrayLike) -> F64:
        """Return P(y = 1) for each row of ``x`` (n, n_features)."""
        weights = self._fitted()
        features = self._matrix(x)
        if features.shape[1] != weights.size - 1:
            raise ValueError(f"predict_proba: expected {weights.size - 1} columns, was "
                             f"{features.shape[1]}")
        return _sigmoid(weights[0] + self._standardise(features) @ weights[1:])

    @property
    def coefficients(self) -> F64:
        """Coefficients on the original (unstandardised) columns, shape ``(n_features,)``."""
        weights = self._fitted()
        assert self._scale is not None
        result: F64 = weights[1:] * self._scale
        return result

    @property
    def intercept(self) -> float:
        """Intercept on the original (unstandardised) columns."""
        weights = self._fitted()
        assert self._mean is not None
        return float(weights[0] - self.coefficients @ self._mean)

    def _fitted(self) -> F64:
        if self._weights is None:
            raise ValueError("expected a fitted LogisticBaseline, was unfitted (call fit first)")
        return self._weights

    def _standardise(self, features: F64) -> F64:
        assert self._mean is not None and self._scale is not None
        result: F64 = (features - self._mean) * self._scale
        return result

    @staticmethod
    def _matrix(x: npt.ArrayLike) -> F64:
        features = np.asarray(x, dtype=np.float64)
        if features.ndim != 2:
            raise ValueError(f"x: expected a 2-D array (n, n_features), was {features.ndim}-D "
                             f"{features.shape}")
        if features.shape[0] == 0 or features.shape[1] == 0:
            raise ValueError(f"x: expected at least 1 row and 1 column, was {features.shape}")
        if not np.isfinite(features).all():
            raise ValueError(f"x: expected finite values, was "
                             f"{int((~np.isfinite(features)).sum())} non-finite")
        return features


def _newton(design: F64, y: F64, penalty: F64) -> tuple[F64, int, bool]:
    """Minimise log loss + penalty/2 * w^2 by damped Newton; return (w, iterations, converged)."""

    def objective(w: F64) -> float:
        return _log_loss(design @ w, y) + 0.5 * float(penalty @ (w * w))

    weights = np.zeros(design.shape[1])
    current = objective(weights)
    iteration = 0
    while True:
        p = _sigmoid(design @ weights)
        gradient = design.T @ (p - y) + penalty * weights
        if float(np.linalg.norm(gradient)) < _GRADIENT_TOLERANCE:
            return weights, iteration, True
        if iteration == _MAX_ITERATIONS:
            return weights, iteration, False
        hessian = (design.T * (p * (1.0 - p))) @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        for _ in range(_MAX_HALVINGS):
            candidate = weights - step
            value = objective(candidate)
            # slack of a few ulps: near the optimum a full step can "raise" it by rounding
            if value <= current + _ROUNDING_SLACK * abs(current):
                break
            step = 0.5 * step
        else:
            # no decrease along the Newton direction: the objective is at its float64 floor
            return weights, iteration, False
        weights, current = candidate, value
        iteration += 1


@dataclass(frozen=True)
class RankingRow:
    """One score's ranking quality: Spearman with the R multiple and AUC for wins.

    ``spearman`` and ``auc`` are ``(point, low, high)`` from :func:`bootstrap_ci`.
    """

    name: str
    n: int
    spearman: Interval
    auc: Interval


def ranking_row(name: str, score: npt.ArrayLike, r_multiple: npt.ArrayLike,
                samples: int = 1000, seed: int = 0) -> RankingRow:
    """Return ``score``'s Spearman with ``r_multiple`` and its AUC for ``r_multiple > 0``.

    Both intervals come from the same paired resamples (one ``seed``).

    Examples
    --------
    >>> row = ranking_row("edge", [0.1, 0.5, 0.3, 0.9], [-1.0, 0.5, -0.2, 2.0], samples=50)
    >>> row.n, row.spearman[0], row.auc[0]
    (4, 1.0, 1.0)
    """
    x, r = _vector("score", score), _vector("r_multiple", r_multiple)
    _same_length("ranking_row", x, r)
    rho = bootstrap_ci(spearman, x, r, samples=samples, seed=seed)
    area = bootstrap_ci(lambda s, m: auc(s, m > 0.0), x, r, samples=samples, seed=seed)
    return RankingRow(name=name, n=int(x.size), spearman=rho, auc=area)


def _figure(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def _cell(interval: Interval) -> str:
    point, low, high = (_figure(v) for v in interval)
    return f"{point} [{low}, {high}]"


def ranking_table(rows: Sequence[RankingRow]) -> str:
    """Return ``rows`` as an aligned plain-text table, figures to 2 decimals, NaN as "n/a".

    Examples
    --------
    >>> nan = float("nan")
    >>> print(ranking_table([RankingRow("edge", 40, (0.31, 0.02, 0.55), (0.7, 0.5, 0.86)),
    ...                      RankingRow("flat", 3, (nan, nan, nan), (0.5, nan, nan))]))
    name   n  Spearman [lo, hi]  AUC [lo, hi]
    edge  40  0.31 [0.02, 0.55]  0.70 [0.50, 0.86]
    flat   3  n/a [n/a, n/a]     0.50 [n/a, n/a]
    """
    header = ("name", "n", "Spearman [lo, hi]", "AUC [lo, hi]")
    body = [(row.name, str(row.n), _cell(row.spearman), _cell(row.auc)) for row in rows]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    lines = []
    for line in (header, *body):
        name, n, rho, area = line
        cells = [name.ljust(widths[0]), n.rjust(widths[1]), rho.ljust(widths[2]), area]
        lines.append("  ".join(cells))
    return "\n".join(lines)
