# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``benchmarks/oneshot_landmarks.py --dataset isbi2015 --json`` on two real queries: the record's keys, and the
template-copy control in mm against an independent computation from the landmark table (template 125's points
scaled to each query, compared with the doctors' mean, times 0.3 mm)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import torch

from ld_monai.networks import LocalDiscriminationNet

from ..conftest import REPO


def isbi_record(data_dir, tmp_path, *arguments: str) -> dict:
    """The record of the benchmark on ISBI 2015 at 64 x 64 with a random LD network and ``arguments``."""
    torch.manual_seed(0)
    torch.save(LocalDiscriminationNet(in_channels=1, num_clusters=0).state_dict(), tmp_path / "model.pt")
    record = tmp_path / "oneshot_isbi.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "oneshot_landmarks.py"), "--dataset", "isbi2015",
                    "--data_dir", str(data_dir), "--checkpoint", str(tmp_path / "model.pt"), "--image_size", "64",
                    "64", "--output_dir", str(tmp_path / "out"), "--json", str(record), *arguments],
                   check=True, cwd=REPO)
    return json.loads(record.read_text())


def test_isbi_record(data_dir, tmp_path):
    result = isbi_record(data_dir, tmp_path, "--methods", "ld_c2f_self_trained_crossfit", "template_copy", "--limit",
                         "2", "--record_method", "ld_c2f_self_trained_crossfit")
    assert result["protocol"].startswith("template 125, queries the 2 other isbi2015 training images")
    assert "strict" in result["protocol"] and result["network_input"] == [64, 64]
    assert set(result["sdr_mm"]) == {"2", "2.5", "3", "4"} and all(0 <= v <= 1 for v in result["sdr_mm"].values())
    assert list(result["per_landmark_mre_mm"]) == [f"l{k}" for k in range(1, 20)]
    assert result["seconds_per_image"] > 0 and "python" in result["command"]
    assert abs(result["inter_annotator_mre_mm"] - 2.3534) < 1e-4  # the 150 images, whatever --limit

    table = {}
    for line in (tmp_path / "out" / "isbi2015_data" / "landmarks.csv").read_text().splitlines()[1:]:
        who, image, label, x, y = line.split(",")
        if who == "mean":
            table[image, label] = (float(x), float(y))
    labels = [f"l{k}" for k in range(1, 20)]
    template = np.array([table["125", label] for label in labels])
    errors = [np.linalg.norm(template - np.array([table[q, label] for label in labels]), axis=1) * 0.3
              for q in ("001", "002")]  # every image is 645 x 800: the scaling is the identity
    assert abs(result["controls"]["template_copy"]["mre_mm"] - np.mean(errors)) < 1e-6


def test_pseudo_label_heatmap_stage_is_strict(data_dir, tmp_path):
    """``ld_self_trained_crossfit_heatmap`` (CC2D's second stage) runs on real queries and is recorded as strict."""
    result = isbi_record(data_dir, tmp_path, "--methods", "ld_self_trained_crossfit",
                         "ld_self_trained_crossfit_heatmap", "--limit", "4", "--pseudo_label_iterations", "2",
                         "--record_method", "ld_self_trained_crossfit_heatmap")
    assert "strict" in result["protocol"] and "ld_self_trained_crossfit" in result["controls"]
    assert result["mre_mm"] > 0 and result["seconds_per_image"] > 0


def test_several_templates_with_their_ranking(data_dir, tmp_path):
    """Three templates, two queries each: the summary has each template's rank, fractions, and the rank
    correlation computed from the figures it lists."""
    ranking = tmp_path / "template_ranking.csv"
    ranking.write_text("image,rank,cycle_mean_px,cycle_median_px,consistent_fraction\n"
                       "125,1,10.0,9.0,0.9\n001,2,20.0,15.0,0.5\n002,3,30.0,25.0,0.1\n", encoding="utf-8")
    summary = isbi_record(data_dir, tmp_path, "--methods", "template_copy", "--limit", "2", "--template", "125",
                          "001", "002", "--ranking", str(ranking))
    copy = summary["template_copy"]
    assert copy["templates"] == ["125", "001", "002"]
    assert summary["ranking"]["001"] == {"rank": 2, "cycle_mean_px": 20.0}
    assert all(0 <= v <= 1 for v in copy["within_4mm"] + copy["within_20px"])
    mre = np.array(copy["mre_mm"])
    expected = float(np.corrcoef([10, 20, 30], np.argsort(np.argsort(mre)))[0, 1])  # Spearman: ranks, no ties
    assert abs(copy["spearman_cycle_error_mre_mm"] - expected) < 1e-9
    assert "python" in summary["command"]
