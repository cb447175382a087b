"""The MARL decision network: three agents, communication, a centralised critic (component layer).

- **structure** reads the slow matrix: a 1-D convolution over time, then attention pooling
  over the bars (a learned score per bar, softmax, weighted sum);
- **tactical** reads the fast matrix: a bidirectional LSTM, then attention pooling;
- **arbitrageur** reads both embeddings and the regime vector.

Each agent's embedding starts its state. Communication runs ``rounds`` times: every agent
sends a message (a linear map of its state), reads the others' messages weighted by attention
(its query against their keys, itself excluded) and updates its state with a GRU cell whose
input is the attended message, the setup's features and the agent's identity. Each agent's
policy head maps its final state to logits over ``ACTIONS`` (pass, long, short). The
centralised critic values the joint state: the three final states, the regime vector and the
setup.

**Dropout with explicit masks.** Every dropout site multiplies by a mask the caller passes
(:meth:`MarlModel.sample_masks`), one row per batch row, shared along the time axis. The
forward pass is therefore a pure function of its inputs and masks: the model stays in eval
mode, nothing is switched or mutated between samples, and the MC-Dropout gate runs its 50
samples as one batched forward whose rows equal 50 single forwards with the same masks
(tested). Without masks the forward is deterministic (no dropout).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from components.decision.model_config import ACTIONS, AGENTS, MarlModelConfig

__all__ = ["MarlModel", "MarlModelConfig", "Masks"]

Masks = list[torch.Tensor]
"""One tensor per dropout site (:attr:`MarlModel.sites`), each ``(batch, width)``."""


class _AttentionPool(nn.Module):
    """Softmax-weighted sum over time of ``(batch, time, width)``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.project = nn.Linear(width, width)
        self.score = nn.Linear(width, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(torch.tanh(self.project(x))).squeeze(-1), dim=-1)
        return torch.einsum("bt,btw->bw", weights, x)


