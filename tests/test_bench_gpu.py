"""benchmarks/bench_gpu.py rehearsed on the CPU: every path it will take on the GPU, at toy sizes.

The real run needs a CUDA GPU and happens once, with little time to debug; this test makes sure the
smoke mode (same code, toy widths, 2-step windows) gives a full set of positive numbers here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import bench_gpu


def test_smoke_run_measures_every_family_and_inference(tmp_path: Path, capsys):
    out = tmp_path / "bench_gpu.json"
    threads = torch.get_num_threads()
    returned = bench_gpu.main(["--device", "cpu", "--smoke", "--json", str(out)])
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())

    # 1. one training row per family, each with both loops, a speed-up and FLOPs
    rows = {row["family"]: row for row in results["training"]}
    assert set(rows) == set(bench_gpu.FAMILY_KEYS)
    for family, row in rows.items():
        assert "error" not in row, f"{family}: {row.get('error')}"
        assert row["plain_items_per_s"] > 0, family
        assert row["engine_items_per_s"] > 0, family
        assert row["speedup"] > 0 and row["engine_tflops"] > 0, family
        assert row["flops_per_step"] > 0, family
        assert len(row["engine_windows"]) == 3, family  # warm-up, timed, sync-check windows of 2 steps
        assert row["engine_host_syncs_per_step"] is None  # counted on CUDA only
    assert rows["faces"]["flops_step0"] > rows["faces"]["flops_step1"]  # step 0 carries R1, amortised over 16

    # 2. inference rows with output megapixels/s, no failures
    assert results["inference"], "no inference rows"
    for row in results["inference"]:
        assert "error" not in row, f"{row['what']}: {row.get('error')}"
        assert row["mp_per_s"] > 0 and row["ms"] > 0, row["what"]
    assert {"SR", "faces", "translation", "text2image"} <= {row["what"].split()[0] for row in results["inference"]}

    # 3. the tables, and nothing left changed in this process
    assert "## Training throughput" in printed and "| superres-gan | 2 |" in printed
    assert "## Inference" in printed and "## Summary" in printed
    assert [row["family"] for row in returned["training"]] == list(rows)
    assert torch.get_num_threads() == threads


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the real benchmark")
def test_without_cuda_a_full_run_explains_how_to_rehearse():
    with pytest.raises(SystemExit, match="use --device cpu --smoke"):
        bench_gpu.main([])
    with pytest.raises(SystemExit, match="use --device cpu --smoke"):
        bench_gpu.main(["--device", "cpu"])
