"""The learned layers' objectives and selection helpers on hand-made inputs: the bandit loss's
optimum, the M-RMS's expected utility against brute-force enumeration, the purged folds, gate
1 with explicit votes, and the qualified selection score."""

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from components.decision.gate import Gate1Config, consensus
from components.risk.model import RiskModel
from components.risk.model_config import RiskModelConfig
from replay.train.marl_cv import purged_folds
from replay.train.marl_pretrain import bandit_loss
from replay.train.mrms_pretrain import expected_utility
from replay.train.outcomes import bracket_grid
from replay.train.train_mrms import qualified


def test_the_bandit_loss_is_minimised_by_the_softmax_of_the_rewards():
    rewards = torch.tensor([[0.0, 1.5, -1.0], [0.0, -2.0, 0.5]])
    logits = torch.zeros(2, 3, 3, requires_grad=True)  # (rows, agents, actions)
    optimiser = torch.optim.Adam([logits], lr=0.1)
    for _ in range(2000):
        optimiser.zero_grad()
        bandit_loss(logits, rewards, tau=0.5).backward()
        optimiser.step()
    expected = torch.softmax(rewards / 0.5, dim=-1)
    got = torch.softmax(logits.detach(), dim=-1)
    for agent in range(3):
        assert torch.allclose(got[:, agent], expected, atol=1e-3)


def test_a_constant_shift_of_the_rewards_changes_no_gradient():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 3, requires_grad=True)
    rewards = torch.randn(4, 3)
    grads = []
    for shift in (0.0, torch.randn(4, 1)):
        logits.grad = None
        bandit_loss(logits, rewards - shift, tau=1.0).backward()
        grads.append(logits.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def _grid_weights(alpha, beta, grid, low, high):
    u = ((grid - low) / (high - low)).clamp(1e-4, 1 - 1e-4)
    return torch.softmax(torch.distributions.Beta(alpha, beta).log_prob(u), -1)


def test_expected_utility_equals_the_enumerated_sum():
    torch.manual_seed(0)
    config = RiskModelConfig(hidden=8, max_contracts=3)
    model = RiskModel(config).eval()
    stops, rrs = (torch.tensor(v, dtype=torch.float32)
                  for v in bracket_grid(config.stop_min, config.stop_max, config.rr_min,
                                        config.rr_max, 3, 2))
    x = torch.randn(2, config.inputs)
    pnl = torch.randn(2, 3, 2) * 300.0
    caps = torch.tensor([[3.0, 1.0, 0.0], [2.0, 2.0, 1.0]])
    equity = torch.tensor([50_000.0, 40_000.0])
    got = expected_utility(model, x, pnl, caps, equity, stops, rrs, 0.5, 0.01, 0.1)
    with torch.no_grad():
        heads = model(x)
        p = torch.softmax(heads.size_logits, -1)
        for b in range(2):
            w = _grid_weights(heads.stop_alpha[b], heads.stop_beta[b], stops, config.stop_min,
                              config.stop_max)
            v = _grid_weights(heads.rr_alpha[b], heads.rr_beta[b], rrs, config.rr_min,
                              config.rr_max)
            total = 0.0
            for k, s, r in itertools.product(range(4), range(3), range(2)):
                allowed = min(k, float(caps[b, s]))
                g = allowed * float(pnl[b, s, r]) / float(equity[b])
                cut = (k - allowed) / k if k else 0.0
                u = (g - g * g / (2 * 0.5)) / 0.01 - 0.1 * cut
                total += float(p[b, k] * w[s] * v[r]) * u
            assert float(got[b]) == pytest.approx(total, rel=1e-4, abs=1e-5)


@dataclass(frozen=True)
class _Sample:
    start: int


@given(st.lists(st.integers(0, 5000), min_size=4, max_size=60, unique=True),
       st.integers(2, 4), st.integers(0, 100), st.integers(0, 100))
def test_purged_folds_never_train_on_a_test_block_or_its_purge_and_embargo(
        starts, folds, purge, embargo):
    samples = [_Sample(s) for s in sorted(starts)]
    if len(samples) < folds:
        return
    blocks = purged_folds(samples, folds, purge, embargo)  # type: ignore[arg-type]
    assert sorted(i for _, test in blocks for i in test) == list(range(len(samples)))
    for train, test in blocks:
        first, last = samples[test[0]].start, samples[test[-1]].start
        assert not set(train) & set(test)
        for i in train:
            s = samples[i].start
            assert not first - purge <= s <= last + embargo
        kept = [i for i in range(len(samples)) if i not in test and not (
            first - purge <= samples[i].start <= last + embargo)]
        assert train == kept


def test_explicit_votes_stand_in_for_the_argmax_votes():
    probs = np.array([[[0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0.1, 0.8, 0.1]]])
    gate = Gate1Config(threshold=0.5)
    served = consensus(probs, 1, gate)
    assert served.votes == (1, 0, 1) and served.agree == 2
    assert consensus(probs, 1, gate, votes=(1, 0, 1)) == served
    explored = consensus(probs, 1, gate, votes=(0, 0, 1))
    assert explored.agree == 1 and "agreement" in explored.reasons
    with pytest.raises(ValueError, match="votes"):
        consensus(probs, 1, gate, votes=(0, 3, 1))


def test_a_selection_score_counts_only_with_enough_trades():
    assert qualified(1.5, 3, 3) == 1.5
    assert qualified(99.0, 2, 3) < qualified(-50.0, 3, 3)
    assert qualified(0.0, 2, 3) > qualified(0.0, 1, 3)
