"""The learned stack finds a planted edge out of sample (replay/train/planted.py: real setups, the
two bars after each rewritten so pattern 3 setups win and the others lose; a fixture, never
market data). Trained as ``train all`` trains them (M-RMS, then the MARL core with its
pretraining, MAPPO, selection and calibration on validation), at the bundled sample size,
with few iterations; judged on the test setups it never saw."""

from pathlib import Path

import msgspec
import numpy as np
import pytest

from components.decision.gate import Gate1Config
from components.risk.model_config import RiskModelConfig
from components.risk.setup_features import SETUP_FEATURES
from engine.wiring.artifacts import load_artifacts
from engine.wiring.schema import load_app_config
from replay.train.marl_run import matrix_configs
from replay.train.marl_select import gate_verdicts
from replay.train.mrms_data import collect_setups
from replay.train.outcomes import FIXED_BRACKET, one_contract
from replay.train.planted import plant_edge
from replay.train.ranking import auc
from replay.train.train_marl import train_marl
from replay.train.train_mrms import train_mrms
from replay.train_config import EnvConfig, MarlCvConfig, MarlTrainConfig, MrmsTrainConfig

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
FEATURE = SETUP_FEATURES.index("pattern_3")
MARL = MarlTrainConfig(iterations=4, episodes=1, update_epochs=1, eval_every=2,
                       gate=Gate1Config(samples=8),
                       cv=MarlCvConfig(folds=2, candidates=((30, 1.0),)), seed=0)
MRMS = MrmsTrainConfig(model=RiskModelConfig(hidden=16), iterations=2, episodes=1,
                       update_epochs=1, eval_every=2, seed=0)


@pytest.fixture(scope="module")
def planted():
    loaded = load_app_config(BTC)
    cfg = loaded.config
    data = collect_setups(cfg, loaded.data_path, load_artifacts(loaded),
                          matrices=matrix_configs(cfg, MARL))
    return plant_edge(data, data.samples, FEATURE, 0.5, seed=0)


def test_the_fixture_plants_exactly_the_edge(planted):
    assert len(planted.samples) >= 100  # of the 120 bundled setups, few overlap
    r = [one_contract(planted.data, s, s.setup.direction, *FIXED_BRACKET)[0]
         for s in planted.samples]
    assert [x > 0 for x in r] == planted.winner.tolist()
    assert planted.winner.tolist() == planted.high.tolist()  # edge 0.5: the feature decides
    assert 0.2 < planted.winner.mean() < 0.8


def test_the_stack_takes_the_planted_winners_and_refuses_the_losers_out_of_sample(
        planted, tmp_path):
    n = len(planted.samples)
    a, b = int(0.6 * n), int(0.8 * n)
    train, validation, test = (planted.samples[:a], planted.samples[a:b],
                               planted.samples[b:])
    data = planted.data
    mrms = train_mrms(data, train, validation, MRMS, tmp_path / "mrms").model
    result = train_marl(data, train, validation, mrms, EnvConfig(), MARL, tmp_path / "marl",
                        mrms_config=MRMS)
    gate = msgspec.structs.replace(MARL.gate, threshold=result.threshold)
    verdicts = gate_verdicts(result.model, test, gate, 0)
    won = planted.winner[b:]
    passed = np.array([v.passed for v in verdicts])
    assert won.sum() >= 5 and (~won).sum() >= 5
    assert passed[won].mean() >= 0.6, passed[won].mean()  # most planted winners taken
    assert passed[~won].mean() <= 0.25, passed[~won].mean()  # most planted losers refused
    assert auc([v.score for v in verdicts], won) >= 0.8
