"""Campaign stores packed into the repository and unpacked into a new machine's cache."""

from __future__ import annotations

import re
import tarfile

import numpy as np
import pytest
import xarray as xr
from benchmarks import stored_draws as sd

from _campaign_kill import kill_campaign_midway
from xasml.simulate import grid, run_campaign


@pytest.fixture
def store(tmp_path):
    design = grid(white_line_height="0:1.4:0.2", fwhm=[1.0, 2.5])
    res = run_campaign("analytic", design, tmp_path / "build" / "qm9-o-rand600-seed9.zarr",
                       n_workers=0, progress=False)
    return res.path


def test_archive_restore_round_trip_is_exact_and_reproducible(store, tmp_path):
    """What a new machine unpacks is the campaign as built: same spectra, labels, attrs;
    and packing the same store twice gives the same bytes (git keeps one copy)."""
    data = tmp_path / "data"
    arc = sd.archive(store, data)
    first = arc.read_bytes()
    assert sd.archive(store, data).read_bytes() == first

    cache = tmp_path / "cache"
    assert sd.restore(cache, data) == [cache / store.name]
    with xr.open_zarr(store) as a, xr.open_zarr(cache / store.name) as b:
        xr.testing.assert_identical(a.load(), b.load())  # values, coords and attrs
    assert (cache / store.name / "campaign.json").read_text() == \
        (store / "campaign.json").read_text()
    assert sd.restore(cache, data) == []  # already there
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp-")]


def test_restore_leaves_a_store_in_the_cache_alone(store, tmp_path):
    """A campaign still running in the cache keeps its parts: the archive does not
    replace it, finished or not."""
    data = tmp_path / "data"
    sd.archive(store, data)
    running = tmp_path / "cache" / store.name / "parts"
    running.mkdir(parents=True)
    (running / "part-1.npz").write_bytes(b"x")
    assert sd.restore(tmp_path / "cache", data) == []
    assert [p.name for p in (tmp_path / "cache" / store.name).iterdir()] == ["parts"]


def test_a_campaign_cut_short_resumes_on_another_machine(tmp_path):
    """Archived with --partial and restored elsewhere, a killed campaign computes only
    the batches it had not finished; the result equals an uninterrupted run."""
    out = tmp_path / "build" / "qm9-o-rand600-seed7.zarr"
    design = grid(white_line_height="0:1.4:0.1", fwhm=[1.0, 2.5])  # 30 sets
    n_parts = kill_campaign_midway(out, 3)
    assert not (out / ".zmetadata").exists() and n_parts < 15

    with pytest.raises(SystemExit, match=r"seed7\.zarr: not a finished campaign store"):
        sd.archive(out, tmp_path / "data")
    sd.archive(out, tmp_path / "data", partial=True)
    cache = tmp_path / "cache"
    assert sd.restore(cache, tmp_path / "data") == [cache / out.name]
    res = run_campaign("analytic", design, cache / out.name, engine_settings={"delay": 0.05},
                       n_workers=0, batch_size=2, progress=False)
    assert (res.n_done, res.n_new, res.n_failed) == (30, 30 - 2 * n_parts, 0)
    clean = run_campaign("analytic", design, tmp_path / "clean.zarr", n_workers=0,
                         progress=False)
    with xr.open_zarr(res.path) as a, xr.open_zarr(clean.path) as b:
        a, b = (d.load().sortby("key") for d in (a, b))
        np.testing.assert_array_equal(a["intensity"].values, b["intensity"].values)


def test_stray_archive_members_and_non_stores_are_refused(store, tmp_path):
    with pytest.raises(SystemExit, match=r"seed8\.zarr: not a campaign store"):
        sd.archive(tmp_path / "qm9-o-rand600-seed8.zarr", tmp_path / "data", partial=True)

    data = tmp_path / "evil"
    data.mkdir()
    with tarfile.open(data / f"{store.name}.tar.gz", "w:gz") as tar:
        tar.add(store, arcname=store.name)
        tar.add(store / "campaign.json", arcname="elsewhere.json")
    with pytest.raises(SystemExit, match=r"expected every member under .*found 'elsewhere\.json'"):
        sd.restore(tmp_path / "cache", data)
    assert not (tmp_path / "cache" / store.name).exists()


def test_every_stored_draw_is_a_campaign_store():
    """The archives committed under benchmarks/data unpack to campaign stores, finished
    or with finished batches to resume from, named as the benchmarks look for them."""
    for arc in sorted(sd.DATA.glob("*.tar.gz")):
        name = arc.name.removesuffix(".tar.gz")
        assert re.fullmatch(r"qm9-[on](-feff|-feffscf)?-rand600-seed\d+\.zarr", name), name
        with tarfile.open(arc, "r:gz") as tar:
            names = set(tar.getnames())
        assert f"{name}/campaign.json" in names
        assert f"{name}/.zmetadata" in names or any(n.startswith(f"{name}/parts/part-")
                                                    for n in names)
