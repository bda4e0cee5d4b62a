"""Training and batched inference of one structure → spectrum network.

:func:`train_member` fits one ensemble member of
:class:`~xasml.learn.StructureSpectrumRegressor`: Adam on mini-batches of
graphs, the loss of :func:`~xasml.learn.gnn_net._spectrum_loss`, the learning
rate reduced on validation plateaus, early stopping that keeps the best
weights. :func:`train_members` trains several members, one after the other or
in worker processes. :func:`run_module` evaluates a network on many graphs in
batches.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .gnn_net import _spectrum_loss
from .graph import _import_pyg

__all__ = ["TrainingCurves", "resolve_n_jobs", "run_module", "train_member", "train_members"]

_PREDICT_BATCH = 512


@dataclass(frozen=True)
class TrainingCurves:
    """Per-epoch history of one member.

    Attributes
    ----------
    loss, validation_loss
        Training and validation loss per epoch (validation empty without a
        validation split).
    learning_rate
        Learning rate of each epoch.
    best_epoch
        The epoch whose weights were kept (the last one without validation).
    """

    loss: list[float]
    validation_loss: list[float]
    learning_rate: list[float]
    best_epoch: int


def run_module(torch: Any, module: Any, graphs: list[Any], device: Any) -> np.ndarray:
    """Network outputs for ``graphs``, shape ``(n_graphs, n_energy)``, float64, no grad."""
    Batch = _import_pyg().data.Batch
    out = []
    module.eval()
    with torch.no_grad():
        for start in range(0, len(graphs), _PREDICT_BATCH):
            chunk = Batch.from_data_list(graphs[start:start + _PREDICT_BATCH])
            out.append(module(chunk.to(device)).cpu().numpy().astype(np.float64))
    return np.concatenate(out, axis=0)


def train_member(
    torch: Any, module: Any, device: Any, graphs: list[Any], ts: Any,
    tr: np.ndarray, va: np.ndarray, seed: int, *,
    batch_size: int, learning_rate: float, weight_decay: float, lr_patience: int | None,
    lr_factor: float, gradient_weight: float, cdf_weight: float, max_epochs: int,
    patience: int,
) -> TrainingCurves:
    """Train ``module`` in place on graphs ``tr`` with early stopping on ``va``.

    Parameters
    ----------
    torch
        The torch module (imported lazily by the caller).
    module, device
        The network and the device it lives on.
    graphs
        All graphs; ``tr`` and ``va`` index into them.
    ts
        Scaled targets, a float32 tensor of shape ``(len(graphs), n_energy)``.
    tr, va
        Training and validation indices (``va`` may be empty: no early stopping).
    seed
        Seed of the mini-batch order.
    batch_size, learning_rate, weight_decay, lr_patience, lr_factor, gradient_weight,
    cdf_weight, max_epochs, patience
        As in :class:`~xasml.learn.StructureSpectrumRegressor`.

    Returns
    -------
    TrainingCurves
        The member's history; the module holds the best weights.
    """
    Batch = _import_pyg().data.Batch
    gen = torch.Generator().manual_seed(seed)
    bs = int(min(batch_size, len(tr)))
    target_va = ts[va].numpy()
    opt = torch.optim.Adam(module.parameters(), lr=learning_rate, weight_decay=weight_decay)
    sched = None
    if lr_patience is not None and len(va):
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=lr_factor, patience=int(lr_patience) - 1)
    g, c = gradient_weight, cdf_weight
    losses: list[float] = []
    val_losses: list[float] = []
    rates: list[float] = []
    best, best_state, wait, best_epoch = np.inf, None, 0, 0
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        module.train()
        rates.append(float(opt.param_groups[0]["lr"]))
        total = 0.0
        order = tr[torch.randperm(len(tr), generator=gen).numpy()]
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            batch = Batch.from_data_list([graphs[i] for i in idx]).to(device)
            opt.zero_grad()
            loss = _spectrum_loss(module(batch), ts[idx].to(device), g, c)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(tr))
        if len(va) == 0:
            continue
        pred = run_module(torch, module, [graphs[i] for i in va], device)
        val = float(_spectrum_loss(pred, target_va, g, c))
        val_losses.append(val)
        if sched is not None:
            sched.step(val)
        if val < best:
            best, wait, best_epoch = val, 0, epoch
            best_state = copy.deepcopy(module.state_dict())
        else:
            wait += 1
            if wait >= patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        best_epoch = epoch
    return TrainingCurves(losses, val_losses, rates, best_epoch)


def resolve_n_jobs(n_jobs: int | None, n_models: int, device: Any) -> int:
    """Worker processes for ``n_models`` members: 1 on a GPU, at most ``n_models``.

    Otherwise joblib's :func:`~joblib.effective_n_jobs` (``None``: 1, ``-1``:
    every CPU, as in scikit-learn).
    """
    if device.type != "cpu":
        return 1
    from joblib import effective_n_jobs

    return max(1, min(int(effective_n_jobs(n_jobs)), int(n_models)))


def _train_in_turn(torch: Any, build: Callable[[], Any], device: Any, graphs: list[Any],
                   ts: Any, tr: np.ndarray, va: np.ndarray, seeds: list[int],
                   options: dict[str, Any]) -> list[tuple[Any, TrainingCurves]]:
    """One member per seed, one after the other, in this process."""
    out = []
    for seed in seeds:
        torch.manual_seed(int(seed))
        module = build().to(device)
        curves = train_member(torch, module, device, graphs, ts, tr, va, int(seed), **options)
        out.append((module.eval(), curves))
    return out


def _members_job(build: Callable[[], Any], graphs: list[Any], ts: Any, tr: np.ndarray,
                 va: np.ndarray, seeds: list[int], n_threads: int, options: dict[str, Any],
                 ) -> list[tuple[dict[str, np.ndarray], TrainingCurves]]:
    """:func:`_train_in_turn` in a worker process; the weights come back as arrays."""
    from ._torch_base import _import_torch

    torch = _import_torch()
    torch.set_num_threads(n_threads)
    trained = _train_in_turn(torch, build, torch.device("cpu"), graphs, ts, tr, va, seeds,
                             options)
    return [({k: v.detach().numpy() for k, v in module.state_dict().items()}, curves)
            for module, curves in trained]


def train_members(
    torch: Any, build: Callable[[], Any], device: Any, graphs: list[Any], ts: Any,
    tr: np.ndarray, va: np.ndarray, seeds: list[int], *, n_jobs: int,
    n_threads: int | None, options: dict[str, Any],
) -> list[tuple[Any, TrainingCurves]]:
    """Train one member per seed; ``n_jobs`` > 1 trains them in worker processes.

    A member depends only on its seed and the thread count: with the same
    ``n_threads`` the networks equal those trained one after the other here.

    Parameters
    ----------
    torch, device
        The torch module and the device (worker processes only on the CPU).
    build
        Picklable callable returning a fresh, untrained network.
    graphs, ts, tr, va
        As in :func:`train_member`.
    seeds
        One seed per member (initialisation and mini-batch order).
    n_jobs
        Members trained at once (see :func:`resolve_n_jobs`).
    n_threads
        Torch threads per worker; ``None``: the CPUs shared out over the workers.
    options
        Keyword arguments of :func:`train_member` (batch size, learning rate, ...).

    Returns
    -------
    list of (module, TrainingCurves)
        The trained networks (on ``device``, eval mode) in the order of ``seeds``.
    """
    if n_jobs <= 1:
        return _train_in_turn(torch, build, device, graphs, ts, tr, va, seeds, options)
    from joblib import Parallel, cpu_count, delayed

    threads = int(n_threads) if n_threads is not None else max(1, cpu_count() // n_jobs)
    # one task per worker: the graphs (tens of MB for thousands of sites) are
    # pickled n_jobs times, not once per member
    chunks = [[int(s) for s in seeds[i::n_jobs]] for i in range(n_jobs)]
    results = Parallel(n_jobs=n_jobs, backend="loky")(
        delayed(_members_job)(build, graphs, ts, tr, va, chunk, threads, options)
        for chunk in chunks)
    trained: list[Any] = [None] * len(seeds)
    for i, chunk_results in enumerate(results):
        for j, (state, curves) in enumerate(chunk_results):
            module = build()
            module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            trained[i + j * n_jobs] = (module.to(device).eval(), curves)
    return trained
