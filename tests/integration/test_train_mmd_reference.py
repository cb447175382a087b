"""``algospace train mmd-reference`` end to end on bundled real data, and the pending trainers."""

import json
from pathlib import Path

import pytest

from engine.app.cli import main
from engine.wiring.references import load_reference

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def test_train_mmd_reference_writes_a_verified_artifact_and_a_run_manifest(tmp_path, capsys):
    models, run = tmp_path / "models", tmp_path / "run"
    assert main(["train", "mmd-reference", "--config", str(CONFIG / "eurusd_1h.toml"),
                 "--models-dir", str(models), "--out", str(run)]) == 0
    out = capsys.readouterr().out
    (folder,) = (models / "mmd_reference" / "eurusd_1h").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "reference.msgpack"]
    loaded = load_reference(folder)
    assert folder.name == loaded.version and loaded.name == "eurusd_1h"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "mmd_reference" and manifest["timeframe"] == "4h"
    assert manifest["data"]["path"] == "../data/eurusd_1h_2017.csv"
    assert manifest["procedure"]["train_fraction"] == 0.7
    assert manifest["procedure"]["seed"] == 0 and manifest["procedure"]["until"] is None
    assert manifest["bars"]["training"] == 1089
    assert str(folder) in out and "regime_6" in out and "bandwidth" in out
    run_manifest = json.loads((run / "manifest.json").read_text())
    assert run_manifest["command"] == "train mmd-reference"
    artifact = json.loads((run / "artifact.json").read_text())
    assert artifact["version"] == loaded.version and artifact["sha256"] == loaded.sha256


def test_until_name_and_seed_options(tmp_path, capsys):
    models = tmp_path / "models"
    assert main(["train", "mmd-reference", "--config", str(CONFIG / "eurusd_1h.toml"),
                 "--until", "2017-06-30T00:00:00Z", "--seed", "3", "--block-bars", "10",
                 "--set-size", "50", "--name", "eur_h1", "--models-dir", str(models),
                 "--out", str(tmp_path / "run")]) == 0
    (folder,) = (models / "mmd_reference" / "eur_h1").iterdir()
    loaded = load_reference(folder)
    ref = loaded.reference
    assert ref.period_end_ns <= 1_498_780_800_000_000_000 < ref.period_end_ns + 4 * 3_600 * 10**9
    assert (ref.seed, ref.block_bars, ref.set_size) == (3, 10, 50)
    assert max(s.count for s in ref.sets) <= 50
    assert loaded.manifest.procedure.until == "2017-06-30T00:00:00Z"
    assert loaded.manifest.procedure.train_fraction is None


def test_too_short_a_data_set_exits_1_with_one_line(tmp_path, capsys):
    # es_ticks.toml gives the same 76 slow bars (from 500,000 ticks: 5 s, not repeated here)
    assert main(["train", "mmd-reference", "--config", str(CONFIG / "es_5m_30m.toml"),
                 "--models-dir", str(tmp_path / "models"), "--out", str(tmp_path / "run")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    err = [line for line in lines if not line.startswith("{")]  # less the JSON log lines
    assert len(err) == 1
    assert err[0].startswith("algospace: error: ") and "es_1min_2013-09.csv" in err[0]
    assert "expected at least 160 slow bars" in err[0] and "was 53" in err[0]
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("argv", [["--until", "soon"], ["--train-fraction", "1.5"],
                                  ["--block-bars", "1"], ["--seed", "-1"]])
def test_bad_options_exit_1_naming_the_option(tmp_path, capsys, argv):
    assert main(["train", "mmd-reference", "--config", str(CONFIG / "eurusd_1h.toml"),
                 "--models-dir", str(tmp_path / "m"), "--out", str(tmp_path / "r"), *argv]) == 1
    assert argv[0] in capsys.readouterr().err


def test_train_fraction_and_until_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "mmd-reference", "--train-fraction", "0.5", "--until", "2017-06-30"])
    assert info.value.code == 2


@pytest.mark.parametrize("model", ["marl", "all"])
def test_the_other_trainers_name_a_missing_config(capsys, model):
    assert main(["train", model, "--config", "x.toml"]) == 1
    assert "x.toml: config file not found" in capsys.readouterr().err
