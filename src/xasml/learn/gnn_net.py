"""The structure → spectrum network and its training loss.

:func:`build_gnn` builds the network: an embedding of the node features,
``n_interactions`` continuous-filter convolutions (SchNet-style; a
``torch_geometric`` ``MessagePassing`` layer whose filter is a bias-free
two-layer map of the edge radial basis, the first layer shared by all
blocks), and a readout that concatenates the absorber node's state with the
mean over all nodes and maps it through an MLP to the spectrum on a fixed
energy grid, made non-negative with softplus. With ``head="peaks"`` the MLP
instead gives ``n_peaks`` Gaussians (position, height, and a width from the
training spectra's broadening to twice that) that are summed on the grid: a prediction
is then built from peaks as sharp as real ones and cannot smear a peak it is
unsure of into a broad bump. :func:`_spectrum_loss` is the loss
:class:`~xasml.learn.StructureSpectrumRegressor` trains and validates it with.

References
----------
K. T. Schütt et al., J. Chem. Phys. 148, 241722 (2018) (continuous filters).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ParameterError
from ._torch_base import _import_torch
from .graph import _import_pyg

__all__ = ["build_gnn"]


def build_gnn(
    n_node_features: int,
    n_rbf: int,
    n_outputs: int,
    *,
    hidden_channels: int = 64,
    n_interactions: int = 3,
    positive: bool = True,
    head: str = "grid",
    n_peaks: int = 32,
    peak_fwhm: float = 3.0,
    peak_max_factor: float = 2.0,
) -> Any:
    """Build the message-passing network.

    Parameters
    ----------
    n_node_features
        Width of the node features (:func:`~xasml.learn.graph.n_node_features`).
    n_rbf
        Width of the edge features (radial basis functions).
    n_outputs
        Number of energy points of the predicted spectrum.
    hidden_channels
        Width of node states and filters.
    n_interactions
        Number of continuous-filter convolution blocks.
    positive
        Softplus on the output (non-negative spectra; with ``head="peaks"`` on the
        peak heights); False gives a linear output (signed heights).
    head
        ``"grid"``: one output per energy point. ``"peaks"``: the sum of
        ``n_peaks`` Gaussians, each with a position in the grid's span (sigmoid),
        a height and a full width at half maximum from ``peak_fwhm`` to
        ``peak_max_factor * peak_fwhm``.
    n_peaks
        Gaussians of the ``"peaks"`` head.
    peak_fwhm
        Narrowest peak of the ``"peaks"`` head, in grid steps (the broadening
        of the training spectra).
    peak_max_factor
        Widest peak of the ``"peaks"`` head, as a multiple of ``peak_fwhm``
        (1: every peak exactly ``peak_fwhm`` wide).

    Returns
    -------
    torch.nn.Module
        ``module(batch)`` maps a ``torch_geometric`` ``Batch`` (absorber at node
        0 of each graph) to ``(n_graphs, n_outputs)``.
    """
    if head not in ("grid", "peaks"):
        raise ParameterError(f"head must be 'grid' or 'peaks'; found {head!r}")
    torch = _import_torch()
    nn = torch.nn
    MessagePassing = _import_pyg().nn.MessagePassing
    from torch_geometric.utils import scatter

    class CFConv(MessagePassing):  # type: ignore[misc, valid-type]
        """Continuous-filter convolution: ``h_i += W2 sum_j (W1 h_j) * (F e_ij)``.

        ``e_ij`` is the edge embedding shared by all blocks (SiLU of a linear map
        of the radial basis, computed once per forward pass: the filter network
        dominates the cost on CPU); ``F`` is this block's linear filter.
        """

        def __init__(self, channels: int) -> None:
            super().__init__(aggr="add")
            self.channels = channels
            # no biases anywhere in the filter: the filter of an all-zero basis (an edge
            # at the cutoff) is 0, so messages fade out continuously across the cutoff
            self.filter = nn.Linear(channels, channels, bias=False)
            self.lin_in = nn.Linear(channels, channels, bias=False)
            self.lin_out = nn.Sequential(nn.Linear(channels, channels), nn.SiLU(),
                                         nn.Linear(channels, channels))

        def reset_parameters(self) -> None:
            for mod in (self.filter, self.lin_in, *self.lin_out):
                if hasattr(mod, "reset_parameters"):
                    mod.reset_parameters()

        def forward(self, h: Any, edge_index: Any, edge_attr: Any) -> Any:
            m = self.propagate(edge_index, x=self.lin_in(h), w=self.filter(edge_attr))
            return h + self.lin_out(m)

        def message(self, x_j: Any, w: Any) -> Any:
            return x_j * w

    class GNN(nn.Module):  # type: ignore[name-defined, misc]
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(n_node_features, hidden_channels)
            self.convs = nn.ModuleList(
                [CFConv(hidden_channels) for _ in range(n_interactions)]
            )
            self.edge_embed = nn.Linear(n_rbf, hidden_channels, bias=False)
            width = n_outputs if head == "grid" else 3 * n_peaks
            self.head = nn.Sequential(
                nn.Linear(2 * hidden_channels, 2 * hidden_channels), nn.SiLU(),
                nn.Linear(2 * hidden_channels, width),
            )
            self.positive = positive
            self.peaks: _PeakRenderer | None = None
            if head == "peaks":
                self.peaks = _PeakRenderer(torch, n_peaks, n_outputs, peak_fwhm,
                                           peak_max_factor)
                self.peaks.initialise(self.head[-1])

        def forward(self, data: Any) -> Any:
            h = self.embed(data.x)
            e = nn.functional.silu(self.edge_embed(data.edge_attr))
            for conv in self.convs:
                h = conv(h, data.edge_index, e)
            batch = data.batch
            if batch is None:
                batch = torch.zeros(h.shape[0], dtype=torch.long, device=h.device)
                ptr = torch.zeros(1, dtype=torch.long, device=h.device)
                n_graphs = 1
            else:
                ptr, n_graphs = data.ptr[:-1], int(data.num_graphs)
            pooled = scatter(h, batch, dim=0, dim_size=n_graphs, reduce="mean")
            out = self.head(torch.cat([h[ptr], pooled], dim=1))
            if self.peaks is not None:
                return self.peaks(out, self.positive)
            return nn.functional.softplus(out) if self.positive else out

    return GNN()


class _PeakRenderer:
    """Sum of Gaussians on grid points ``0..n_outputs-1`` from ``3 * n_peaks`` raw outputs.

    Raw outputs ``[positions | heights | widths]``: position ``(n - 1) *
    sigmoid(z)``, height ``softplus(a)`` (or ``a``), FWHM ``peak_fwhm * (1 +
    (max_factor - 1) * sigmoid(w))``: no narrower than the training spectra's
    broadening and at most ``max_factor`` times it, so an uncertain peak
    cannot turn into a broad bump. A plain callable holding no parameters (the
    head's last layer holds them): the state dict is that of the head's layers.
    """

    def __init__(self, torch: Any, n_peaks: int, n_outputs: int, peak_fwhm: float,
                 max_factor: float = 2.0) -> None:
        self.torch = torch
        self.n_peaks = int(n_peaks)
        self.n_outputs = int(n_outputs)
        self.peak_fwhm = float(peak_fwhm)
        self.max_factor = float(max_factor)

    def initialise(self, last: Any) -> None:
        """Start with peaks spread evenly over the grid, low and narrow."""
        torch, k = self.torch, self.n_peaks
        with torch.no_grad():
            last.weight[:k].mul_(0.1)  # positions move slowly at first: no early collapse
            frac = torch.linspace(0.5 / k, 1 - 0.5 / k, k)
            last.bias[:k] = torch.log(frac / (1 - frac))
            last.bias[k:2 * k] = -1.0
            last.bias[2 * k:] = -3.0

    def __call__(self, raw: Any, positive: bool) -> Any:
        torch, k = self.torch, self.n_peaks
        softplus = torch.nn.functional.softplus
        centre = (self.n_outputs - 1) * torch.sigmoid(raw[:, :k])
        height = softplus(raw[:, k:2 * k]) if positive else raw[:, k:2 * k]
        fwhm = self.peak_fwhm * (1 + (self.max_factor - 1) * torch.sigmoid(raw[:, 2 * k:]))
        sigma = fwhm / math.sqrt(8.0 * math.log(2.0))
        grid = torch.arange(self.n_outputs, dtype=raw.dtype, device=raw.device)
        z = (grid[None, None, :] - centre[:, :, None]) / sigma[:, :, None]
        return (height[:, :, None] * torch.exp(-0.5 * z * z)).sum(dim=1)


def _spectrum_loss(pred: Any, target: Any, gradient_weight: float,
                   cdf_weight: float = 0.0) -> Any:
    """MSE plus two optional shape terms along energy.

    ``gradient_weight`` × MSE of the first differences, and ``cdf_weight`` ×
    mean absolute difference of the cumulative sums (in grid-point units): the
    earth mover's (Wasserstein-1) distance between the two spectra read as
    intensity distributions, which grows with how far a peak is misplaced
    instead of saturating once it no longer overlaps. Works on torch tensors
    (training) and numpy arrays (validation) alike, shape
    ``(n_spectra, n_energy)``.
    """
    diff = pred - target
    loss = (diff ** 2).mean()
    if gradient_weight and pred.shape[1] > 1:  # one energy point has no slope (empty mean: NaN)
        d = diff[:, 1:] - diff[:, :-1]
        loss = loss + gradient_weight * (d ** 2).mean()
    if cdf_weight:
        loss = loss + cdf_weight * abs(diff.cumsum(1)).mean()
    return loss
