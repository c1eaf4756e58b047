# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""How much of an LD embedding is explained by pixel position alone (the zero-padding shortcut)?

For each LD checkpoint, and for a randomly initialised :class:`ld_monai.networks.LocalDiscriminationNet` of the
same architecture (seed 0, the reference row), the network embeds fixed views of fundus photographs and
:func:`ld_monai.metrics.position_leakage` measures, inside the field of view, the leave-one-image-out R² of a ridge
regression from the pixel's position to its embedding: ``xy`` ((row, col) Fourier features) and ``polar``
(radius x angle about the FOV centre). ~1: the embedding is a position code (rings, border frames), ~0: position
tells nothing about it (negative: worse than the mean embedding; about -1/(N-1) for pure content with N images).

Views: the LD pretraining preprocessing of ``bundles/ld_pretraining/configs/train.json`` (PIL load,
``EnsureChannelsd``, ``FundusFieldOfViewCropd``, scale to [0, 1], ``Resized`` to ``image_size`` with area
interpolation), then the first view of a seeded validation item of ``LocalDiscriminationViewsd`` (the paper's
augmentation: any rotation, a 0.9-1.0 crop, colour jitter) and ImageNet normalisation. Upright centre crops hide
the shortcut: a code of the distance to the crop's and the field of view's border shows where those borders move.
The field of view is any channel > 0.04 of the [0, 1] view, eroded by 2 px.

    python benchmarks/position_leakage.py --checkpoint runs/ld/checkpoints/model.pt --name "LD 100 epochs" \\
        --num_images 8 --json docs/results/position_leakage.json

The same R² of the soft cluster assignments (``clusters_xy``, ``clusters_polar``) is reported where the network has
a clustering head. Prints a Markdown table; ``--json FILE`` writes ``{"rows": [{"name", "checkpoint", "xy",
"polar", "clusters_xy", "clusters_polar"}], "settings": {...}, "command": "..."}``. :func:`measure` returns the
rows for other benchmarks.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.transforms import Compose

from ld_monai.data import LDKeys
from ld_monai.metrics import field_of_view_foreground, position_leakage
from ld_monai.networks import LocalDiscriminationNet, load_matching_state_dict
from ld_monai.transforms import LocalDiscriminationViewsd, segmentation_preprocessing
from ld_monai.utils import atomic_write_json

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".gif"}
RANDOM_NAME = "random init (seed 0)"


def default_image_dir() -> Path:
    """``$LD_MONAI_DATA_DIR/fundus/DRIVE/test/images``."""
    root = os.environ.get("LD_MONAI_DATA_DIR")
    if not root:
        raise ValueError(
            "no --images given and LD_MONAI_DATA_DIR is not set (expected <data>/fundus/DRIVE/test/images)."
        )
    return Path(root) / "fundus" / "DRIVE" / "test" / "images"


def find_images(image_dir: str | os.PathLike, num_images: int) -> list[Path]:
    """The first ``num_images`` image files of ``image_dir`` in sorted order."""
    folder = Path(image_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(paths) < 2:
        raise ValueError(f"{folder}: need at least 2 images ({sorted(IMAGE_SUFFIXES)}), found {len(paths)}.")
    return paths[: int(num_images)]


def view_preprocessing(image_size: int) -> Compose:
    """LD pretraining preprocessing (its bundle's chain): file -> (3, image_size, image_size) in [0, 1]."""
    return Compose(segmentation_preprocessing("fundus", image_size=image_size, image_resize="area", normalize=False,
                                           track_meta=False))


def load_views(
    paths: Sequence[str | os.PathLike], image_size: int = 512, crop_size: int = 448, seed: int = 1
) -> torch.Tensor:
    """(N, 3, crop, crop) un-normalised views in [0, 1] of the fundus photographs ``paths``: the first view of the
    LD pretraining's validation items (:class:`ld_monai.transforms.LocalDiscriminationViewsd` with its default,
    the paper's, augmentation, seeded with ``seed + i`` for image ``i``), i.e. what the bundle's per-epoch picture
    shows: rotated, cropped and colour-jittered views whose black corners move from view to view."""
    if crop_size > image_size:
        raise ValueError(f"crop_size {crop_size} is larger than image_size {image_size}.")
    transform = view_preprocessing(image_size)
    sampler = LocalDiscriminationViewsd(spatial_size=crop_size, mean=0.0, std=1.0)
    views = []
    for i, path in enumerate(paths):
        image = transform({"image": str(path)})["image"]
        views.append(sampler.set_random_state(seed + i)({LDKeys.IMAGE1: image, LDKeys.IMAGE2: image})[LDKeys.VIEWS][0])
    return torch.stack(views)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The LD network's state dict from a ``model.pt`` or a training checkpoint with ``"model"``."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"checkpoint {path} is not a state dict (got {type(checkpoint).__name__}).")
    if "encoder" in checkpoint and "embedding_head.1.weight" not in checkpoint:
        raise ValueError(f"checkpoint {path} is an encoder export: it has no embedding head to measure.")
    if "model" in checkpoint and isinstance(checkpoint["model"], Mapping):
        checkpoint = checkpoint["model"]
    state = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in checkpoint.items()}
    if "embedding_head.1.weight" not in state:
        raise ValueError(f"checkpoint {path} has no 'embedding_head.1.weight': not an LD network state dict.")
    return state


