"""The structure → spectrum network and its training loss.

:func:`build_gnn` builds the network: an embedding of the node features,
``n_interactions`` continuous-filter convolutions (SchNet-style; a
``torch_geometric`` ``MessagePassing`` layer whose filter is a bias-free
two-layer map of the edge radial basis, the first layer shared by all
blocks), and a readout that concatenates the absorber node's state with the
mean over all nodes and maps it through an MLP to the spectrum on a fixed
energy grid, made non-negative with softplus. :func:`_spectrum_loss` is the
loss :class:`~xasml.learn.StructureSpectrumRegressor` trains and validates it with.

References
----------
K. T. Schütt et al., J. Chem. Phys. 148, 241722 (2018) (continuous filters).
"""

from __future__ import annotations

from typing import Any

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
        Softplus on the output (non-negative spectra); False gives a linear output.

    Returns
    -------
    torch.nn.Module
        ``module(batch)`` maps a ``torch_geometric`` ``Batch`` (absorber at node
        0 of each graph) to ``(n_graphs, n_outputs)``.
    """
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
            self.head = nn.Sequential(
                nn.Linear(2 * hidden_channels, 2 * hidden_channels), nn.SiLU(),
                nn.Linear(2 * hidden_channels, n_outputs),
            )
            self.positive = positive

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
            return nn.functional.softplus(out) if self.positive else out

    return GNN()


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
