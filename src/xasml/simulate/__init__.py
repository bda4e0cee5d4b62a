"""xasml.simulate: physics engines behind one protocol, and campaigns over designs."""

from ._design import Design, grid, latin_hypercube, param_key
from .analytic import AnalyticEngine
from .base import ENGINES, Engine, get_engine
from .campaign import CampaignResult, Failure, run_campaign

__all__ = [
    "ENGINES",
    "AnalyticEngine",
    "CampaignResult",
    "Design",
    "Engine",
    "Failure",
    "get_engine",
    "grid",
    "latin_hypercube",
    "param_key",
    "run_campaign",
]
