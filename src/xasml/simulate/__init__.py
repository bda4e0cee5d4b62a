"""xasml.simulate: physics engines behind one protocol, and their structure sources."""

from .base import ENGINES, Engine, get_engine
from .feff import FeffEngine
from .structures import absorber_labels, oxide_prototypes, read_structure

__all__ = [
    "ENGINES",
    "Engine",
    "FeffEngine",
    "absorber_labels",
    "get_engine",
    "oxide_prototypes",
    "read_structure",
]
