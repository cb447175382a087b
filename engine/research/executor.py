"""Run independent tasks serially or on Ray, with retries and a progress bar (research layer).

Sweeps and walk-forward folds are many independent runs of one function over one shared data
set. :class:`SerialBackend` runs them in this process, one after another (for debugging, and
where Ray is not installed); :class:`RayBackend` runs them as Ray tasks, on a local Ray started
with this machine's cores or on the cluster at ``address``. Both call the same function on the
same inputs, so they return the same results (tested); each task's result is returned in the
order of the inputs, whatever order they finish in.

The shared object (the data set, fitted models) is put into Ray's object store **once**
(``ray.put``) and every task receives a reference to it; numpy arrays in it are read by the
workers on a node from shared memory without a copy.

A task that raises, or whose worker dies, is run again, up to ``retries`` more times, unless
its error is the engine's own (:class:`~engine.core.errors.EngineError`: a bad config value, data
or model, which would fail the same way again); a task that fails every attempt becomes a
:class:`TaskFailure` (index, attempts, the last error) in the results: reported by the caller,
never dropped. Retries are the driver's, not Ray's
(``max_retries=0`` on the task), so both backends count attempts the same way.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import structlog

from engine.core.errors import EngineError
from engine.core.progress import TaskProgress

__all__ = ["RAY_INSTALL_HINT", "Backend", "RayBackend", "SerialBackend", "TaskFailure",
           "make_backend"]

log = structlog.get_logger(__name__)

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

RAY_INSTALL_HINT = ("Ray is not installed; install the distributed extra with "
                    "pip install 'algospace-engine[distributed]' (in a checkout: "
                    "pip install -e '.[distributed]'), or run with --backend serial")


class TaskFailure(msgspec.Struct, frozen=True, kw_only=True):
    """A task that failed every attempt."""

    index: int
    attempts: int
    error: str


class Backend(Protocol):
    """Runs ``fn(shared, item)`` for every item; ``attempts`` holds, after ``map``, how many
    attempts each item took."""

    name: str
    workers: int
    attempts: list[int]

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T], *, retries: int = 1,
            progress: TaskProgress | None = None) -> list[R | TaskFailure]: ...

    def close(self) -> None: ...


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]


class SerialBackend:
    """Every task in this process, in order."""

    name = "serial"
    workers = 1

    def __init__(self) -> None:
        self.attempts: list[int] = []

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T], *, retries: int = 1,
            progress: TaskProgress | None = None) -> list[R | TaskFailure]:
        """Run ``fn(shared, item)`` for each item (module docstring)."""
        results: list[R | TaskFailure] = []
        self.attempts = []
        for index, item in enumerate(items):
            attempt = 0
            while True:
                attempt += 1
                try:
                    results.append(fn(shared, item))
                    self.attempts.append(attempt)
                    _finished(progress, index, attempt, None)
                    break
                except Exception as exc:  # a task's error is reported, not raised
                    if attempt <= retries and not isinstance(exc, EngineError):
                        _retrying(index, attempt, _describe(exc))
                        continue
                    results.append(TaskFailure(index=index, attempts=attempt,
                                               error=_describe(exc)))
                    self.attempts.append(attempt)
                    _finished(progress, index, attempt, _describe(exc))
                    break
        return results

    def close(self) -> None:
        """Nothing to release."""


def _finished(progress: TaskProgress | None, index: int, attempts: int, error: str | None
              ) -> None:
    if error is None:
        log.debug("task.finished", index=index, attempts=attempts)
    else:
        log.warning("task.failed", index=index, attempts=attempts, error=error)
    if progress is not None:
        progress.update(failed=error is not None)


def _retrying(index: int, attempt: int, error: str) -> None:
    log.warning("task.retrying", index=index, attempt=attempt, error=error)


_MISSING = object()
_LOGGING: list[str] = []


def _in_worker(fn: Callable[[S, T], R], log_level: str, shared: S, item: T) -> R:
    """A task in a Ray worker: the process logs at ``log_level`` (set once; Ray forwards
    the worker's output to the driver's terminal), then ``fn(shared, item)``."""
    if _LOGGING != [log_level]:
        from engine.core.logging import configure_logging

        configure_logging(None, log_level)
        _LOGGING[:] = [log_level]
    return fn(shared, item)


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once, naming the address, when nothing listens at ``HOST:PORT`` (Ray itself
    would retry the connection for minutes)."""
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise EngineError(f"--address: expected HOST:PORT (e.g. 10.0.0.5:6379), 'auto' or a "
                          f"ray:// address, was {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise EngineError(f"--address {address}: nothing answers there ({_describe(exc)}); "
                          "is the Ray head running (ray start --head --port=PORT)?") from exc