def network_kwargs(state_dict: Mapping[str, torch.Tensor] | None) -> dict[str, Any]:
    """Constructor arguments of :class:`LocalDiscriminationNet` read from a state dict (shapes of the first
    encoder convolution and of the heads); ``None`` or missing entries keep the defaults. Extend here when the
    network gets options that a checkpoint records."""
    kwargs: dict[str, Any] = {}
    if not state_dict:
        return kwargs
    if "embedding_head.1.weight" in state_dict:
        kwargs["embedding_dim"] = int(state_dict["embedding_head.1.weight"].shape[0])
    clusters = state_dict.get("clustering_head.1.weight")
    kwargs["num_clusters"] = 0 if clusters is None else int(clusters.shape[0])
    first_conv = next((v for k, v in state_dict.items() if k.startswith("encoder.") and v.ndim == 4), None)
    if first_conv is not None:
        kwargs["in_channels"] = int(first_conv.shape[1])
    return kwargs


def build_network(
    state_dict: Mapping[str, torch.Tensor] | None = None, padding_mode: str = "zeros"
) -> LocalDiscriminationNet:
    """An LD network of the architecture of ``state_dict`` (default architecture for ``None``) with the padding
    it was trained with (a state dict does not record it), in eval mode, with the weights loaded when given.
    Raises if the checkpoint leaves weights of the network unset."""
    net = LocalDiscriminationNet(**network_kwargs(state_dict), padding_mode=padding_mode)
    if state_dict is not None:
        untouched = [k for k in load_matching_state_dict(net, state_dict) if not k.endswith("num_batches_tracked")]
        if untouched:
            raise ValueError(
                f"the checkpoint does not set {len(untouched)} weights of the network, e.g. {untouched[:3]}."
            )
    return net.eval()


@torch.no_grad()
def embed(
    net: LocalDiscriminationNet, views: torch.Tensor, device: str | torch.device = "cpu", key: str = "embedding"
) -> torch.Tensor:
    """(N, D, H, W) network output ``key`` (the embedding, or the cluster ``"assignment"``) of un-normalised
    [0, 1] views (ImageNet-normalised here), one view at a time."""
    net = net.to(device).eval()
    mean = torch.tensor(MEAN).reshape(1, -1, 1, 1)
    std = torch.tensor(STD).reshape(1, -1, 1, 1)
    out = [net(((v[None] - mean) / std).to(device))[key].float().cpu() for v in views]
    return torch.cat(out)


