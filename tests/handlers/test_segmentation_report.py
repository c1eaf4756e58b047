# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.handlers.SegmentationReport on a real MONAI SupervisedEvaluator."""

from __future__ import annotations

import csv
import json
import logging
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from monai.data import DataLoader, MetaTensor
from monai.engines import SupervisedEvaluator
from monai.transforms import AsDiscreted, Compose, CopyItemsd

from ld_monai.handlers import SegmentationReport

# three 2 x 4 "images" whose pixel value is the foreground probability (the network is the identity)
PROBS = [
    [[0.9, 0.8, 0.1, 0.2], [0.6, 0.3, 0.1, 0.0]],
    [[0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]],
    [[0.9, 0.9, 0.9, 0.9], [0.1, 0.1, 0.1, 0.1]],
]
LABELS = [
    [[1, 1, 1, 0], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0]],
    [[1, 1, 1, 1], [1, 0, 0, 0]],
]
MASK = [[1, 1, 1, 1], [0, 1, 1, 1]]  # pixel (1, 0) is outside the scored region
# predictions (prob > 0.5): P0 = {(0,0), (0,1), (1,0)}, P1 = {}, P2 = top row
DICE = [2 * 2 / 6, 1.0, 2 * 4 / 9]  # |P∩G| = 2, 0 (empty/empty -> 1), 4
DICE_MASKED = [2 * 2 / 5, 1.0, 1.0]  # without (1, 0): P0 = {(0,0), (0,1)}, G2 = top row
# image 0 inside the mask: positives {0.9, 0.8, 0.1}, negatives {0.2, 0.3, 0.1, 0.0}: 4 + 4 + (0.5 + 1) of 12
AUC_MASKED = [9.5 / 12, math.nan, 1.0]  # image 1 has no positive pixel: undefined


def _evaluator(report, decollate=True, names=False):
    data = []
    for i, (p, g) in enumerate(zip(PROBS, LABELS)):
        item = {
            "image": MetaTensor(torch.tensor([p]), meta={"filename_or_obj": f"/data/test/img{i}.png"}),
            "label": torch.tensor([g], dtype=torch.float32),
            "mask": torch.tensor([MASK], dtype=torch.float32),
        }
        if names:
            item["name"] = f"case_{i}"
        data.append(item)
    post = Compose([CopyItemsd(keys="pred", names="prob"), AsDiscreted(keys="pred", threshold=0.5)])
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(data, batch_size=2),
        network=torch.nn.Identity(),
        postprocessing=post,
        decollate=decollate,
    )
    report.attach(evaluator)
    return evaluator


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_report_decollated_with_mask_and_auc(tmp_path, caplog):
    report = SegmentationReport(tmp_path / "eval", ["vessel"], mask_key="mask", compute_auc=True, expected_count=3)
    evaluator = _evaluator(report)
    with caplog.at_level(logging.INFO, logger="ld_monai.handlers.segmentation_report"):
        evaluator.run()

    rows = _read_csv(tmp_path / "eval" / "metrics_per_image.csv")
    assert [r["name"] for r in rows] == ["img0", "img1", "img2"]
    assert list(rows[0]) == ["name", "dice_vessel", "auc_vessel"]
    assert [float(r["dice_vessel"]) for r in rows] == pytest.approx(DICE_MASKED)
    assert float(rows[0]["auc_vessel"]) == pytest.approx(AUC_MASKED[0])
    assert rows[1]["auc_vessel"] == "nan" and float(rows[2]["auc_vessel"]) == 1.0

    summary = json.loads((tmp_path / "eval" / "metrics_summary.json").read_text())
    assert summary["num_images_scored"] == 3 and summary["num_images_expected"] == 3
    dice = summary["dice"]["vessel"]
    assert dice["mean"] == pytest.approx(np.mean(DICE_MASKED)) and dice["count"] == 3
    assert dice["std"] == pytest.approx(np.std(DICE_MASKED))  # population std (ddof=0): 0.0943
    assert (dice["min"], dice["max"]) == pytest.approx((0.8, 1.0))
    auc = summary["auc"]["vessel"]  # the NaN of image 1 is left out
    assert auc["count"] == 2 and auc["mean"] == pytest.approx((9.5 / 12 + 1.0) / 2)
    assert auc["std"] == pytest.approx((1.0 - 9.5 / 12) / 2)
    assert summary["mean_dice"] == pytest.approx(np.mean(DICE_MASKED))

    metrics = evaluator.state.metrics
    assert metrics["dice_vessel"] == pytest.approx(np.mean(DICE_MASKED)) == metrics["mean_dice"]
    assert metrics["auc_vessel"] == pytest.approx(auc["mean"]) == metrics["mean_auc"]
    assert "vessel Dice 0.933 ± 0.094 over 3 images" in caplog.text
    assert "vessel AUC 0.896 ± 0.104 over 2 images" in caplog.text


