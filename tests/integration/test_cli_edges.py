"""The command line's rough edges (issue 22): a fast ``--help`` that imports no numba, torch,
matplotlib or pandas; ``--version``; "did you mean" for ``--strategy``; ``report RUN_DIR``
refusing the options that would change nothing; one output option for ``features``; the
models directory resolved the same way from any working directory, a missing one an error;
Ctrl-C as one line, leaving no half-written run directory."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
HEAVY = ("numba", "torch", "matplotlib", "pandas", "pyarrow")


def algospace(*args, cwd=ROOT, timeout=300):
    return subprocess.run([sys.executable, "-m", "engine.app.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_help_imports_nothing_heavy_and_version_names_the_package(tmp_path):
    probe = ("import sys\nfrom engine.app.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             f"print([m for m in {HEAVY!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage: algospace" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
    version = algospace("--version")
    assert version.returncode == 0 and version.stdout.startswith("algospace 0.1.0")


def test_a_misspelt_strategy_gets_a_did_you_mean():
    done = algospace("backtest", "--config", str(BTC), "--strategy", "synergi")
    assert done.returncode == 1
    assert "did you mean 'synergy'?" in done.stderr and "Traceback" not in done.stderr


def test_report_of_a_run_directory_refuses_options_that_change_nothing(tmp_path):
    run = tmp_path / "run"
    assert algospace("backtest", "--config", str(BTC), "--strategy", "sma_cross", "--out",
                     str(run)).returncode == 0
    assert "sma_cross on BTCUSD 1h" in algospace("report", str(run)).stdout
    done = algospace("report", str(run), "--horizon", "5", "--set", "seed=1")
    assert done.returncode == 1
    assert "--set, --horizon apply to 'report rde' only" in done.stderr


def test_features_has_one_output_option(tmp_path):
    out = tmp_path / "features"
    cut = tmp_path / "cut.csv"
    cut.write_text("".join((ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").open()
                           .readlines()[:600]))
    done = algospace("features", "--config", str(BTC), "--data", str(cut), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "features.parquet").is_file() and (out / "manifest.json").is_file()
    assert algospace("features", "--output", str(tmp_path / "x.parquet")).returncode == 2


def test_the_models_directory_is_found_from_anywhere_and_a_missing_one_is_an_error(tmp_path):
    listed = algospace("models", "list", cwd=tmp_path)  # no models/ here: the checkout's
    assert listed.returncode == 0, listed.stderr
    assert "marl" in listed.stdout and "btcusd_1h" in listed.stdout
    missing = algospace("models", "list", "--models-dir", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 1
    assert "expected a directory of registered models" in missing.stderr


def test_ctrl_c_is_one_line_and_leaves_no_half_written_run(tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.app.cli", "backtest", "--config", str(BTC),
         "--strategy", "marl", "--out", str(run)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as a terminal delivers it, even if this test runs with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (run / "manifest.json").is_file():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    time.sleep(1.0)  # into the replay
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not _is_log(line)]
    assert lines == [f"algospace backtest: interrupted; removed the unfinished {run}"]
    assert not run.exists()


def _is_log(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
