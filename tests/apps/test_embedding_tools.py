# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``ld-monai correspondence`` and ``ld-monai cosegmentation`` on real cephalograms, with untrained networks of the
pretraining bundles (what is checked is the tools' bookkeeping, not the embeddings' quality)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from ld_monai.apps.bundles import export_bundle
from ld_monai.apps.cli import main
from ld_monai.data.landmark_table import read_landmark_table
from ld_monai.networks import LocalDiscriminationNet, PEACNet

PEAC_TINY = {"embed_dim": 8, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 2, 2], "view_cells": 4,
             "global_features": [16, 16], "local_features": [8, 8]}


@pytest.fixture
def cephalograms(data_dir):
    return [data_dir / "ceph" / "Hamedan" / "images" / f"{k:03d}.png" for k in (1, 2, 3)]


@pytest.fixture
def peac(tmp_path):
    bundle = export_bundle("peac_pretraining", tmp_path / "zoo")
    torch.manual_seed(0)
    torch.save(PEACNet(view_size=64, **{k: v for k, v in PEAC_TINY.items() if k != "view_cells"}).state_dict(),
               tmp_path / "peac.pt")
    return [str(bundle), "--checkpoint", str(tmp_path / "peac.pt"), "--device", "cpu",
            *[arg for k, v in PEAC_TINY.items() for arg in ("-o", f"{k}={v}".replace(" ", ""))]]


def rows(path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_an_image_corresponds_to_itself_cell_for_cell(peac, cephalograms, tmp_path):
    bundle, *options = peac
    assert main(["correspondence", bundle, str(cephalograms[0]), str(cephalograms[0]), str(tmp_path / "out"),
                 "--pairs", "5", *options]) == 0
    pairs = rows(tmp_path / "out" / "correspondences.csv")
    assert len(pairs) == 5
    for pair in pairs:
        assert (pair["x1"], pair["y1"]) == (pair["x2"], pair["y2"]) and float(pair["similarity"]) > 0.999
        assert 0 <= float(pair["x1"]) < 821 and 0 <= float(pair["y1"]) < 1024  # in the file's pixels
    assert Image.open(tmp_path / "out" / "correspondences.png").width > 2 * 64
    assert main(["correspondence", bundle, str(cephalograms[0]), *map(str, cephalograms[1:]), str(tmp_path / "x"),
                 *options]) == 1  # pairs need exactly two images


def test_points_carried_to_the_same_image_stay_put(cephalograms, tmp_path):
    """LD's per-pixel embedding of an untrained network: a point carried from an image to itself lands within an
    input pixel (12.8 file pixels at 64 px) of where it was."""
    bundle = export_bundle("ld_pretraining", tmp_path / "zoo")
    torch.manual_seed(0)
    torch.save(LocalDiscriminationNet(in_channels=1, embedding_dim=32, num_clusters=16).state_dict(),
               tmp_path / "ld.pt")
    points = np.array([[300.0, 400.0], [500.0, 700.0], [100.0, 900.0]])
    np.savetxt(tmp_path / "points.csv", points, delimiter=",", header="x,y", comments="")
    assert main(["correspondence", str(bundle), str(cephalograms[0]), str(cephalograms[0]), str(tmp_path / "out"),
                 "--points", str(tmp_path / "points.csv"), "--checkpoint", str(tmp_path / "ld.pt"), "--device", "cpu",
                 "-o", "modality=xray", "-o", "image_size=64"]) == 0
    found = rows(tmp_path / "out" / "propagated.csv")
    assert [row["point"] for row in found] == ["1", "2", "3"] and {row["image"] for row in found} == {"001"}
    moved = np.array([[float(row["x"]), float(row["y"])] for row in found]) - points
    assert np.abs(moved).max() < 12.8 * 1.0 + 1e-6
    assert (tmp_path / "out" / "001_propagated.png").is_file()


def test_cosegmentation_labels_every_cell_with_one_of_the_parts(peac, cephalograms, tmp_path):
    bundle, *options = peac
    assert main(["cosegmentation", bundle, *map(str, cephalograms), str(tmp_path / "out"), "--parts", "3",
                 *options]) == 0
    for image in cephalograms:
        parts = np.asarray(Image.open(tmp_path / "out" / f"{image.stem}_parts.png"))
        assert parts.shape == (1024, 821) and set(np.unique(parts)) <= {0, 1, 2}  # 5 x 4 cells of the whole image
    assert (tmp_path / "out" / "cosegmentation.png").is_file()


def test_cosegmentation_of_images_of_other_ratios_keeps_each_images_size(peac, cephalograms, data_dir, tmp_path):
    bundle, *options = peac
    radiograph = sorted((data_dir / "xray" / "cxr_lungs" / "images").iterdir())[0]
    assert main(["cosegmentation", bundle, str(cephalograms[0]), str(radiograph), str(tmp_path / "out"),
                 "--parts", "2", *options]) == 0
    for image in (cephalograms[0], radiograph):
        parts = Image.open(tmp_path / "out" / f"{image.stem}_parts.png")
        assert parts.size == Image.open(image).size
    assert (tmp_path / "out" / "cosegmentation.png").is_file()


def test_tsne_of_landmark_embeddings(peac, data_dir, tmp_path):
    bundle, *options = peac
    images = sorted((data_dir / "ceph" / "Hamedan" / "images").iterdir())[:6]
    landmarks = data_dir / "ceph" / "Hamedan" / "landmarks.csv"
    assert main(["tsne", bundle, *map(str, images), str(tmp_path / "out"), "--landmarks", str(landmarks),
                 "--annotator", "Dr_farhadifar", "--perplexity", "10", "--iterations", "250", *options]) == 0
    table = rows(tmp_path / "out" / "tsne.csv")
    annotated = read_landmark_table(landmarks, annotator="Dr_farhadifar", duplicates="drop")
    assert len(table) == sum(len(annotated[image.stem]) for image in images)  # one row per landmark kept
    assert {row["image"] for row in table} == {image.stem for image in images}
    assert (tmp_path / "out" / "tsne.png").is_file()


def test_nearest_neighbour_agreement_known_values():
    from ld_monai.apps.embedding_tools import nearest_neighbour_agreement

    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])  # images a, a, b, b
    assert nearest_neighbour_agreement(vectors, ["l1", "l2", "l1", "l2"], ["a", "a", "b", "b"]) == 1.0
    assert nearest_neighbour_agreement(vectors, ["l1", "l2", "l2", "l1"], ["a", "a", "b", "b"]) == 0.0
