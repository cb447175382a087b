"""The M-RMS network: shapes, actions always inside their ranges, seeded sampling, the log
probability of an action equal in act and evaluate, the Gamma/Beta sampler's moments, and that
raising an action's likelihood moves the deterministic choice to it."""

import pytest
import torch

from components.risk.model import RiskModel, RiskModelConfig, _gamma
from components.risk.setup_features import SETUP_FEATURES

CONFIG = RiskModelConfig(hidden=16)


def model(seed=0, config=CONFIG):
    torch.manual_seed(seed)
    return RiskModel(config)


def inputs(n=64, scale=1.0, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, CONFIG.inputs, generator=g) * scale


def test_widths_and_shapes():
    assert CONFIG.setup == len(SETUP_FEATURES) and CONFIG.inputs == 18 + 8 + 7
    heads = model()(inputs())
    assert heads.size_logits.shape == (64, 6) and heads.value.shape == (64,)
    assert (heads.stop_alpha >= 1).all() and (heads.rr_beta >= 1).all()
    with pytest.raises(ValueError, match=r"expected \(batch, 33\), was \(4, 32\)"):
        model()(torch.zeros(4, 32))
    with pytest.raises(ValueError, match="stop_max: expected more than stop_min"):
        RiskModelConfig(stop_min=3.0, stop_max=1.0)


@pytest.mark.parametrize("scale", [0.0, 1.0, 100.0])
@pytest.mark.parametrize("deterministic", [False, True])
def test_actions_stay_inside_their_ranges(scale, deterministic):
    g = torch.Generator().manual_seed(5)
    action, value = model().act(inputs(256, scale), generator=g, deterministic=deterministic)
    assert ((action.size >= 0) & (action.size <= 5)).all()
    assert ((action.stop_atr >= 0.5) & (action.stop_atr <= 3.0)).all()
    assert ((action.rr >= 1.0) & (action.rr <= 5.0)).all()
    assert ((action.confidence > 0) & (action.confidence <= 1)).all()
    assert torch.isfinite(action.log_prob).all() and value.shape == (256,)


def test_seeded_sampling_and_log_prob_agree_with_evaluate():
    net, x = model(), inputs()
    a1, _ = net.act(x, generator=torch.Generator().manual_seed(3))
    a2, _ = net.act(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a1.size, a2.size) and torch.equal(a1.stop_atr, a2.stop_atr)
    log_prob, entropy, value = net.evaluate(x, a1.size, a1.stop_unit, a1.rr_unit)
    torch.testing.assert_close(log_prob, a1.log_prob)
    assert torch.isfinite(entropy).all()
    d1, _ = net.act(x, deterministic=True)
    d2, _ = net.act(x, deterministic=True)
    assert torch.equal(d1.size, d2.size) and torch.equal(d1.rr, d2.rr)
    size, stop, rr, confidence = net.propose(x)  # the serving path: the same values
    assert torch.equal(size, d1.size) and torch.equal(stop, d1.stop_atr)
    assert torch.equal(rr, d1.rr)
    torch.testing.assert_close(confidence, d1.confidence)  # softmax vs Categorical.probs


def test_gamma_and_beta_sampler_moments():
    g = torch.Generator().manual_seed(0)
    shape = torch.full((40_000,), 2.5)
    draws = _gamma(shape, g)
    assert abs(draws.mean().item() - 2.5) < 0.05 and abs(draws.var().item() - 2.5) < 0.1
    net = model()
    heads = net(inputs(1))
    a, b = heads.stop_alpha.expand(40_000), heads.stop_beta.expand(40_000)
    from components.risk.model import _beta_sample

    sample = _beta_sample(a, b, torch.Generator().manual_seed(1))
    mean = (a / (a + b))[0].item()
    assert abs(sample.mean().item() - mean) < 0.01


def test_raising_an_actions_likelihood_moves_the_deterministic_choice_to_it():
    net, x = model(), inputs(32)
    size = torch.full((32,), 3)
    stop_u, rr_u = torch.full((32,), 0.8), torch.full((32,), 0.25)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(300):
        log_prob, _, _ = net.evaluate(x, size, stop_u, rr_u)
        loss = -log_prob.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    action, _ = net.act(x, deterministic=True)
    assert (action.size == 3).all()
    torch.testing.assert_close(action.stop_unit, stop_u, atol=0.05, rtol=0)
    torch.testing.assert_close(action.rr_unit, rr_u, atol=0.05, rtol=0)
