"""Finished campaign stores kept in the repository, so a new machine need not rebuild them.

The QM9 benchmarks read their CVS-TDDFT draws from ``~/.cache/xasml``; one O draw (600
molecules) cost 53-98 min on 2 cores, and a machine's cache does not outlive it. A
finished (consolidated) store is packed once into ``benchmarks/data/NAME.tar.gz``::

    python -m benchmarks.stored_draws archive ~/.cache/xasml/qm9-o-rand600-seed0.zarr

and unpacked into the cache where the cache lacks it::

    python -m benchmarks.stored_draws restore

which ``qm9_forward``, ``forward_cli`` and ``trust_splits`` do themselves before they look
for their draws. A campaign cut short can be kept too (``archive --partial``): restored, it
resumes where it stopped when its ``xasml simulate`` command is run again, and the
benchmarks leave it out until it is finished. Archives are reproducible (members sorted,
times and owners zeroed), so packing the same store twice gives the same bytes and git
stores it once.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from xasml.simulate._store import CAMPAIGN_JSON, CampaignStore

CACHE = Path.home() / ".cache" / "xasml"
DATA = Path(__file__).resolve().parent / "data"
SUFFIX = ".tar.gz"


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def archive(store: Path, data: Path = DATA, *, partial: bool = False) -> Path:
    """Pack the campaign ``store`` into ``data/<store name>.tar.gz``.

    Parameters
    ----------
    partial
        Also accept a campaign cut short (its finished batches in ``parts/``).

    Raises
    ------
    SystemExit
        ``store`` is not a finished campaign store (no consolidated metadata) and
        ``partial`` is false, or not a campaign store at all.
    """
    store = Path(store)
    if not CampaignStore(store).has_zarr():
        if not partial:
            raise SystemExit(f"{store}: not a finished campaign store (not consolidated); "
                             "resume the campaign until it consolidates, or pass --partial")
        if not (store / CAMPAIGN_JSON).is_file():
            raise SystemExit(f"{store}: not a campaign store (no {CAMPAIGN_JSON})")
    data.mkdir(parents=True, exist_ok=True)
    out = data / f"{store.name}{SUFFIX}"
    members = sorted(p for p in store.rglob("*") if not p.name.startswith(".tmp-"))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=data)
    try:
        with os.fdopen(fd, "wb") as raw, \
                gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(store, arcname=store.name, recursive=False, filter=_normalise)
            for p in members:
                tar.add(p, arcname=f"{store.name}/{p.relative_to(store).as_posix()}",
                        recursive=False, filter=_normalise)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def restore(cache: Path = CACHE, data: Path = DATA) -> list[Path]:
    """Unpack each archive in ``data`` whose store ``cache`` lacks; the stores unpacked.

    A store already in the cache is never touched, finished or not (a campaign still
    running there keeps its parts; remove an unfinished one to take the archive's). Each
    archive is unpacked beside its target and moved into place, so an interrupted restore
    leaves no half store.
    """
    restored = []
    for arc in sorted(Path(data).glob(f"*.zarr{SUFFIX}")):
        name = arc.name.removesuffix(SUFFIX)
        store = Path(cache) / name
        if store.exists():
            continue
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=store.parent))
        try:
            with tarfile.open(arc, "r:gz") as tar:
                stray = [n for n in tar.getnames() if n != name and not n.startswith(f"{name}/")]
                if stray:
                    raise SystemExit(f"{arc}: expected every member under {name}/; "
                                     f"found {stray[0]!r}")
                tar.extractall(tmp, filter="data")
            if not (tmp / name / CAMPAIGN_JSON).is_file():
                raise SystemExit(f"{arc}: holds no campaign store ({name}/{CAMPAIGN_JSON} "
                                 "missing)")
            os.replace(tmp / name, store)
            restored.append(store)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return restored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("archive", help="pack finished campaign stores into benchmarks/data")
    a.add_argument("stores", type=Path, nargs="+")
    a.add_argument("--partial", action="store_true",
                   help="also pack a campaign cut short, to resume on another machine")
    r = sub.add_parser("restore", help="unpack the archived stores the cache lacks")
    r.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args()
    if args.command == "archive":
        for store in args.stores:
            out = archive(store, partial=args.partial)
            print(f"{store} -> {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    else:
        for store in restore(args.cache):
            done = CampaignStore(store).has_zarr()
            print(f"restored {store}" + ("" if done else " (unfinished: run its campaign again)"))


if __name__ == "__main__":
    main()
