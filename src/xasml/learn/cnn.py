"""A small 1-D convolutional network for spectra.

Convolutions share weights along the energy axis, so a feature (an edge, a
pre-edge peak) is recognised wherever it sits; this helps when spectra are
not perfectly aligned. The network is::

    [Conv1d(k, 'same') ReLU MaxPool1d(2)] x len(channels)  Flatten  MLP head

where the head is :func:`xasml.learn.build_mlp` (same dropout placement as
the MLP). Training uses the same loop, losses and parameters as the MLPs
(:mod:`xasml.learn._torch_base`).

References
----------
M. R. Carbone et al., Phys. Rev. Materials 3, 033604 (2019) (CNN variant).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from ._torch_base import (
    _import_torch,
    _torch_tags,
    _TorchClassifierMixin,
    _TorchRegressorMixin,
    _TorchSpectrumEstimator,
)
from .mlp import _PARAMS_DOC, build_mlp

__all__ = ["SpectrumCNNRegressor", "SpectrumCNNClassifier", "build_cnn"]


def build_cnn(
    n_features: int,
    n_outputs: int,
    channels: tuple[int, ...],
    kernel_size: int,
    hidden_layer_sizes: tuple[int, ...],
    dropout: float,
) -> Any:
    """Build the CNN as a ``torch.nn.Sequential`` mapping ``(batch, n_features)``
    to ``(batch, n_outputs)``.

    Parameters
    ----------
    channels
        Output channels of each convolution block.
    kernel_size
        Convolution kernel width in energy points (``padding='same'``).
    hidden_layer_sizes, dropout
        The dense head (see :func:`xasml.learn.build_mlp`).
    """
    nn = _import_torch().nn
    layers: list[Any] = [nn.Unflatten(1, (1, n_features))]
    c_in, length = 1, n_features
    for c_out in channels:
        layers += [
            nn.Conv1d(c_in, int(c_out), int(kernel_size), padding="same"),
            nn.ReLU(),
            nn.MaxPool1d(2, ceil_mode=True),
        ]
        c_in, length = int(c_out), math.ceil(length / 2)
    layers.append(nn.Flatten())
    head = build_mlp(c_in * length, n_outputs, hidden_layer_sizes, dropout)
    return nn.Sequential(*layers, *head)


_CNN_DOC = """    channels
        Output channels of the convolution blocks (default ``(8, 16)``).
    kernel_size
        Convolution width in energy points (default 5).
"""


class SpectrumCNNRegressor(_TorchRegressorMixin, _TorchSpectrumEstimator):
    __doc__ = (
        """1-D CNN regressor (L1 loss on standardised targets, multi-output).
    """
        + _PARAMS_DOC
        + _CNN_DOC
    )

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (8, 16),
        kernel_size: int = 5,
        hidden_layer_sizes: tuple[int, ...] = (64,),
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
        self.channels = channels
        self.kernel_size = kernel_size
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
        return build_cnn(n_features, n_outputs, self.channels, self.kernel_size,
                         self.hidden_layer_sizes, self.dropout)

    def __sklearn_tags__(self) -> Any:
        return _torch_tags(super().__sklearn_tags__(), regressor=True)


class SpectrumCNNClassifier(_TorchClassifierMixin, _TorchSpectrumEstimator):
    __doc__ = (
        """1-D CNN classifier (cross-entropy, optional class weights).
    """
        + _PARAMS_DOC
        + _CNN_DOC
        + """    class_weight
        ``None``, ``"balanced"`` or a dict ``{label: weight}``.
    """
    )

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (8, 16),
        kernel_size: int = 5,
        hidden_layer_sizes: tuple[int, ...] = (64,),
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
        self.channels = channels
        self.kernel_size = kernel_size
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
        return build_cnn(n_features, n_outputs, self.channels, self.kernel_size,
                         self.hidden_layer_sizes, self.dropout)

    def __sklearn_tags__(self) -> Any:
        return _torch_tags(super().__sklearn_tags__(), regressor=False)
