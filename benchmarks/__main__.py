"""Run benchmarks: ``python -m benchmarks [NAME ...]`` (``make bench`` runs the quick set).

Each benchmark is also a module of its own (``python -m benchmarks.NAME --help``)
and prints a table comparing xasml against its baseline, measured in the same
run. With no names the quick set runs; ``all`` runs every benchmark (hours:
some build data sets from the engines or read the shared FEFF archive).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time

# name -> (minutes on an idle 2-core machine, one-line description)
BENCHMARKS: dict[str, tuple[float, str]] = {
    "multiplet_speed": (1, "blocked multiplet engine vs plain dense edrixs (Mn2+/3+/4+)"),
    "campaign_overhead": (2, "campaign runner per-task overhead: in-process vs Dask"),
    "inference_throughput": (5, "bundle predictions/s, bare vs with intervals + OOD"),
    "tddft_speed": (3, "CVS-TDA per molecule: pyscf get_ab vs restricted build"),
    "mn_estimation": (15, "Mn charge/10Dq read-out on 200 held-out spectra (Suzuki)"),
    "map_throughput": (5, "1e6-pixel parameter maps vs a per-pixel loop"),
    "cu_cn": (15, "Cu K-edge coordination number, MLP vs random forest (OmniXAS FEFF)"),
    "cu_forward": (10, "Cu K-edge structure -> spectrum graph network (OmniXAS FEFF)"),
    "feff_sites": (25, "FEFF10 seconds per site for prototype oxides"),
    "mn_learn": (6, "Mn charge/10Dq regression + conformal coverage (900 multiplet spectra)"),
    "real_oxidation": (5, "Cu oxidation state: trained on FEFF, applied to measured spectra"),
    "kiyohara_sites": (15, "site properties from CVS-TDDFT O K-edge spectra (QM9 subset)"),
    "kedge_classify": (5, "CN / geometry / oxidation per element from FEFF oxides (Torrisi table)"),
    "qm9_forward": (10, "QM9 O K-edge structure -> spectrum graph network (own CVS-TDDFT set)"),
    "forward_cli": (12, "xasml train-forward + forward, scored on a held-out QM9 O draw"),
    "trust_splits": (3, "do 90 % bounds of the peak-height flags hold? (random held-out sets)"),
    "gnn_throughput": (3, "graph-network structures/s on the CPU, and on a GPU when present"),
    "gnn_train_jobs": (2, "graph-network ensemble training: members in turn vs in processes"),
    "qm9_feff_vs_tddft": (8, "FEFF10 vs CVS-TDDFT O K-edge spectra of the same QM9 molecules"),
}
QUICK = ("multiplet_speed", "campaign_overhead")


def main(argv: list[str]) -> int:
    names = list(QUICK) if not argv else (list(BENCHMARKS) if argv == ["all"] else argv)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available:", file=sys.stderr)
        for name, (minutes, text) in BENCHMARKS.items():
            print(f"  {name:22s} ~{minutes:>3g} min  {text}", file=sys.stderr)
        return 2
    for name in names:
        print(f"\n=== {name}: {BENCHMARKS[name][1]}", flush=True)
        t0 = time.perf_counter()
        mod = importlib.import_module(f"benchmarks.{name}")
        # defaults only: hide this runner's own arguments from modules that parse sys.argv
        sys.argv = [f"benchmarks.{name}"]
        if "argv" in inspect.signature(mod.main).parameters:
            mod.main([])
        else:
            mod.main()
        print(f"=== {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
