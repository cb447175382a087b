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

from engine.app.cli import main
from engine.wiring.registry import load_model

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
TINY = ["--set", "train.rde.model.window=24", "--set", "train.rde.model.d_model=16",
        "--set", "train.rde.model.heads=2", "--set", "train.rde.model.layers=1",
        "--set", "train.rde.model.feedforward=32", "--set", "train.rde.epochs=30",
        "--set", "train.rde.patience=30", "--set", "train.rde.batch_size=32",
        "--set", "train.rde.min_updates=1"]


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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_stopped_or_killed_run_resumes_to_the_uninterrupted_weights(data, uninterrupted,
                                                                     tmp_path, sig):
    """SIGTERM: the epoch finishes, the checkpoint is written, exit 130 with the resume
    command. kill -9: the process dies wherever it is; the last epoch checkpoint remains.
    Either way --resume registers exactly the uninterrupted run's weights."""
    out, models = tmp_path / "run", tmp_path / "models"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "engine.app.cli", *args(data, out, models)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:  # JSON log lines (stderr is not a terminal)
        if '"rde.epoch"' in line and '"epoch": 2' in line:
            process.send_signal(sig)
            break
    stdout, stderr = process.communicate(timeout=120)
    if sig == signal.SIGTERM:
        assert process.returncode == 130, stderr
        assert "SIGTERM received" in stderr and f"--resume {out}" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    assert (out / "checkpoint.pt").is_file() and not models.exists()
    # SIGTERM lets epoch 2 finish and checkpoint; kill -9 may land before its checkpoint
    done = len(json.loads((out / "metrics.json").read_text()))
    assert (2 if sig == signal.SIGTERM else 1) <= done < 30
    resume = [a for a in args(data, out, models) if a not in ("--out", str(out))]
    assert main([*resume, "--resume", str(out)]) == 0
    resumed = json.loads((out / "artifact.json").read_text())
    expected = json.loads((uninterrupted / "run" / "artifact.json").read_text())
    assert resumed["version"] == expected["version"]
    assert len(json.loads((out / "metrics.json").read_text())) == 30


def test_resume_refuses_another_config(data, uninterrupted, tmp_path, capsys):
    run = tmp_path / "run"
    import shutil

    shutil.copytree(uninterrupted / "run", run)
    resume = [a for a in args(data, run, tmp_path / "m") if a not in ("--out", str(run))]
    assert main([*resume, "--set", "train.rde.lr=0.01", "--resume", str(run)]) == 1
    assert "expected a checkpoint of the same config and data" in capsys.readouterr().err


def test_report_show_and_export_of_the_registered_model(data, uninterrupted, tmp_path, capsys):
    artifact = json.loads((uninterrupted / "run" / "artifact.json").read_text())
    label = f"rde/btcusd_1h/{artifact['version']}"
    models = str(uninterrupted / "models")
    assert main(["report", "rde", label, "--models-dir", models, "--config", str(BTC),
                 "--data", str(data), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "recon MSE" in out and "MMD regime eta2" in out
    report = json.loads((tmp_path / "report" / "rde_report.json").read_text())
    assert report["window"] == 24 and report["test"]["windows"] > 0
    assert (tmp_path / "report" / "latent.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["models", "show", label, "--models-dir", models]) == 0
    shown = capsys.readouterr().out
    assert f'"version": "{artifact["version"]}"' in shown and "project.weight" in shown
    onnx = tmp_path / "rde.onnx"
    assert main(["models", "export", label, "--models-dir", models, "--output", str(onnx)]) == 0
    assert "max |onnx - torch| of mu" in capsys.readouterr().out and onnx.stat().st_size > 0
    assert main(["models", "verify", "rde/btcusd_1h/000000000000", "--models-dir", models]) == 1
