"""The M-RMS network: three sub-networks and a value head (pure ``nn.Module``s).

docs/design.md section 4. Input: ``[setup features || regime vector || account state]``
(``RiskModelConfig.inputs`` floats, see :mod:`components.risk.setup_features`). Three separate
sub-networks (two hidden layers each, GELU) propose

- the **size**: logits of a categorical over ``0 .. max_contracts`` contracts;
- the **stop distance** in ATRs: a Beta distribution on [0, 1] mapped linearly to
  ``[stop_min, stop_max]``;
- the **target** as reward/risk: a Beta mapped to ``[rr_min, rr_max]``;

and a fourth network estimates the state's **value** (the PPO critic). Both Beta
concentrations are ``1 + softplus(.)``, so every distribution is unimodal or flat and its mode
exists. Sampling (training) and the deterministic choice (inference: the most likely size and
the Beta modes) stay inside the action ranges by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Beta, Categorical

from components.risk.model_config import RiskModelConfig

__all__ = ["RiskAction", "RiskHeads", "RiskModel", "RiskModelConfig"]

_EPS = 1e-6


def _mlp(inputs: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, outputs))


@dataclass(frozen=True)
class RiskHeads:
    """Raw outputs for a batch: size logits ``(B, max + 1)``, Beta concentrations of stop and
    target ``(B,)`` each, value ``(B,)``."""

    size_logits: Tensor
    stop_alpha: Tensor
    stop_beta: Tensor
    rr_alpha: Tensor
    rr_beta: Tensor
    value: Tensor


@dataclass(frozen=True)
class RiskAction:
    """A batch of actions: size (contracts), stop (ATRs), reward/risk, their unit-interval
    forms (what the Betas model), the joint log-probability, and the confidence (probability of
    the chosen size)."""

    size: Tensor
    stop_atr: Tensor
    rr: Tensor
    stop_unit: Tensor
    rr_unit: Tensor
    log_prob: Tensor
    confidence: Tensor


class RiskModel(nn.Module):
    """Size, stop and target proposals plus a value estimate from one input vector."""

    def __init__(self, config: RiskModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.size = _mlp(c.inputs, c.hidden, c.max_contracts + 1, c.dropout)
        self.stop = _mlp(c.inputs, c.hidden, 2, c.dropout)
        self.target = _mlp(c.inputs, c.hidden, 2, c.dropout)
        self.value = _mlp(c.inputs, c.hidden, 1, c.dropout)

    def forward(self, x: Tensor) -> RiskHeads:  # x: (batch, inputs)
        c = self.config
        if x.dim() != 2 or x.shape[1] != c.inputs:
            raise ValueError(f"RiskModel input: expected (batch, {c.inputs}), was "
                             f"{tuple(x.shape)}")
        stop = 1.0 + F.softplus(self.stop(x))  # (batch, 2)
        rr = 1.0 + F.softplus(self.target(x))
        return RiskHeads(self.size(x), stop[:, 0], stop[:, 1], rr[:, 0], rr[:, 1],
                         self.value(x).squeeze(-1))

    def distributions(self, heads: RiskHeads) -> tuple[Categorical, Beta, Beta]:
        """The three action distributions of ``heads``."""
        return (Categorical(logits=heads.size_logits), Beta(heads.stop_alpha, heads.stop_beta),
                Beta(heads.rr_alpha, heads.rr_beta))

    def act(self, x: Tensor, generator: torch.Generator | None = None,
            deterministic: bool = False) -> tuple[RiskAction, Tensor]:
        """Sample (or, ``deterministic``, take the most likely size and the Beta modes) an
        action for each row; also return the value estimates."""
        heads = self(x)
        size_d, stop_d, rr_d = self.distributions(heads)
        if deterministic:
            size = heads.size_logits.argmax(dim=-1)
            stop_u = _beta_mode(heads.stop_alpha, heads.stop_beta)
            rr_u = _beta_mode(heads.rr_alpha, heads.rr_beta)
        else:
            probs = torch.softmax(heads.size_logits, dim=-1)
            size = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            stop_u = _beta_sample(heads.stop_alpha, heads.stop_beta, generator)
            rr_u = _beta_sample(heads.rr_alpha, heads.rr_beta, generator)
        stop_u, rr_u = stop_u.clamp(_EPS, 1 - _EPS), rr_u.clamp(_EPS, 1 - _EPS)
        log_prob = _log_prob(size_d, stop_d, rr_d, size, stop_u, rr_u)
        confidence = size_d.probs.gather(-1, size.unsqueeze(-1)).squeeze(-1)
        c = self.config
        action = RiskAction(size, c.stop_min + (c.stop_max - c.stop_min) * stop_u,
                            c.rr_min + (c.rr_max - c.rr_min) * rr_u, stop_u, rr_u, log_prob,
                            confidence)
        return action, heads.value

    def propose(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The deterministic proposal without building distributions (the serving path):
        size (most likely), stop in ATRs and reward/risk (Beta modes), confidence (the size's
        probability); the same values as ``act(x, deterministic=True)``."""
        heads = self(x)
        c = self.config
        size = heads.size_logits.argmax(dim=-1)
        probs = torch.softmax(heads.size_logits, dim=-1)
        confidence = probs.gather(-1, size.unsqueeze(-1)).squeeze(-1)
        stop_u = _beta_mode(heads.stop_alpha, heads.stop_beta).clamp(_EPS, 1 - _EPS)
        rr_u = _beta_mode(heads.rr_alpha, heads.rr_beta).clamp(_EPS, 1 - _EPS)
        return (size, c.stop_min + (c.stop_max - c.stop_min) * stop_u,
                c.rr_min + (c.rr_max - c.rr_min) * rr_u, confidence)

    def evaluate(self, x: Tensor, size: Tensor, stop_unit: Tensor, rr_unit: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor]:
        """Log-probability and entropy of given actions, and the values (for PPO updates)."""
        heads = self(x)
        size_d, stop_d, rr_d = self.distributions(heads)
        stop_unit, rr_unit = stop_unit.clamp(_EPS, 1 - _EPS), rr_unit.clamp(_EPS, 1 - _EPS)
        log_prob = _log_prob(size_d, stop_d, rr_d, size, stop_unit, rr_unit)
        entropy: Tensor = size_d.entropy() + stop_d.entropy() + rr_d.entropy()  # type: ignore[no-untyped-call]
        return log_prob, entropy, heads.value


