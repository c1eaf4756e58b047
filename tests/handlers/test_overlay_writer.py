# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.handlers.overlay_writer: the per-image PNG writer."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import DataLoader, MetaTensor
from monai.engines import SupervisedEvaluator
from monai.transforms import AsDiscreted
from PIL import Image

from ld_monai.handlers import SegmentationOverlayWriter

RED, BLUE, BLACK = (255, 0, 0), (0, 0, 255), (0, 0, 0)


def test_overlay_writer_one_file_per_image(tmp_path):
    data = []
    for i in range(3):
        image = torch.zeros(1, 4, 4)
        image[0, 0, i] = 1.0  # the network (identity) predicts one pixel per image
        label = torch.zeros(1, 4, 4)
        label[0, 3, 3] = 1.0
        data.append({"image": MetaTensor(image, meta={"filename_or_obj": f"/d/img{i}.png"}), "label": label})
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(data, batch_size=2),
        network=torch.nn.Identity(),
        postprocessing=AsDiscreted(keys="pred", threshold=0.5),
    )
    writer = SegmentationOverlayWriter(tmp_path / "overlays", ["vessel"], alpha=1.0, legend=False)
    writer.attach(evaluator)
    evaluator.run()
    assert sorted(p.name for p in (tmp_path / "overlays").iterdir()) == [f"img{i}_overlay.png" for i in range(3)]
    assert writer.written == [tmp_path / "overlays" / f"img{i}_overlay.png" for i in range(3)]
    with Image.open(tmp_path / "overlays" / "img1_overlay.png") as im:
        picture = np.asarray(im.convert("RGB"))
    assert picture.shape == (4, 4, 3)
    assert tuple(picture[0, 1]) == RED and tuple(picture[3, 3]) == BLUE and tuple(picture[0, 0]) == BLACK
