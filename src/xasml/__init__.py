"""xasml: machine learning on X-ray absorption and core-loss spectra.

The package is laid out as the pipeline: :mod:`xasml.io` (readers/writers) →
:mod:`xasml.preprocess` → :mod:`xasml.simulate` → :mod:`xasml.learn` →
:mod:`xasml.apply` → :mod:`xasml.serve`, with :mod:`xasml.cli` on top. The
data model (spectra as ``xarray.DataArray`` with an ``energy`` coordinate in
eV) is in :mod:`xasml.datamodel`.
"""

from .datamodel import concat, describe, spectrum, stack, validate
from .errors import (
    EngineError,
    FormatError,
    InputError,
    ModelError,
    ParameterError,
    SpectrumError,
    XasmlError,
    XasmlWarning,
)

__version__ = "0.1.0"

__all__ = [
    "EngineError",
    "FormatError",
    "InputError",
    "ModelError",
    "ParameterError",
    "SpectrumError",
    "XasmlError",
    "XasmlWarning",
    "__version__",
    "concat",
    "describe",
    "spectrum",
    "stack",
    "validate",
]