def test_report_batched_output_names_and_two_structures(tmp_path):
    report = SegmentationReport(tmp_path, ["a"], name_key="name")
    evaluator = _evaluator(report, decollate=False, names=True)
    evaluator.run()
    rows = _read_csv(tmp_path / "metrics_per_image.csv")
    assert [r["name"] for r in rows] == ["case_0", "case_1", "case_2"]
    assert list(rows[0]) == ["name", "dice_a"]  # no AUC column
    assert [float(r["dice_a"]) for r in rows] == pytest.approx(DICE)  # no mask: every pixel counts
    summary = json.loads((tmp_path / "metrics_summary.json").read_text())
    assert summary["num_images_expected"] is None and "auc" not in summary
    # a second run starts a new report
    evaluator.run()
    assert len(_read_csv(tmp_path / "metrics_per_image.csv")) == 3

    two = SegmentationReport(tmp_path / "two", ["disc", "cup"])
    with pytest.raises(ValueError, match=r"img0: prediction has 1 channels, expected one per structure"):
        _evaluator(two).run()


def test_report_missing_images_raise(tmp_path):
    report = SegmentationReport(tmp_path, ["vessel"], expected_count=4)
    with pytest.raises(RuntimeError, match="scored 3 images, expected 4"):
        _evaluator(report).run()
    assert json.loads((tmp_path / "metrics_summary.json").read_text())["num_images_scored"] == 3


def test_report_needs_binary_prediction(tmp_path):
    report = SegmentationReport(tmp_path, ["vessel"], pred_key="prob")
    with pytest.raises(ValueError, match=r"img0: pred must be binary"):
        _evaluator(report).run()


def _report_in_two_processes(rank: int, store: str, folder: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        report = SegmentationReport(f"{folder}/rank{rank}", ["lung"], expected_count=3)
        # rank 1's last image repeats rank 0's first, as a DistributedSampler pads an uneven shard
        report.records = [[{"name": "a", "dice_lung": 0.5}, {"name": "b", "dice_lung": 0.7}],
                          [{"name": "c", "dice_lung": 0.9}, {"name": "a", "dice_lung": 0.5}]][rank]
        engine = SimpleNamespace(state=SimpleNamespace(metrics={}))
        report.report(engine)
        assert engine.state.metrics["dice_lung"] == pytest.approx(0.7)  # on every rank
        report.records = [{"name": "image_0000", "dice_lung": 0.1 * (rank + 1)}]  # unnamed images of two shards
        with pytest.raises(ValueError, match="different images named 'image_0000'"):
            report.report(engine)
    finally:
        torch.distributed.destroy_process_group()


def test_every_image_is_scored_once_across_processes_and_rank0_writes(tmp_path):
    torch.multiprocessing.spawn(_report_in_two_processes, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2)
    with open(tmp_path / "rank0" / "metrics_per_image.csv") as f:
        assert [row["name"] for row in csv.DictReader(f)] == ["a", "b", "c"]
    assert json.loads((tmp_path / "rank0" / "metrics_summary.json").read_text())["num_images_scored"] == 3
    assert not (tmp_path / "rank1").exists()
