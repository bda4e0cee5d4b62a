"""Feed-forward networks that map spectra to properties or classes.

:class:`SpectrumMLPRegressor` follows Kiyohara et al. (2019): a fully
connected network with ReLU activations, dropout, mean-absolute-error loss on
standardised targets and Adam, predicting several local properties at once.
:class:`SpectrumMLPClassifier` is the same body with a softmax/cross-entropy
head, as used by Carbone et al. (2019) to classify coordination, symmetry and
oxidation state.

Dropout placement
-----------------
Dropout (rate ``dropout``, default 0.5) follows every hidden layer *except the
last hidden layer*, i.e. the one linked to the output layer. With
``hidden_layer_sizes=(a, b, c)`` the body is::

    Linear(n, a) ReLU Dropout  Linear(a, b) ReLU Dropout  Linear(b, c) ReLU  Linear(c, n_out)

so a single hidden layer has no dropout at all.

References
----------
H. Kiyohara, T. Mizoguchi et al., J. Phys. Mater. 2, 024003 (2019).
M. R. Carbone et al., Phys. Rev. Materials 3, 033604 (2019).
"""

from __future__ import annotations

from typing import Any, Literal

from ._torch_base import (
    _import_torch,
    _torch_tags,
    _TorchClassifierMixin,
    _TorchRegressorMixin,
    _TorchSpectrumEstimator,
)

__all__ = ["SpectrumMLPRegressor", "SpectrumMLPClassifier", "build_mlp"]


def build_mlp(
    n_features: int, n_outputs: int, hidden_layer_sizes: tuple[int, ...], dropout: float
) -> Any:
    """Build the MLP body as a ``torch.nn.Sequential``.

    Parameters
    ----------
    n_features
        Input width (energy points, plus appended scalar features).
    n_outputs
        Output width (targets, or classes for logits).
    hidden_layer_sizes
        Widths of the hidden layers; ``()`` gives a linear model.
    dropout
        Dropout rate after every hidden layer but the last (see module docs).

    Returns
    -------
    torch.nn.Sequential
        Maps ``(batch, n_features)`` to ``(batch, n_outputs)``.
    """
    nn = _import_torch().nn
    layers: list[Any] = []
    width = n_features
    sizes = tuple(int(s) for s in hidden_layer_sizes)
    for i, size in enumerate(sizes):
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout > 0 and i < len(sizes) - 1:
            layers.append(nn.Dropout(float(dropout)))
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes
        Widths of the hidden layers (default ``(128, 64)``).
    dropout
        Dropout rate after every hidden layer except the last one (default 0.5).
    learning_rate
        Adam step size (default 1e-3).
    weight_decay
        Adam L2 weight decay (default 0).
    batch_size
        Mini-batch size (default 64; capped at the training-set size).
    max_epochs
        Maximum number of passes over the training data (default 500).
    patience
        Early stopping: stop after this many epochs without improvement of
        the validation loss and restore the best weights (default 20).
    validation_fraction
        Fraction of the training data held out for early stopping (default
        0.1; 0 disables early stopping and trains ``max_epochs``).
    scale_inputs
        Standardise every input feature with its training mean and standard
        deviation (default True; keeps appended scalars such as an
        excitation energy in eV on the scale of the spectrum).
    random_state
        Seed of weight initialisation, shuffling, dropout and the validation
        split; an int gives identical fits on the same device.
    device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``.
    n_threads
        Torch CPU threads during fit/predict (restored afterwards); None
        leaves torch's setting alone.
"""


class SpectrumMLPRegressor(_TorchRegressorMixin, _TorchSpectrumEstimator):
    __doc__ = (
        """Multi-output MLP regressor with L1 loss on standardised targets.

    Targets are standardised with their training mean and standard deviation
    and predictions are transformed back, so targets in different units
    (bond length in Å, coordination number, charge) weigh alike in the loss.
    """
        + _PARAMS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from xasml.learn import SpectrumMLPRegressor
    >>> X = np.random.default_rng(0).normal(size=(64, 20)); y = X[:, :2]
    >>> model = SpectrumMLPRegressor(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    >>> model.fit(X, y).predict(X).shape
    (64, 2)
    """
    )

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (128, 64),
        dropout: float = 0.5,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 500,
        patience: int = 20,
        validation_fraction: float = 0.1,
        scale_inputs: bool = True,
        random_state: int | None = None,
        device: Literal["auto", "cpu", "cuda"] | str = "auto",
        n_threads: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.scale_inputs = scale_inputs
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    def _build_module(self, n_features: int, n_outputs: int) -> Any:
        return build_mlp(n_features, n_outputs, self.hidden_layer_sizes, self.dropout)

    def __sklearn_tags__(self) -> Any:
        return _torch_tags(super().__sklearn_tags__(), regressor=True)


class SpectrumMLPClassifier(_TorchClassifierMixin, _TorchSpectrumEstimator):
    __doc__ = (
        """MLP classifier (softmax / cross-entropy) for spectra.
    """
        + _PARAMS_DOC
        + """    class_weight
        ``None``, ``"balanced"`` (weights inversely proportional to class
        frequency) or a dict ``{label: weight}`` for imbalanced classes.
    """
    )

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (128, 64),
        dropout: float = 0.5,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 500,
        patience: int = 20,
        validation_fraction: float = 0.1,
        scale_inputs: bool = True,
        class_weight: Literal["balanced"] | dict[Any, float] | None = None,
        random_state: int | None = None,
        device: Literal["auto", "cpu", "cuda"] | str = "auto",
        n_threads: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.scale_inputs = scale_inputs
        self.class_weight = class_weight
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    def _build_module(self, n_features: int, n_outputs: int) -> Any:
        return build_mlp(n_features, n_outputs, self.hidden_layer_sizes, self.dropout)

    def __sklearn_tags__(self) -> Any:
        return _torch_tags(super().__sklearn_tags__(), regressor=False)
