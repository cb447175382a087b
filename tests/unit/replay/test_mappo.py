"""MAPPO's pieces on a tiny problem whose optimal policy is known: a setup is worth +1 R when
the first regime coordinate is positive and -1 R otherwise, so the team should trade exactly
the positive ones. The agents (the real network, with dropout) sample, the team trades when two
agree with the setup's side, PPO updates; the policy converges to the optimum and the value
loss falls. GAE is checked against a hand computation. (The observations here are a unit
test's inputs, not market data.)"""

import numpy as np
import pytest
import torch

from components.decision.model import MarlModel
from components.decision.model_config import MarlModelConfig
from components.risk.setup_features import setup_features
from engine.core.events import SynergyDetected, SynergySignal
from replay.train.mrms_data import SetupSample
from replay.train.train_marl import Rollout, act, ppo_update
from replay.train.train_mrms import gae
from replay.train_config import MarlTrainConfig

TINY = MarlModelConfig(hidden=8, conv_channels=4, lstm=4, slow_window=6, fast_window=5,
                       rounds=2, dropout=0.05)
CONFIG = MarlTrainConfig(model=TINY, update_epochs=4, minibatch=16, lr=3e-3,
                         entropy_coef=0.0)
LONG = 1
ITERATIONS, REPEATS = 24, 2


def samples(n=16, seed=0):
    rng = np.random.default_rng(seed)
    signal = SynergySignal(1, 1, "X", "4h", "mlmi", 1, 0.0, 0.5)
    out = []
    for i in range(n):
        setup = SynergyDetected(i + 1, i + 1, "X", "1h", 1, 1, (signal,) * 3, 3, 100.0, 1.0,
                                0.01, 1.0, None, None, None, None, None, None)
        regime = (1.0 if i % 2 == 0 else -1.0, *rng.normal(size=7).tolist())
        out.append(SetupSample(setup, setup_features(setup, 30), regime, i,
                               rng.normal(size=(6, 13)).astype(np.float32),
                               rng.normal(size=(5, 8)).astype(np.float32)))
    return out


def observe(sample):
    return (torch.from_numpy(sample.slow).unsqueeze(0), torch.from_numpy(sample.fast).unsqueeze(0),
            torch.tensor([sample.regime]), torch.tensor([sample.features]))


def take_probability(model, sample):
    """P(at least 2 of 3 agents choose long) without dropout."""
    with torch.no_grad():
        logits, _ = model(*observe(sample))
    p = torch.softmax(logits[0], dim=-1)[:, LONG].tolist()
    a, b, c = p
    return a * b + a * c + b * c - 2 * a * b * c


def test_gae_matches_a_hand_computation():
    rewards, values = [1.0, 0.0, 2.0], [0.5, 0.2, 1.0]
    g, lam = 0.9, 0.8
    d2 = 2.0 - 1.0
    d1 = 0.0 + g * 1.0 - 0.2
    d0 = 1.0 + g * 0.2 - 0.5
    expected = [d0 + g * lam * (d1 + g * lam * d2), d1 + g * lam * d2, d2]
    assert gae(rewards, values, g, lam) == pytest.approx(expected)
    assert gae(rewards, values, 0.0, lam) == pytest.approx(
        [r - v for r, v in zip(rewards, values, strict=True)])


def test_mappo_converges_to_the_known_optimal_policy_and_the_value_loss_falls():
    torch.manual_seed(0)
    model = MarlModel(TINY).eval()
    optimiser = torch.optim.Adam(model.parameters(), lr=CONFIG.lr, eps=1e-5)
    sampler, shuffle = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    data = samples()
    value_losses = []
    for _ in range(ITERATIONS):
        rollout = Rollout()
        rewards = []
        for _ in range(REPEATS):
            for sample in data:
                act(model, observe(sample), sampler, sample, rollout)
                actions = rollout.actions[-1]
                take = sum(a == LONG for a in actions) >= 2
                rewards.append((1.0 if sample.regime[0] > 0 else -1.0) if take else 0.0)
        advantages = gae(rewards, rollout.values, 0.0, 0.95)  # one-step bandit: r - V
        losses = ppo_update(model, optimiser, rollout, advantages, rewards, CONFIG, shuffle)
        value_losses.append(losses["value"])
    good = [take_probability(model, s) for s in data if s.regime[0] > 0]
    bad = [take_probability(model, s) for s in data if s.regime[0] < 0]
    assert min(good) > 0.9 and max(bad) < 0.1, (good, bad)
    assert np.mean(value_losses[-5:]) < 0.5 * np.mean(value_losses[:5])


def test_ppo_is_deterministic_for_a_seed():
    def run():
        torch.manual_seed(0)
        model = MarlModel(TINY).eval()
        optimiser = torch.optim.Adam(model.parameters(), lr=CONFIG.lr)
        sampler, shuffle = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
        rollout = Rollout()
        for sample in samples(8):
            act(model, observe(sample), sampler, sample, rollout)
        rewards = [1.0] * len(rollout.values)
        ppo_update(model, optimiser, rollout, rewards, rewards, CONFIG, shuffle)
        return model.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)
