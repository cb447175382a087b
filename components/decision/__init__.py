"""The MARL decision layer (component layer package): the three-agent network with
communication and a centralised critic (:mod:`components.decision.model`, torch), gate 1 as a
pure function (:mod:`components.decision.gate`) and the component that runs both on the bus."""

from components.decision.gate import Gate1Config, Gate1Verdict, consensus
from components.decision.model_config import ACTIONS, AGENTS, MarlModelConfig

__all__ = ["ACTIONS", "AGENTS", "Gate1Config", "Gate1Verdict", "MarlModelConfig", "consensus"]
