"""Building a serving network from registered weight bytes (component layer, torch).

The learned components receive their weights in their config as the bytes of the registry's
``weights.pt`` (they read no file); :func:`load_network` builds the network without consuming
the caller's random numbers, loads the weights strictly and returns it in eval mode.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

__all__ = ["load_network"]

M = TypeVar("M", bound=nn.Module)


def load_network(build: Callable[[], M], weights: bytes) -> M:
    """``build()`` (its initial weights drawn from a forked RNG), then ``weights`` loaded with
    ``strict=True`` under ``weights_only``; eval mode."""
    with torch.random.fork_rng(devices=[]):
        network = build()
    state = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
    network.load_state_dict(state, strict=True)
    network.eval()
    return network
