"""The MARL network: shapes, determinism without masks, the batched MC-Dropout forward equal
to one forward per sample with the same masks, std exactly 0 without dropout, no state
mutated by the stochastic passes, and gradients reaching every agent."""

import msgspec
import torch

from components.decision.gate import Gate1Config, consensus
from components.decision.model import MarlModel
from components.decision.model_config import MarlModelConfig

TINY = MarlModelConfig(hidden=8, conv_channels=6, lstm=5, slow_window=12, fast_window=10)


def model(config=TINY, seed=0):
    torch.manual_seed(seed)
    return MarlModel(config).eval()


def observation(config=TINY, batch=1, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, config.slow_window, config.slow_features, generator=g),
            torch.randn(batch, config.fast_window, config.fast_features, generator=g),
            torch.randn(batch, config.regime, generator=g),
            torch.randn(batch, config.setup, generator=g))


def test_shapes_and_a_deterministic_forward_without_masks():
    net = model()
    obs = observation(batch=4)
    logits, value = net(*obs)
    assert logits.shape == (4, 3, 3) and value.shape == (4,)
    again, _ = net(*obs)
    assert torch.equal(logits, again)


def test_batched_mc_dropout_equals_one_forward_per_sample_with_the_same_masks():
    net = model()
    obs = observation()
    masks = net.sample_masks(50, torch.Generator().manual_seed(7))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    batched = net.mc_probs(*obs, masks)
    sequential = torch.cat([net.mc_probs(*obs, [m[i:i + 1] for m in masks])
                            for i in range(50)])
    assert batched.shape == (50, 3, 3)
    torch.testing.assert_close(batched, sequential, rtol=0, atol=1e-6)
    assert batched.std(dim=0).max() > 0  # the masks do change the passes
    assert not net.training
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


def test_the_same_generator_seed_gives_the_same_masks_and_probabilities():
    net = model()
    obs = observation()
    a = net.mc_probs(*obs, net.sample_masks(50, torch.Generator().manual_seed(3)))
    b = net.mc_probs(*obs, net.sample_masks(50, torch.Generator().manual_seed(3)))
    assert torch.equal(a, b)


def test_without_dropout_there_are_no_masks_and_every_std_is_exactly_zero():
    config = msgspec.structs.replace(TINY, dropout=0.0)
    net = model(config)
    assert net.sample_masks(50) is None
    with torch.inference_mode():
        probs = net.mc_probs(*observation(config), None)
    verdict = consensus(probs.expand(50, -1, -1).numpy(), 1, Gate1Config())
    assert all(s == 0.0 for row in verdict.std for s in row)
    assert verdict.uncertainty == 0.0 and verdict.mutual_information == 0.0


def test_every_agent_and_the_critic_get_gradients():
    net = model().train()
    obs = observation(batch=3)
    logits, value = net(*obs, net.sample_masks(3, torch.Generator().manual_seed(0)))
    (logits.sum() + value.sum()).backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
