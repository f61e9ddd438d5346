"""The benchmark runs and records its machine, timings and ratios."""

from __future__ import annotations

import json
from pathlib import Path

import fem
from fem.bench import run_benchmark

ROOT = Path(__file__).parents[1]


def test_benchmark_writes_timings(tmp_path):
    dev = fem.load_device(ROOT / "devices" / "py_bar.toml")
    js, md = run_benchmark(dev, tmp_path, mesh_dir=tmp_path, n_sweep=4)
    record = json.loads(js.read_text())
    assert record["machine"]["cores_usable"] >= 1 and record["nodes"] > 0
    assert all(v > 0 for v in record["seconds"].values())
    # forming A(omega) from the blocks must beat assembling it again
    assert record["ratios"]["reassemble / form from blocks"] > 1
    assert "| ratio (same run) | value |" in md.read_text()
