"""Full-information pretraining of the MARL agents before MAPPO (training layer).

For each training setup the broker knows the net R of every action (:mod:`replay.train.outcomes`):
pass (0), long and short, one contract with the fixed bracket. A rollout sees the reward of
the one action it sampled; here every agent sees all three at once, a contextual bandit with
full information. Each agent ``i`` minimises

    - sum_a p_i(a | x) * (R(x, a) - R_base(x))  -  tau * H(p_i(. | x))

averaged over the training setups, where ``R_base`` is the fixed rule's R on the setup (take
it in its direction). Subtracting ``R_base`` changes no gradient (the probabilities sum to
1); it makes the objective read "R gained over taking every setup", so passing a winner
costs what the baseline earns on it and passing a loser earns what it loses. The entropy term
``tau`` keeps the optimum soft (``p ∝ exp(R / tau)`` per setup) so one lucky trade does not
make an agent certain.

**Each agent's own inputs must carry the signal.** After communication the three heads read
states that mixed every input, which is why agents trained by the team reward alone became
clones. Each agent therefore also has an *own head* on its embedding before communication
(structure: the slow matrix only; tactical: the fast matrix only; arbitrageur: both embeddings
and the regime vector; :meth:`~components.decision.model.MarlModel.embed`) trained on the
same objective with weight ``own_weight``; the own heads exist only in training.

Dropout masks are drawn fresh for every minibatch (the MC-Dropout gate's masks then sample
a model that was trained with them). Rewards are clipped to ``+-reward_clip``. Seeded,
deterministic; it runs once before MAPPO starts and its weights are MAPPO's first state, so a
resumed run does not repeat it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from components.decision.model import MarlModel
from components.decision.model_config import ACTIONS, AGENTS
from replay.train.mrms_data import SetupSample
from replay.train.outcomes import Outcomes
from replay.train_config import MarlPretrainConfig

__all__ = ["bandit_loss", "observations", "pretrain_agents"]


def observations(samples: Sequence[SetupSample]) -> tuple[torch.Tensor, ...]:
    """The network's four inputs for ``samples`` as batched float32 tensors."""
    assert all(s.slow is not None and s.fast is not None for s in samples)
    return (torch.from_numpy(np.stack([s.slow for s in samples]).astype(np.float32)),
            torch.from_numpy(np.stack([s.fast for s in samples]).astype(np.float32)),
            torch.tensor([s.regime for s in samples], dtype=torch.float32),
            torch.tensor([s.features for s in samples], dtype=torch.float32))


def bandit_loss(logits: torch.Tensor, rewards: torch.Tensor, tau: float) -> torch.Tensor:
    """The full-information bandit objective (module docstring) of ``logits``
    ``(B, agents, actions)`` for ``rewards`` ``(B, actions)``, averaged over rows and agents."""
    log_p = torch.log_softmax(logits, dim=-1)
    p = log_p.exp()
    gain = (p * rewards.unsqueeze(1)).sum(-1)  # (B, agents)
    entropy = -(p * log_p).sum(-1)
    return -(gain + tau * entropy).mean()


def pretrain_agents(model: MarlModel, samples: Sequence[SetupSample], outcomes: Outcomes,
                    config: MarlPretrainConfig, clip: float, seed: int) -> dict[str, float]:
    """Fit ``model`` to the training setups' full-information rewards (module docstring);
    return the final losses and each agent's mean probability of the best action."""
    if len(samples) != len(outcomes):
        raise ValueError(f"outcomes: expected {len(samples)} rows, was {len(outcomes)}")
    x = observations(samples)
    if model.config.standardise:
        model.set_standardisation(x[2], x[3])
    base = torch.tensor(outcomes.baseline, dtype=torch.float32).unsqueeze(-1)
    rewards = (torch.tensor(outcomes.fixed, dtype=torch.float32) - base).clamp(-clip, clip)
    hidden = model.config.hidden
    # the model's own heads when it has them (they also serve), else training-only ones
    own = (model.own if model.own is not None
           else nn.ModuleList(nn.Linear(hidden, len(ACTIONS)) for _ in AGENTS))
    params = list(dict.fromkeys([*model.parameters(), *own.parameters()]))
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed + 11)
    n = len(samples)
    team_loss = own_loss = 0.0
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, config.minibatch):
            idx = order[start:start + config.minibatch]
            batch = [t[idx] for t in x]
            masks = model.sample_masks(len(idx), generator)
            logits, _ = model(*batch, masks)
            embedded = model.embed(batch[0], batch[1], batch[2], masks)  # (b, agents, H)
            own_logits = torch.stack([head(embedded[:, i]) for i, head in enumerate(own)],
                                     dim=1)
            team = bandit_loss(logits, rewards[idx], config.temperature)
            mine = bandit_loss(own_logits, rewards[idx], config.temperature)
            loss = team + config.own_weight * mine
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            team_loss, own_loss = team.item(), mine.item()
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(*x)[0], dim=-1)  # (n, agents, actions)
        best = rewards.argmax(-1)
        p_best = probs.gather(-1, best.view(-1, 1, 1).expand(-1, len(AGENTS), 1)).squeeze(-1)
    out = {"pretrain/team_loss": team_loss, "pretrain/own_loss": own_loss}
    for i, agent in enumerate(AGENTS):
        out[f"pretrain/p_best_{agent}"] = float(p_best[:, i].mean())
    return out
