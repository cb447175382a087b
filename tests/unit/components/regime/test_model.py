"""The regime model: exact shapes, a clear error on wrong input, deterministic initialisation
and training steps for a seed, mu at inference, the loss parts, and that it learns."""

import pytest
import torch

from components.regime.model import (
    RegimeModel,
    RegimeModelConfig,
    kl_per_dimension,
    sinusoidal_encoding,
    vae_loss,
)

TINY = RegimeModelConfig(features=5, window=12, d_model=16, heads=2, layers=1, feedforward=32,
                         latent=3)


def model(seed=0, config=TINY):
    torch.manual_seed(seed)
    return RegimeModel(config)


def batch(seed=1, n=6, config=TINY):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, config.window, config.features, generator=g)


def test_shapes_and_mu_at_inference():
    m = model().eval()
    x = batch()
    recon, mu, log_var = m(x)
    assert recon.shape == x.shape and mu.shape == (6, 3) and log_var.shape == (6, 3)
    with torch.inference_mode():
        again, mu2, _ = m(x)
        third, mu3, _ = m(x)
    # eval: z = mu, no noise; inference mode takes torch's fused encoder path, equal to the
    # autograd path to rounding and to itself exactly
    torch.testing.assert_close(mu2, mu.detach())
    torch.testing.assert_close(again, recon.detach())
    assert torch.equal(mu2, mu3) and torch.equal(again, third)
    assert torch.equal(m.encode(x)[0], mu)


def test_wrong_input_shape_is_refused_with_the_expected_shape():
    with pytest.raises(ValueError, match=r"expected \(batch, 12, 5\), was \(2, 12, 4\)"):
        model().encode(torch.zeros(2, 12, 4))


def test_same_seed_same_weights_and_same_training_steps():
    def train(seed):
        torch.manual_seed(seed)
        m = RegimeModel(TINY).train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        for step in range(3):
            x = batch(seed=step)
            recon, mu, log_var = m(x, generator=g)
            loss, _, _ = vae_loss(x, recon, mu, log_var, beta=1e-3)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return m.state_dict()

    a, b, c = train(0), train(0), train(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_kl_is_zero_for_the_prior_and_positive_elsewhere():
    mu, log_var = torch.zeros(4, 3), torch.zeros(4, 3)
    assert torch.equal(kl_per_dimension(mu, log_var), torch.zeros(3))
    kl = kl_per_dimension(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, -1.0]]))
    expected = torch.tensor([0.5, -0.5 * (2 - torch.e), -0.5 * (0 - torch.exp(torch.tensor(-1.0)))])
    torch.testing.assert_close(kl, expected)
    x = batch()
    total, recon, kl_sum = vae_loss(x, x, torch.zeros(6, 3), torch.zeros(6, 3), beta=0.5)
    assert recon.item() == 0.0 and kl_sum.item() == 0.0 and total.item() == 0.0


def test_positional_encoding_is_the_fixed_sinusoid():
    table = sinusoidal_encoding(4, 6)
    assert table[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(table[3, 0], torch.sin(torch.tensor(3.0)))
    torch.testing.assert_close(table[2, 3], torch.cos(torch.tensor(2.0 / 10_000 ** (2 / 6))))


def test_it_learns_to_reconstruct_a_fixed_batch():
    torch.manual_seed(0)
    m = RegimeModel(TINY).train()
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    x = batch()
    g = torch.Generator().manual_seed(0)
    first = None
    for _ in range(150):
        recon, mu, log_var = m(x, generator=g)
        loss, rec, _ = vae_loss(x, recon, mu, log_var, beta=1e-3)
        first = rec.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert rec.item() < 0.8 * first


def test_config_rejects_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match="d_model: expected a multiple of heads"):
        RegimeModelConfig(d_model=30, heads=4)


def test_default_and_original_sizes_build():
    default = RegimeModel(RegimeModelConfig())
    assert sum(p.numel() for p in default.parameters()) < 200_000
    assert default(torch.zeros(1, 96, 26))[1].shape == (1, 8)
    original = RegimeModelConfig(d_model=256, heads=8, layers=6, feedforward=1024)
    assert RegimeModel(original).config.layers == 6
