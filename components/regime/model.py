"""The Regime Detection Engine's network: Transformer encoder + VAE head (pure ``nn.Module``s).

docs/design.md sections 4 and 6. Input: a regime matrix window ``(batch, window, features)`` (96 x
26
from :class:`components.assemblers.RegimeAssembler`). A linear projection to ``d_model``, fixed
sinusoidal positional encoding, a batch-first Transformer encoder with GELU, attention pooling
over time (a learned query scores every step; the softmax-weighted sum is the summary), then
the VAE head: ``mu`` and ``log_var`` of an ``latent``-dimensional Gaussian (8 by default). The
decoder maps a latent vector back to the whole window: the latent projected to ``d_model`` and
added to the positional encoding of every step, a small Transformer encoder, a linear map to
the features. Inference returns ``mu`` (the regime vector). The original system shipped this
model untrained, padded its input with zeros to 155 features and loaded weights with
``strict=False`` (spec section 7); here the shapes are exact and fixed by the config.

The default size (d_model 64, 4 heads, 2 layers) trains on 2 CPU cores in minutes; the
original's (256, 8 heads, 6 layers) is ``RegimeModelConfig(d_model=256, heads=8, layers=6,
feedforward=1024)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from components.regime.model_config import RegimeModelConfig

__all__ = ["RegimeModel", "RegimeModelConfig", "kl_per_dimension", "vae_loss"]


def sinusoidal_encoding(length: int, d_model: int) -> Tensor:
    """The fixed ``(length, d_model)`` encoding of Vaswani et al. (sin on even, cos on odd)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (length, 1)
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                     * (-math.log(10_000.0) / d_model))  # (d_model / 2,)
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table


def _encoder(config: RegimeModelConfig, layers: int) -> nn.TransformerEncoder:
    # pre-norm layers (LayerNorm before attention and feed-forward) and a final LayerNorm:
    # post-norm layers without a learning-rate warm-up left the latent unused on real windows
    layer = nn.TransformerEncoderLayer(config.d_model, config.heads, config.feedforward,
                                       config.dropout, activation="gelu", batch_first=True,
                                       norm_first=True)
    return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(config.d_model),
                                 enable_nested_tensor=False)


class AttentionPool(nn.Module):
    """Softmax-weighted sum over time with a learned scoring vector."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.score = nn.Linear(d_model, 1)

    def forward(self, x: Tensor) -> Tensor:  # x: (batch, time, d_model)
        weights = torch.softmax(self.score(x), dim=1)  # (batch, time, 1)
        return (weights * x).sum(dim=1)  # (batch, d_model)


class RegimeModel(nn.Module):
    """Transformer + VAE over a regime window: ``forward`` gives (reconstruction, mu,
    log_var); :meth:`encode` gives ``mu``, the regime vector."""

    def __init__(self, config: RegimeModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.project = nn.Linear(config.features, d)
        self.register_buffer("position", sinusoidal_encoding(config.window, d),
                             persistent=False)
        self.encoder = _encoder(config, config.layers)
        self.pool = AttentionPool(d)
        self.mu = nn.Linear(d, config.latent)
        self.log_var = nn.Linear(d, config.latent)
        self.expand = nn.Linear(config.latent, d)
        self.decoder = _encoder(config, config.decoder_layers)
        self.out = nn.Linear(d, config.features)

    def _check(self, x: Tensor) -> None:
        c = self.config
        if x.dim() != 3 or x.shape[1:] != (c.window, c.features):
            raise ValueError(f"RegimeModel input: expected (batch, {c.window}, {c.features}), "
                             f"was {tuple(x.shape)}")

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``mu`` and ``log_var``, each ``(batch, latent)``, of windows ``(batch, T, F)``."""
        self._check(x)
        h = self.project(x) + self.position  # (batch, T, d_model)
        h = self.encoder(h)  # (batch, T, d_model)
        pooled = self.pool(h)  # (batch, d_model)
        return self.mu(pooled), self.log_var(pooled)

    def decode(self, z: Tensor) -> Tensor:
        """Windows ``(batch, T, F)`` reconstructed from latents ``(batch, latent)``."""
        h = self.expand(z).unsqueeze(1) + self.position  # (batch, T, d_model)
        out: Tensor = self.out(self.decoder(h))  # (batch, T, F)
        return out

    def forward(self, x: Tensor, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruction, ``mu``, ``log_var``; samples ``z`` in training mode (with
        ``generator`` for reproducible noise), uses ``mu`` in eval mode."""
        mu, log_var = self.encode(x)
        if self.training:
            noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
            z = mu + noise * torch.exp(0.5 * log_var)
        else:
            z = mu
        return self.decode(z), mu, log_var


def kl_per_dimension(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: ``(latent,)``."""
    return (-0.5 * (1.0 + log_var - mu.pow(2) - log_var.exp())).mean(dim=0)


def vae_loss(x: Tensor, reconstruction: Tensor, mu: Tensor, log_var: Tensor,
             beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """Total, reconstruction (mean squared error per value) and KL (summed over latent
    dimensions, averaged over the batch): ``total = reconstruction + beta * kl``."""
    recon = F.mse_loss(reconstruction, x)
    kl = kl_per_dimension(mu, log_var).sum()
    return recon + beta * kl, recon, kl
