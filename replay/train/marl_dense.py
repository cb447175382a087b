"""Dense pretraining of the agents' embedders on every bar of the training period (training
layer).

Before the setups' full-information pretraining (:mod:`replay.train.marl_pretrain`), each agent's
embedding before communication (:meth:`~components.decision.model.MarlModel.embed`:
structure from the slow matrix, tactical from the fast matrix, arbitrageur from both and the
regime vector) learns to predict, through a small per-agent head, the two causal targets of
:mod:`replay.train.dense_data` (the return and the mean true range of the next bars, in ATRs) on
every kept bar of the training period: thousands of rows where the setups give a hundred. The
targets are standardised by their training mean and std; the loss is the Huber loss, averaged
over agents and targets; dropout masks are drawn per minibatch as in every other phase. The
heads are discarded; the embedders' weights carry on.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from components.decision.model import MarlModel
from components.decision.model_config import AGENTS
from replay.train.dense_data import DenseData
from replay.train_config import MarlDenseConfig

__all__ = ["pretrain_encoders"]


def pretrain_encoders(model: MarlModel, dense: DenseData, config: MarlDenseConfig,
                      seed: int, held_out: DenseData | None = None) -> dict[str, float]:
    """Fit the embedders to the dense targets (module docstring); return the first and last
    epochs' mean loss, the rows used and, with ``held_out`` rows (later than the training
    ones), each target's correlation between prediction and outcome there, averaged over the
    agents."""
    if len(dense) == 0:
        return {"dense/rows": 0.0}
    slow = torch.from_numpy(np.ascontiguousarray(dense.slow))
    fast = torch.from_numpy(np.ascontiguousarray(dense.fast))
    regime = torch.from_numpy(np.ascontiguousarray(dense.regime))
    y = torch.from_numpy(dense.targets).double()
    y = ((y - y.mean(0)) / y.std(0).clamp_min(1e-8)).float()
    heads = nn.ModuleList(nn.Linear(model.config.hidden, y.shape[1]) for _ in AGENTS)
    params = list(dict.fromkeys([*model.parameters(), *heads.parameters()]))
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed + 21)
    n = len(dense)
    losses = []
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, config.minibatch):
            idx = order[start:start + config.minibatch]
            masks = model.sample_masks(len(idx), generator)
            embedded = model.embed(slow[idx], fast[idx], regime[idx], masks)  # (b, agents, H)
            predicted = torch.stack([head(embedded[:, i]) for i, head in enumerate(heads)],
                                    dim=1)  # (b, agents, targets)
            loss = F.huber_loss(predicted, y[idx].unsqueeze(1).expand_as(predicted))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    model.eval()
    out = {"dense/rows": float(n), "dense/first_loss": losses[0] if losses else 0.0,
           "dense/last_loss": losses[-1] if losses else 0.0}
    if held_out is not None and len(held_out) > 2:
        with torch.no_grad():
            embedded = model.embed(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (
                held_out.slow, held_out.fast, held_out.regime)))
            predicted = np.stack([head(embedded[:, i]).numpy()
                                  for i, head in enumerate(heads)], axis=1)
        for k, name in enumerate(("return", "range")):
            corr = [np.corrcoef(predicted[:, i, k], held_out.targets[:, k])[0, 1]
                    for i in range(len(AGENTS))]
            out[f"dense/held_out_corr_{name}"] = float(np.nanmean(corr))
    return out
