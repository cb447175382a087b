"""``algospace train mrms`` end to end on the bundled BTC data with a tiny network: it trains,
registers a verified model the learned backtest then runs, and a run stopped by SIGTERM (a
real process) and continued with ``--resume`` registers exactly the uninterrupted weights."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.app.cli import main
from engine.wiring.registry import load_model

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
ITERATIONS = 6
TINY = ["--set", "train.mrms.model.hidden=16", "--set", f"train.mrms.iterations={ITERATIONS}",
        "--set", "train.mrms.episodes=1", "--set", "train.mrms.update_epochs=1",
        "--set", "train.mrms.minibatch=32", "--set", "train.mrms.eval_every=2",
        "--set", "train.mrms.checkpoint_every=1"]


def args(out, models, *extra):
    return ["train", "mrms", "--config", str(BTC), "--out", str(out), "--models-dir",
            str(models), "--no-progress", *TINY, *extra]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    base = tmp_path_factory.mktemp("mrms_cli")
    assert main(args(base / "run", base / "models")) == 0
    return base


def test_trains_registers_verifies_and_the_learned_backtest_runs_it(uninterrupted, tmp_path,
                                                                    capsys):
    artifact = json.loads((uninterrupted / "run" / "artifact.json").read_text())
    model = load_model(Path(artifact["path"]), kind="mrms")
    m = model.manifest
    assert model.version == artifact["version"] == m.sha256[:12]
    assert (m.name, m.instrument, m.timeframe) == ("btcusd_1h", "BTCUSD", "1h")
    assert m.inputs["rde"] == "rde/btcusd_1h/592ec96224d3"
    assert m.splits["train"].end_ns < m.splits["validation"].start_ns
    assert m.splits["validation"].end_ns < m.splits["test"].start_ns
    assert m.training["iterations"] == ITERATIONS and m.training["model"]["hidden"] == 16
    assert {"test_learned_sortino", "test_baseline_sortino", "test_learned_vetoes"} <= set(
        m.metrics)
    capsys.readouterr()
    models = str(uninterrupted / "models")
    assert main(["models", "verify", "--models-dir", models]) == 0
    assert "1 of 1 verified" in capsys.readouterr().out
    out = tmp_path / "bt"
    assert main(["backtest", "--config", str(BTC), "--strategy", "synergy", "--no-progress",
                 "--set", "strategies.synergy.sizing=mrms", "--set",
                 f"risk.model={artifact['path']}", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert "mrms/btcusd_1h" in [r["name"] for r in manifest["models"]]
    assert model.version in [r["version"] for r in manifest["models"]]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["setups_TYPE_3_short"] > 0


def test_a_stopped_run_resumes_to_the_uninterrupted_weights(uninterrupted, tmp_path):
    out, models = tmp_path / "run", tmp_path / "models"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "engine.app.cli", *args(out, models)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:  # JSON log lines (stderr is not a terminal)
        if '"mrms.iteration"' in line and '"iteration": 2' in line:
            process.send_signal(signal.SIGTERM)
            break
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert f"--resume {out}" in stderr
    assert (out / "checkpoint.pt").is_file() and not models.exists()
    resume = [a for a in args(out, models) if a not in ("--out", str(out))]
    assert main([*resume, "--resume", str(out)]) == 0
    resumed = json.loads((out / "artifact.json").read_text())
    expected = json.loads((uninterrupted / "run" / "artifact.json").read_text())
    assert resumed["version"] == expected["version"]
