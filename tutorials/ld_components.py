# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Local discrimination from its parts, without a bundle: views, network, loss, a few steps, a picture.

Runs on the fundus photograph that scikit-image ships, on the CPU, in about a minute:

    .venv/bin/python tutorials/ld_components.py --output_dir runs/tutorial

It writes ``views.png`` (the five network inputs of one training item) and ``clusters.png`` (cluster map and
embedding PCA after the steps). See ``bundles/ld_pretraining`` for the full training recipe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from monai.transforms import Compose, EnsureChannelFirst, Resize, ScaleIntensityRange
from skimage import data

from ld_monai.engines import prepare_local_discrimination_batch
from ld_monai.visualize import render_cluster_embedding_figure
from ld_monai.losses import LocalDiscriminationLoss
from ld_monai.networks import LocalDiscriminationNet
from ld_monai.transforms import FundusFieldOfViewCrop, LocalDiscriminationViewsd
from ld_monai.transforms.views import IMAGENET_MEAN, IMAGENET_STD


def save_views(views: torch.Tensor, path: Path) -> None:
    """The five views of one item side by side, normalisation undone."""
    from matplotlib.figure import Figure

    shown = views * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    titles = ["image 1, view 1", "image 2, view 1", "image 1, view 2", "image 2, view 2", "mixup"]
    fig = Figure(figsize=(12.5, 2.8), dpi=100)
    for ax, view, title in zip(fig.subplots(1, 5), shown, titles):
        ax.imshow(view.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout(pad=0.4)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", default="runs/tutorial")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--crop_size", type=int, default=128)
    args = parser.parse_args()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    # 1. one real fundus photograph, cropped to its field of view, in [0, 1]
    preprocess = Compose(
        [
            EnsureChannelFirst(channel_dim=-1),
            FundusFieldOfViewCrop(),
            ScaleIntensityRange(0, 255, 0.0, 1.0, clip=True),
            Resize((args.crop_size + args.crop_size // 8,) * 2, mode="area"),
        ]
    )
    image = preprocess(torch.as_tensor(data.retina()).float())

    # 2. two images -> five views: two views per image (the second rotated by k x 90 degrees) and a mixup
    views = LocalDiscriminationViewsd(spatial_size=args.crop_size).set_random_state(0)
    item = views({"image1": image, "image2": image.flip(-1)})
    print("views", tuple(item["views"].shape), "rotations k", item["rotation_k"].tolist(), "lambda", float(item["mix_lambda"]))
    save_views(item["views"], out / "views.png")

    # 3. the LD network and objective; the batch layout is the engines' (view-major)
    net = LocalDiscriminationNet(in_channels=3)
    loss = LocalDiscriminationLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for step in range(args.steps):
        batch = [views({"image1": image, "image2": image.flip(-1)}) for _ in range(2)]
        collated = {key: torch.stack([b[key] for b in batch]) for key in ("views", "rotation_k", "mix_lambda")}
        inputs, targets = prepare_local_discrimination_batch(collated)
        pred = net(inputs)
        terms = loss(pred["embedding"], pred["assignment"], targets["rotation_k"], targets["mix_lambda"])
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step:3d} " + " ".join(f"{k}={float(v.detach()):.3f}" for k, v in terms.items()))

    # 4. what the network sees: clusters and embedding of fixed views
    net.eval()
    with torch.no_grad():
        shown = item["views"][:2]
        pred = net(shown)
    path = render_cluster_embedding_figure(
        shown, pred["embedding"], pred["assignment"], out / "clusters.png", mean=IMAGENET_MEAN, std=IMAGENET_STD
    )
    used = np.unique(pred["assignment"].argmax(1).numpy()).size
    print(f"wrote {out / 'views.png'} and {path} ({used} clusters in use)")


if __name__ == "__main__":
    main()