def _log_prob(size_d: Categorical, stop_d: Beta, rr_d: Beta, size: Tensor, stop_u: Tensor,
              rr_u: Tensor) -> Tensor:
    """Joint log-probability of the three independent parts of an action."""
    out: Tensor = size_d.log_prob(size) + stop_d.log_prob(stop_u) + rr_d.log_prob(rr_u)  # type: ignore[no-untyped-call]
    return out


def _beta_mode(alpha: Tensor, beta: Tensor) -> Tensor:
    """Mode of Beta(alpha, beta) for alpha, beta >= 1 (0.5 when both are 1: flat)."""
    total = alpha + beta - 2.0
    return torch.where(total > _EPS, (alpha - 1.0) / total.clamp_min(_EPS),
                       torch.full_like(alpha, 0.5))


def _beta_sample(alpha: Tensor, beta: Tensor, generator: torch.Generator | None) -> Tensor:
    """Beta samples from two Gamma draws of an explicit generator (torch's ``Beta.sample``
    takes none): X / (X + Y), X ~ Gamma(alpha), Y ~ Gamma(beta)."""
    g = generator if generator is not None else torch.default_generator
    x, y = _gamma(alpha, g), _gamma(beta, g)
    return x / (x + y)


def _gamma(shape: Tensor, generator: torch.Generator) -> Tensor:
    """Gamma(shape, 1) samples for shape >= 1 by Marsaglia and Tsang's method, drawing only
    from ``generator`` (rejection done per element, vectorised)."""
    d = shape - 1.0 / 3.0
    c = 1.0 / torch.sqrt(9.0 * d)
    out = torch.empty_like(shape)
    todo = torch.ones_like(shape, dtype=torch.bool)
    while bool(todo.any()):
        z = torch.randn(shape.shape, generator=generator, dtype=shape.dtype)
        u = torch.rand(shape.shape, generator=generator, dtype=shape.dtype)
        v = (1.0 + c * z) ** 3
        ok = (v > 0) & (torch.log(u.clamp_min(1e-30)) < 0.5 * z * z + d - d * v
                        + d * torch.log(v.clamp_min(1e-30)))
        take = ok & todo
        out = torch.where(take, d * v, out)
        todo = todo & ~take
    return out
