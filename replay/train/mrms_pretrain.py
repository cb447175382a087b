"""Full-information pretraining of the M-RMS before PPO (training layer).

For each training setup the broker knows, in hindsight, the net P&L of one contract with
every bracket on a grid over the M-RMS's ranges (:mod:`replay.train.outcomes`). The size the hard
limits allow for each stop (the per-trade risk cap on the account's equity) is known too. So
the expected utility of the M-RMS's whole proposal distribution is a sum, with no sampling:

    E[U] = sum_k sum_s sum_r  P(size = k) * w(stop_s) * v(rr_r) * U(k, s, r)
    U(k, s, r) = (g - g^2 / (2 * kelly_fraction)) / b  -  penalty * cut(k, s),
    g = min(k, cap_s) * pnl(s, r) / equity,

where ``g`` is the trade's return on the equity, ``b`` the per-trade risk allowance as a
fraction of the equity (``max_risk_pct / 100``: it only scales the utility to about one unit
per allowance), ``cut(k, s)`` the share of a request the limits would remove (the
environment's ``violation_penalty``), and ``w`` / ``v`` the M-RMS's Beta densities at the
grid's cells, normalised over the grid. ``g - g^2 / 2`` is the second-order expansion of
log-wealth growth (the Kelly criterion); dividing the quadratic term by ``kelly_fraction``
sizes as a fractional-Kelly bettor (0.5: half Kelly). Size grows with the expected result and
shrinks with its dispersion, size 0 (``U = 0``) is chosen only where the model expects
trading to lose, and, unlike the Sortino-change reward of PPO alone, abstaining from a winner
forgoes its utility. The loss is ``-E[U]`` minus a small entropy bonus on the size, averaged
over the training setups, with their account states taken from the fixed rule's episode over
them, plus ``prior_weight`` times the negative log-likelihood of the fixed rule's action (1
contract, 2 ATR stop, reward/risk 2) under the model: a shrinkage toward the baseline, so that
with the few dozen setups a data set gives, the M-RMS departs from the rule only where the
outcomes say so consistently, instead of memorising which training setups won.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.distributions import Beta

from components.risk.model import RiskHeads, RiskModel
from replay.train.outcomes import FIXED_BRACKET, Outcomes
from replay.train_config import EnvConfig, MrmsPretrainConfig

__all__ = ["expected_utility", "pretrain_mrms", "size_caps"]

_EPS = 1e-4


def size_caps(outcomes: Outcomes, equity: Sequence[float], env: EnvConfig,
              max_contracts: int) -> np.ndarray:
    """The contracts the per-trade risk limit allows per setup and stop, ``(n, S)``."""
    budget = env.limits.max_risk_pct / 100.0 * np.asarray(equity, dtype=np.float64)
    caps = np.floor(budget[:, None] / outcomes.risk)
    return np.clip(caps, 0, min(max_contracts, env.limits.max_contracts))


def expected_utility(model: RiskModel, x: torch.Tensor, pnl: torch.Tensor, caps: torch.Tensor,
                     equity: torch.Tensor, stops: torch.Tensor, rrs: torch.Tensor,
                     kelly_fraction: float, allowance: float, penalty: float
                     ) -> torch.Tensor:
    """``E[U]`` per row (module docstring): ``x`` ``(B, inputs)``, ``pnl`` ``(B, S, K)`` USD
    of one contract, ``caps`` ``(B, S)``, ``equity`` ``(B,)``, grid ``stops`` ``(S,)`` and
    ``rrs`` ``(K,)`` in the model's units, ``allowance`` the per-trade risk fraction ``b``."""
    c = model.config
    heads = model(x)
    p_size = torch.softmax(heads.size_logits, dim=-1)  # (B, M + 1)
    u_stop = ((stops - c.stop_min) / (c.stop_max - c.stop_min)).clamp(_EPS, 1 - _EPS)
    u_rr = ((rrs - c.rr_min) / (c.rr_max - c.rr_min)).clamp(_EPS, 1 - _EPS)
    w = torch.softmax(Beta(heads.stop_alpha[:, None], heads.stop_beta[:, None])
                      .log_prob(u_stop[None, :]), dim=-1)  # type: ignore[no-untyped-call]
    v = torch.softmax(Beta(heads.rr_alpha[:, None], heads.rr_beta[:, None])
                      .log_prob(u_rr[None, :]), dim=-1)  # type: ignore[no-untyped-call]
    k = torch.arange(c.max_contracts + 1, dtype=x.dtype)  # (M + 1,)
    allowed = torch.minimum(k[None, :, None], caps[:, None, :])  # (B, M + 1, S)
    cut = torch.where(k[None, :, None] > 0, (k[None, :, None] - allowed)
                      / k.clamp_min(1)[None, :, None], torch.zeros_like(allowed))
    g = allowed[..., None] * pnl[:, None] / equity[:, None, None, None]  # (B, M + 1, S, K)
    u = (g - g * g / (2.0 * kelly_fraction)) / allowance - penalty * cut[..., None]
    return torch.einsum("bm,bs,br,bmsr->b", p_size, w, v, u)