class _Pending(Generic[T]):
    __slots__ = ("attempt", "index", "item")

    def __init__(self, index: int, item: T, attempt: int) -> None:
        self.index = index
        self.item = item
        self.attempt = attempt


class RayBackend:
    """Tasks on Ray: a local instance with ``num_cpus`` (default: every core), or the cluster
    at ``address`` (``auto``: the one this machine belongs to). One CPU per task by default.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 cpus_per_task: float = 1.0, log_level: str = "warning") -> None:
        try:
            import ray
        except ImportError as exc:
            raise EngineError(f"--backend ray: {RAY_INSTALL_HINT}") from exc
        self._ray = ray
        self._started = False
        self.log_level = log_level
        self.attempts: list[int] = []
        self._shared: list[tuple[object, Any]] = []
        if address is not None:
            _reachable(address)
        if not ray.is_initialized():
            started = time.perf_counter()
            # "local" starts a new instance even where RAY_ADDRESS or a running `ray start`
            # would make Ray join a cluster: a cluster is joined only when asked (--address)
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True,
                                      "configure_logging": False}
            if address is None:
                kwargs["num_cpus"] = num_cpus
            where = f"--address {address}" if address else "--backend ray"
            try:
                ray.init(address=address or "local", **kwargs)
            except Exception as exc:  # Ray raises many kinds (auth, connection, version)
                raise EngineError(f"{where}: cannot {'join' if address else 'start'} Ray: "
                                  f"{_describe(exc)}") from exc
            self._started = True
            log.info("ray.started", address=address or "local",
                     seconds=round(time.perf_counter() - started, 2))
        self.cpus_per_task = cpus_per_task
        cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
        self.workers = max(1, int(cpus // cpus_per_task))

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T], *, retries: int = 1,
            progress: TaskProgress | None = None) -> list[R | TaskFailure]:
        """Run ``fn(shared, item)`` for each item as Ray tasks (module docstring)."""
        ray = self._ray
        remote = ray.remote(num_cpus=self.cpus_per_task, max_retries=0)(_in_worker)
        shared_ref = self._put(shared)
        results: list[Any] = [_MISSING] * len(items)
        self.attempts = [0] * len(items)
        pending: dict[Any, _Pending[T]] = {}

        def submit(index: int, item: T, attempt: int) -> None:
            pending[remote.remote(fn, self.log_level, shared_ref, item)] = _Pending(
                index, item, attempt)

        for index, item in enumerate(items):
            submit(index, item, 1)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                self.attempts[task.index] = task.attempt
                try:
                    results[task.index] = ray.get(ref)
                    _finished(progress, task.index, task.attempt, None)
                except ray.exceptions.RayError as exc:
                    cause = getattr(exc, "cause", None) or exc
                    error = _describe(cause)
                    if task.attempt <= retries and not isinstance(cause, EngineError):
                        _retrying(task.index, task.attempt, error)
                        submit(task.index, task.item, task.attempt + 1)
                        continue
                    results[task.index] = TaskFailure(index=task.index, attempts=task.attempt,
                                                      error=error)
                    _finished(progress, task.index, task.attempt, error)
        assert all(r is not _MISSING for r in results)
        return results

    def _put(self, shared: object) -> Any:
        """The object store reference of ``shared``, put once per backend (a second ``map``
        over the same object, as the stages of one command, reuses it)."""
        for obj, ref in self._shared:
            if obj is shared:
                return ref
        ref = self._ray.put(shared)
        self._shared.append((shared, ref))
        return ref

    def close(self) -> None:
        """Shut down the local Ray this backend started (a joined cluster keeps running)."""
        self._shared.clear()
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False


def make_backend(name: str, address: str | None = None, workers: int | None = None,
                 log_level: str = "warning") -> Backend:
    """``serial`` or ``ray`` (``address``/``workers``/``log_level`` of the workers only for
    Ray)."""
    if name == "serial":
        if address is not None:
            raise EngineError("--address: joins a Ray cluster; expected --backend ray")
        if workers is not None:
            raise EngineError("--workers: sets the cores of a local Ray; expected --backend "
                              "ray (serial runs one task at a time)")
        return SerialBackend()
    if name == "ray":
        if workers is not None and workers < 1:
            raise EngineError(f"--workers: expected at least 1, was {workers}")
        if address is not None and workers is not None:
            raise EngineError("--workers: sets the cores of a local Ray; a cluster at "
                              "--address has its own")
        return RayBackend(address=address, num_cpus=workers, log_level=log_level)
    raise EngineError(f"--backend: expected 'serial' or 'ray', was {name!r}")
