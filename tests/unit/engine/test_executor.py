"""The task backends: results in input order, retries counted, failures reported not dropped,
the same results serially and on a real local Ray (2 CPUs), a worker that dies retried."""

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.errors import EngineError
from engine.core.progress import TaskProgress
from engine.research.executor import (
    RAY_INSTALL_HINT,
    RayBackend,
    SerialBackend,
    TaskFailure,
    make_backend,
)


def square_plus(shared, item):
    return shared["offset"] + item * item


def fail_once(shared, item):
    """Fails the first attempt of every odd item (a marker file says it was tried)."""
    marker = Path(shared) / f"tried-{item}"
    if item % 2 and not marker.exists():
        marker.write_text("x")
        raise RuntimeError(f"transient failure of {item}")
    return item


def always_fails(shared, item):
    if item == 2:
        raise ValueError(f"bad item {item}")
    return item


def dies_once(shared, item):
    """The worker process exits at the first attempt of item 1 (as a crashed node would)."""
    marker = Path(shared) / f"died-{item}"
    if item == 1 and not marker.exists():
        marker.write_text("x")
        os._exit(1)
    return item * 10


def returns_none(shared, item):
    return item if item % 2 else None


def test_serial_runs_in_order():
    results = SerialBackend().map(square_plus, {"offset": 1}, [3, 1, 2])
    assert results == [10, 2, 5]


@pytest.mark.parametrize("backend", ["serial", "ray"])
def test_a_failed_task_is_retried_and_counted(backend, tmp_path, request):
    if backend == "ray":
        request.getfixturevalue("local_ray")
    runner = SerialBackend() if backend == "serial" else RayBackend()
    progress = TaskProgress(5, enabled=False)
    assert runner.map(fail_once, str(tmp_path), list(range(5)), retries=1,
                      progress=progress) == [0, 1, 2, 3, 4]
    assert runner.attempts == [1, 2, 1, 2, 1]
    assert progress.done == 5 and progress.failed == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tried-1", "tried-3"]


@pytest.mark.parametrize("backend", ["serial", "ray"])
def test_a_task_failing_every_attempt_is_reported(backend, request):
    if backend == "ray":
        request.getfixturevalue("local_ray")
    runner = SerialBackend() if backend == "serial" else RayBackend()
    progress = TaskProgress(4, enabled=False)
    results = runner.map(always_fails, None, [0, 1, 2, 3], retries=2, progress=progress)
    assert results[:2] == [0, 1] and results[3] == 3
    failure = results[2]
    assert isinstance(failure, TaskFailure)
    assert failure.index == 2 and failure.attempts == 3
    assert failure.error == "ValueError: bad item 2"
    assert progress.failed == 1


def test_ray_gives_the_serial_results(local_ray):
    items = list(range(12))
    assert RayBackend().map(square_plus, {"offset": 7}, items) == SerialBackend().map(
        square_plus, {"offset": 7}, items)


def test_ray_retries_a_task_whose_worker_died(local_ray, tmp_path):
    results = RayBackend().map(dies_once, str(tmp_path), [0, 1, 2], retries=1)
    assert results == [0, 10, 20]
    assert (tmp_path / "died-1").exists()


def test_ray_joined_is_left_running(local_ray):
    backend = RayBackend()
    backend.close()
    assert local_ray.is_initialized()
    assert backend.workers == 2


def test_without_ray_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(EngineError, match="pip install 'algospace-engine\\[distributed\\]'"):
        make_backend("ray")
    assert "--backend serial" in RAY_INSTALL_HINT


def test_bad_backend_options_are_named():
    with pytest.raises(EngineError, match="--backend: expected 'serial' or 'ray', was 'dask'"):
        make_backend("dask")
    with pytest.raises(EngineError, match="--address: joins a Ray cluster"):
        make_backend("serial", address="head:6379")
    with pytest.raises(EngineError, match="--workers: sets the cores of a local Ray"):
        make_backend("serial", workers=2)


def test_an_address_where_nothing_listens_fails_at_once():
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EngineError, match=f"--address 127.0.0.1:{port}: nothing answers there"):
        RayBackend(address=f"127.0.0.1:{port}")
    with pytest.raises(EngineError, match="expected HOST:PORT"):
        RayBackend(address="head-node")


def test_none_is_a_result_like_any_other(local_ray):
    assert RayBackend().map(returns_none, None, [0, 1, 2]) == [None, 1, None]


def config_error(shared, item):
    from engine.core.errors import ConfigError

    raise ConfigError(f"strategies.x: bad value {item}")


@pytest.mark.parametrize("backend", ["serial", "ray"])
def test_the_engines_own_errors_are_not_retried(backend, request):
    """A bad config value, data or model fails the same way every time."""
    if backend == "ray":
        request.getfixturevalue("local_ray")
    runner = SerialBackend() if backend == "serial" else RayBackend()
    [failure] = runner.map(config_error, None, [5], retries=3)
    assert isinstance(failure, TaskFailure) and failure.attempts == 1
    assert failure.error == "ConfigError: strategies.x: bad value 5"


def fails_while(shared, item):
    """Item ``(key, n)`` raises on its first ``n`` attempts (counted in ``shared``)."""
    key, n = item
    shared[key] = shared.get(key, 0) + 1
    if shared[key] <= n:
        raise RuntimeError(f"attempt {shared[key]} of {key}")
    return key


@given(st.lists(st.integers(0, 4), max_size=12), st.integers(0, 3))
def test_serial_retries_exactly_as_promised(failures, retries):
    """Whatever fails how often: an item is retried up to ``retries`` times, succeeds when
    it fails fewer times than its attempts, and is reported otherwise; nothing is dropped."""
    backend = SerialBackend()
    items = list(enumerate(failures))
    results = backend.map(fails_while, {}, items, retries=retries)
    assert len(results) == len(items)
    for (key, n), result, attempts in zip(items, results, backend.attempts, strict=True):
        if n <= retries:
            assert result == key and attempts == n + 1
        else:
            assert isinstance(result, TaskFailure) and result.index == key
            assert attempts == result.attempts == retries + 1
            assert result.error == f"RuntimeError: attempt {retries + 1} of {key}"


def test_the_shared_object_is_put_in_the_object_store_once(local_ray, monkeypatch):
    """Not once per task, nor once per stage of a command: once per backend."""
    puts = []
    real_put = local_ray.put

    def counting_put(value, *args, **kwargs):
        puts.append(type(value).__name__)
        return real_put(value, *args, **kwargs)

    monkeypatch.setattr(local_ray, "put", counting_put)
    backend = RayBackend()
    shared = {"offset": 3}
    assert backend.map(square_plus, shared, list(range(6))) == [3 + i * i for i in range(6)]
    assert backend.map(square_plus, shared, [7, 8]) == [52, 67]
    assert puts == ["dict"]