class MarlModel(nn.Module):
    """See the module docstring. ``forward`` returns ``(logits (B, 3, 3), value (B,))``."""

    def __init__(self, config: MarlModelConfig) -> None:
        super().__init__()
        c = self.config = config
        h = c.hidden
        self.conv = nn.Conv1d(c.slow_features, c.conv_channels, c.kernel, padding=c.kernel // 2)
        self.structure_pool = _AttentionPool(c.conv_channels)
        self.structure_out = nn.Linear(c.conv_channels, h)
        self.lstm = nn.LSTM(c.fast_features, c.lstm, batch_first=True, bidirectional=True)
        self.tactical_pool = _AttentionPool(2 * c.lstm)
        self.tactical_out = nn.Linear(2 * c.lstm, h)
        self.arbitrageur = nn.Sequential(nn.Linear(2 * h + c.regime, h), nn.GELU(),
                                         nn.Linear(h, h))
        self.message = nn.Linear(h, h)
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.update = nn.GRUCell(h + c.setup + len(AGENTS), h)
        self.heads = nn.ModuleList(nn.Linear(h, len(ACTIONS)) for _ in AGENTS)
        self.own = (nn.ModuleList(nn.Linear(h, len(ACTIONS)) for _ in AGENTS)
                    if c.own_heads else None)
        self.linear = (nn.Linear(c.setup + c.regime, len(AGENTS) * len(ACTIONS))
                       if c.linear_heads else None)
        self.critic = nn.Sequential(nn.Linear(3 * h + c.regime + c.setup, h), nn.GELU(),
                                    nn.Linear(h, 1))
        self.identity: torch.Tensor
        self.register_buffer("identity", torch.eye(len(AGENTS)), persistent=False)
        self.input_mean: torch.Tensor
        self.input_std: torch.Tensor
        if c.standardise:  # saved with the weights: set from the training setups
            self.register_buffer("input_mean", torch.zeros(c.regime + c.setup))
            self.register_buffer("input_std", torch.ones(c.regime + c.setup))

    def set_standardisation(self, regime: torch.Tensor, setup: torch.Tensor) -> None:
        """Standardise the regime vector and the setup features by the mean and std of these
        training rows ``(n, regime)`` / ``(n, setup)`` (a constant column keeps std 1)."""
        if not self.config.standardise:
            raise ValueError("set_standardisation: expected a model with standardise = true")
        x = torch.cat([regime, setup], dim=-1).double()
        std = x.std(dim=0, unbiased=False)
        self.input_mean.copy_(x.mean(dim=0).float())
        self.input_std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)).float())

    def _scaled(self, regime: torch.Tensor, setup: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.config.standardise:
            return regime, setup
        r = self.config.regime
        regime = (regime - self.input_mean[:r]) / self.input_std[:r]
        if setup is not None:
            setup = (setup - self.input_mean[r:]) / self.input_std[r:]
        return regime, setup

    @property
    def sites(self) -> tuple[int, ...]:
        """Width of each dropout site: the convolution's channels, the LSTM's outputs, the
        three embeddings, the three final states."""
        c = self.config
        return (c.conv_channels, 2 * c.lstm, *(c.hidden,) * 6)

    def sample_masks(self, batch: int, generator: torch.Generator | None = None
                     ) -> Masks | None:
        """Inverted-dropout masks for ``batch`` rows (``None`` when the rate is 0): each entry
        is 0 with probability ``dropout``, else ``1 / (1 - dropout)``."""
        p = self.config.dropout
        if p == 0.0:
            return None
        keep = 1.0 - p
        return [(torch.rand((batch, width), generator=generator) < keep).float() / keep
                for width in self.sites]

    def embed(self, slow: torch.Tensor, fast: torch.Tensor, regime: torch.Tensor,
              masks: Masks | None = None) -> torch.Tensor:
        """Each agent's embedding from its own inputs, before any communication:
        ``(B, agents, hidden)`` (structure: the slow matrix; tactical: the fast matrix;
        arbitrageur: both embeddings and the regime vector), the first five mask sites
        applied. With one observation and masks for ``S`` rows, ``B`` is ``S``."""
        return self._embed(slow, fast, self._scaled(regime, None)[0], masks)

    def _embed(self, slow: torch.Tensor, fast: torch.Tensor, regime: torch.Tensor,
               masks: Masks | None) -> torch.Tensor:
        m = masks if masks is not None else [None] * len(self.sites)
        conv = F.gelu(self.conv(slow.transpose(1, 2)))  # (B, C, T)
        lstm, _ = self.lstm(fast)  # (B, T, 2L)
        rows = m[0].shape[0] if m[0] is not None else conv.shape[0]
        if conv.shape[0] == 1 and rows > 1:
            conv, lstm = conv.expand(rows, -1, -1), lstm.expand(rows, -1, -1)
            regime = regime.expand(rows, -1)
        if m[0] is not None:
            conv = conv * m[0].unsqueeze(-1)
        structure = self.structure_out(self.structure_pool(conv.transpose(1, 2)))
        if m[1] is not None:
            lstm = lstm * m[1].unsqueeze(1)
        tactical = self.tactical_out(self.tactical_pool(lstm))
        arbitrageur = self.arbitrageur(torch.cat([structure, tactical, regime], dim=-1))
        states = [structure, tactical, arbitrageur]
        for i, mask in enumerate(m[2:5]):
            if mask is not None:
                states[i] = states[i] * mask
        return torch.stack(states, dim=1)  # (B, 3, H)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor, regime: torch.Tensor,
                setup: torch.Tensor, masks: Masks | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, agents, actions)`` and the critic's value ``(B,)``; ``slow`` is
        ``(B, slow_window, slow_features)``, ``fast`` ``(B, fast_window, fast_features)``.

        With one observation (``B`` = 1) and masks for ``S`` rows, the convolution and the
        LSTM (which no mask reaches) run once and their outputs are broadcast to the ``S``
        rows: the same numbers as ``S`` copies of the input, for a fraction of the work.
        """
        m = masks if masks is not None else [None] * len(self.sites)
        regime, scaled = self._scaled(regime, setup)
        assert scaled is not None
        setup = scaled
        state = embedded = self._embed(slow, fast, regime, masks)
        rows = state.shape[0]
        if regime.shape[0] == 1 and rows > 1:
            regime, setup = regime.expand(rows, -1), setup.expand(rows, -1)
        batch, agents, hidden = state.shape
        blocked = torch.eye(agents, dtype=torch.bool, device=state.device)
        context = torch.cat([setup.unsqueeze(1).expand(batch, agents, setup.shape[-1]),
                             self.identity.unsqueeze(0).expand(batch, agents, agents)], dim=-1)
        for _ in range(self.config.rounds):
            messages = self.message(state)
            scores = torch.einsum("bih,bjh->bij", self.query(state), self.key(messages))
            scores = scores / hidden ** 0.5
            weights = torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)
            received = torch.einsum("bij,bjh->bih", weights, messages)
            inputs = torch.cat([received, context], dim=-1).reshape(batch * agents, -1)
            state = self.update(inputs, state.reshape(batch * agents, hidden)).reshape(
                batch, agents, hidden)
        finals = [state[:, i] for i in range(agents)]
        for i, mask in enumerate(m[5:8]):
            if mask is not None:
                finals[i] = finals[i] * mask
        logits = torch.stack([head(x) for head, x in zip(self.heads, finals, strict=True)],
                             dim=1)
        if self.own is not None:  # each agent's own view, straight to its vote
            logits = logits + torch.stack([head(embedded[:, i])
                                           for i, head in enumerate(self.own)], dim=1)
        if self.linear is not None:  # (B, agents * actions) -> (B, agents, actions)
            logits = logits + self.linear(torch.cat([setup, regime], dim=-1)).view(
                batch, agents, -1)
        value = self.critic(torch.cat([*finals, regime, setup], dim=-1)).squeeze(-1)
        return logits, value

    def mc_probs(self, slow: torch.Tensor, fast: torch.Tensor, regime: torch.Tensor,
                 setup: torch.Tensor, masks: Masks | None) -> torch.Tensor:
        """Action probabilities ``(S, agents, actions)`` of one observation (batch 1) under
        ``S`` dropout masks, as one batched forward (the unmasked embedders run once, their
        outputs broadcast to the ``S`` rows); without masks, ``S`` = 1."""
        logits, _ = self.forward(slow, fast, regime, setup, masks)
        return torch.softmax(logits, dim=-1)