def _prior_loss(model: RiskModel, heads: RiskHeads, log_p: torch.Tensor) -> torch.Tensor:
    """The negative log-likelihood of the fixed rule's action (1 contract, its stop and
    reward/risk) under the model's distributions: the pull toward the baseline."""
    c = model.config
    stop, rr = FIXED_BRACKET
    u_stop = min(max((stop - c.stop_min) / (c.stop_max - c.stop_min), _EPS), 1 - _EPS)
    u_rr = min(max((rr - c.rr_min) / (c.rr_max - c.rr_min), _EPS), 1 - _EPS)
    size = log_p[:, min(1, c.max_contracts)]
    stop_lp = Beta(heads.stop_alpha, heads.stop_beta).log_prob(  # type: ignore[no-untyped-call]
        torch.full_like(heads.stop_alpha, u_stop))
    rr_lp = Beta(heads.rr_alpha, heads.rr_beta).log_prob(  # type: ignore[no-untyped-call]
        torch.full_like(heads.rr_alpha, u_rr))
    return -(size + stop_lp + rr_lp).mean()


def pretrain_mrms(model: RiskModel, states: Sequence[tuple[float, ...]], outcomes: Outcomes,
                  equity: Sequence[float], env: EnvConfig, config: MrmsPretrainConfig,
                  seed: int) -> dict[str, float]:
    """Fit ``model`` to the training setups' full-information utilities (module docstring);
    return the final mean utility and the share of setups the deterministic size trades."""
    if not (len(states) == len(outcomes) == len(equity)):
        raise ValueError(f"states, outcomes, equity: expected equal lengths, were "
                         f"{len(states)}, {len(outcomes)}, {len(equity)}")
    c = model.config
    x = torch.tensor(states, dtype=torch.float32)
    pnl = torch.tensor(outcomes.pnl, dtype=torch.float32)
    caps = torch.tensor(size_caps(outcomes, equity, env, c.max_contracts), dtype=torch.float32)
    wealth = torch.tensor(np.asarray(equity), dtype=torch.float32)
    stops = torch.tensor(outcomes.stops, dtype=torch.float32)
    rrs = torch.tensor(outcomes.rrs, dtype=torch.float32)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed + 11)
    n = x.shape[0]
    utility = 0.0
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, config.minibatch):
            idx = order[start:start + config.minibatch]
            gain = expected_utility(model, x[idx], pnl[idx], caps[idx], wealth[idx], stops, rrs,
                                    config.kelly_fraction, env.limits.max_risk_pct / 100.0,
                                    env.violation_penalty)
            heads = model(x[idx])
            log_p = torch.log_softmax(heads.size_logits, -1)
            entropy = -(log_p.exp() * log_p).sum(-1)
            loss = -(gain + config.entropy * entropy).mean()
            if config.prior_weight > 0:
                loss = loss + config.prior_weight * _prior_loss(model, heads, log_p)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            utility = gain.mean().item()
    model.eval()
    with torch.no_grad():
        sizes = model.propose(x)[0]
    return {"pretrain/utility": utility, "pretrain/trade_share": float((sizes > 0).float().mean())}
