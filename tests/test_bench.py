"""The benchmark runs and records its machine, timings and ratios."""

from __future__ import annotations

import json
from pathlib import Path

import fem
from fem.studies.bench import run_benchmark

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


def test_scaling_benchmark_smoke(tmp_path):
    """CI runs the scaling benchmark at a tiny size only: every path is timed, the
    reduced sweep's Z and fields agree with full solves to its certified 1e-6."""
    from fem.studies.bench import run_scaling

    js, md = run_scaling([40.0], tmp_path, n_frequencies=12, mesh_dir=tmp_path)
    [row] = json.loads(js.read_text())["sizes"]
    assert "error" not in row, row
    assert row["nodes"] > 500 and row["frequencies"] == 12
    s = row["seconds"]
    assert all(s[k] > 0 for k in ("prepare", "superlu_per_frequency", "amg_gmres_per_frequency",
                                  "reduced_sweep"))
    red = row["reduced"]
    assert 2 <= red["full_solves"] < 12 and red["max_est_rel_error"] <= 1e-6
    assert red["max_rel_error_Z"] <= 1e-6 and red["max_rel_error_fields"] <= 1e-6
    assert row["peak_memory_GB"] > 0
    assert "| nodes | prepare [s] |" in md.read_text()
