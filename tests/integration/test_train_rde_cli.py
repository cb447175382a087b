"""``algospace train rde`` end to end on real BTC data with a tiny model: it trains, registers a
verified model, and a run stopped by SIGTERM (a real process) and continued with ``--resume``
registers exactly the weights of an uninterrupted run (equal versions are equal sha256s)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.registry import load_model

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
TINY = ["--set", "train.rde.model.window=24", "--set", "train.rde.model.d_model=16",
        "--set", "train.rde.model.heads=2", "--set", "train.rde.model.layers=1",
        "--set", "train.rde.model.feedforward=32", "--set", "train.rde.epochs=30",
        "--set", "train.rde.patience=30", "--set", "train.rde.batch_size=32"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The first 2,400 BTC hours (600 slow bars: about 330 ready windows of 24)."""
    path = tmp_path_factory.mktemp("train_rde_cli") / "btc.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:2400].to_csv(
        path, index=False)
    return path


def args(data, out, models, *extra):
    return ["train", "rde", "--config", str(BTC), "--data", str(data), "--out", str(out),
            "--models-dir", str(models), *TINY, *extra]


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    base = tmp_path_factory.mktemp("uninterrupted")
    assert main(args(data, base / "run", base / "models")) == 0
    return base


def test_trains_registers_and_verifies(uninterrupted, capsys):
    artifact = json.loads((uninterrupted / "run" / "artifact.json").read_text())
    model = load_model(Path(artifact["path"]), kind="rde")
    m = model.manifest
    assert model.version == artifact["version"] == m.sha256[:12]
    assert (m.name, m.instrument, m.timeframe) == ("btcusd_1h", "BTCUSD", "4h")
    assert m.inputs["mmd_reference"].startswith("btcusd_1h/")
    assert m.splits["train"].end_ns < m.splits["validation"].start_ns
    assert m.splits["validation"].end_ns < m.splits["test"].start_ns
    assert m.created_ns == m.splits["train"].end_ns and m.seed == 0
    assert m.training["model"]["window"] == 24 and m.training["fractions"] == [0.7, 0.15]
    assert 0 < m.metrics["test_recon"] < 1 and m.metrics["epochs"] == 30
    metrics = json.loads((uninterrupted / "run" / "metrics.json").read_text())
    assert metrics[-1]["losses/train_recon"] < metrics[0]["losses/train_recon"]
    manifest = json.loads((uninterrupted / "run" / "manifest.json").read_text())
    assert manifest["command"] == "train rde" and manifest["models"][0]["name"].startswith(
        "mmd_reference/")
    capsys.readouterr()
    assert main(["models", "verify", "--models-dir", str(uninterrupted / "models")]) == 0
    assert "1 of 1 verified" in capsys.readouterr().out
    assert main(["models", "list", "--models-dir", str(uninterrupted / "models")]) == 0
    assert f"rde            btcusd_1h      {model.version}" in capsys.readouterr().out


def test_sigterm_then_resume_registers_the_uninterrupted_weights(data, uninterrupted,
                                                                  tmp_path):
    out, models = tmp_path / "run", tmp_path / "models"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", *args(data, out, models)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:  # JSON log lines (stderr is not a terminal)
        if '"rde.epoch"' in line and '"epoch": 2' in line:
            process.send_signal(signal.SIGTERM)
            break
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "SIGTERM received" in stderr and f"--resume {out}" in stderr
    assert (out / "checkpoint.pt").is_file() and not models.exists()
    done = json.loads((out / "metrics.json").read_text())
    assert 2 <= len(done) < 30
    resume = [a for a in args(data, out, models) if a not in ("--out", str(out))]
    assert main([*resume, "--resume", str(out)]) == 0
    resumed = json.loads((out / "artifact.json").read_text())
    expected = json.loads((uninterrupted / "run" / "artifact.json").read_text())
    assert resumed["version"] == expected["version"]
    assert len(json.loads((out / "metrics.json").read_text())) == 30