def measure(
    checkpoints: Sequence[str | os.PathLike],
    names: Sequence[str] | None = None,
    image_dir: str | os.PathLike | None = None,
    num_images: int = 8,
    image_size: int = 512,
    crop_size: int = 448,
    include_random: bool = True,
    foreground_threshold: float | None = 0.04,
    erosion: int = 2,
    device: str | torch.device = "cpu",
    views: torch.Tensor | None = None,
    padding_modes: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Position leakage of each checkpoint (and of a random network first, if ``include_random``).

    Args:
        checkpoints: LD ``model.pt`` files or training checkpoints with ``"model"``.
        names: labels of the checkpoints (default: the file paths).
        image_dir: fundus photographs (default :func:`default_image_dir`); the first ``num_images`` are used.
        views: (N, 3, H, W) un-normalised [0, 1] views to use instead of loading ``image_dir``.
        foreground_threshold, erosion: field of view (:func:`ld_monai.metrics.field_of_view_foreground`);
            ``None`` counts every pixel.
        padding_modes: the network's padding per checkpoint (default ``"zeros"`` for all).

    Returns:
        ``[{"name", "checkpoint", "xy", "polar", "clusters_xy", "clusters_polar"}, ...]`` (the cluster values where
        the network has a clustering head); ``checkpoint`` is None for the random network.
    """
    checkpoints = [str(c) for c in checkpoints]
    names = list(names) if names else list(checkpoints)
    if len(names) != len(checkpoints):
        raise ValueError(f"got {len(names)} names for {len(checkpoints)} checkpoints.")
    padding_modes = list(padding_modes) if padding_modes else ["zeros"] * len(checkpoints)
    if len(padding_modes) != len(checkpoints):
        raise ValueError(f"got {len(padding_modes)} padding modes for {len(checkpoints)} checkpoints.")
    states = [read_state_dict(c) for c in checkpoints]  # fail on a bad file before any heavy work
    if views is None:
        views = load_views(find_images(image_dir or default_image_dir(), num_images), image_size, crop_size)
    foreground = None
    if foreground_threshold is not None:
        foreground = field_of_view_foreground(views, float(foreground_threshold), erosion=erosion)
    rows = []
    jobs = [(RANDOM_NAME, None, None, "zeros")] if include_random else []
    jobs += list(zip(names, checkpoints, states, padding_modes))
    for name, path, state, padding_mode in jobs:
        if path is None:  # random weights (seed 0), the architecture of the first checkpoint
            torch.manual_seed(0)
            net = LocalDiscriminationNet(**network_kwargs(states[0] if states else None))
        else:
            net = build_network(state, padding_mode)
        leakage = position_leakage(embed(net, views, device), foreground=foreground)
        row = {"name": name, "checkpoint": path, "xy": leakage["xy"], "polar": leakage["polar"]}
        if net.num_clusters:  # the soft cluster assignments, where the shortcut's rings show first
            clusters = position_leakage(embed(net, views, device, "assignment"), foreground=foreground)
            row.update(clusters_xy=clusters["xy"], clusters_polar=clusters["polar"])
        rows.append(row)
    return rows


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| weights | embedding xy R² | embedding polar R² | clusters xy R² | clusters polar R² |",
             "|---|---|---|---|---|"]
    for r in rows:
        clusters = [f"{r[k]:.3f}" if k in r else "-" for k in ("clusters_xy", "clusters_polar")]
        lines.append(f"| {r['name']} | {r['xy']:.3f} | {r['polar']:.3f} | " + " | ".join(clusters) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", nargs="*", default=[], help="LD model.pt files or checkpoints with 'model'")
    parser.add_argument("--name", nargs="*", default=None, help="a label per checkpoint (default: the paths)")
    parser.add_argument("--padding_mode", nargs="*", default=None, help="the network's padding per checkpoint (zeros)")
    parser.add_argument(
        "--images", default=None, help="fundus photographs (default: DRIVE test images of LD_MONAI_DATA_DIR)"
    )
    parser.add_argument("--num_images", type=int, default=8)
    parser.add_argument("--image_size", type=int, default=512)
    parser.add_argument("--crop_size", type=int, default=448)
    parser.add_argument("--json", default=None, help="write the rows, settings and command here")
    args = parser.parse_args(argv)
    command = shlex.join(["python", *(sys.argv if argv is None else ["benchmarks/position_leakage.py", *argv])])
    image_paths = find_images(args.images or default_image_dir(), args.num_images)
    views = load_views(image_paths, args.image_size, args.crop_size)
    print(f"{len(image_paths)} LD validation views ({args.crop_size} of {args.image_size} px), {image_paths[0].parent}")
    rows = measure(args.checkpoint, args.name, views=views, padding_modes=args.padding_mode)
    print(markdown_table(rows), flush=True)
    if args.json:
        record = {
            "rows": rows,
            "settings": {
                "images": [str(p) for p in image_paths],
                "image_size": args.image_size,
                "crop_size": args.crop_size,
                "foreground_threshold": 0.04,
                "erosion": 2,
            },
            "command": command,
        }
        atomic_write_json(args.json, record)
        print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
