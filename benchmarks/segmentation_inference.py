# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""CPU seconds per image of segmentation inference: the network alone on 512x512, and the whole bundle.

The bundle figure runs a segmentation bundle's ``inference.json`` on real images (load, field-of-view crop, resize,
forward, sigmoid, inversion to the input's geometry, NIfTI + PNG + overlay writing), so it is what a user waits
for. A checkpoint is optional: speed does not depend on the weights.

Example::

    python benchmarks/segmentation_inference.py --images ../shared/data/fundus/DRIVE/test/images --repeats 5
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from ld_monai.networks import TransferSegmentationNet



def network_seconds(size: int, repeats: int, channels_last: bool) -> float:
    net = TransferSegmentationNet(in_channels=3, out_channels=1).eval()
    x = torch.rand(1, 3, size, size)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        net(x)
        for _ in range(repeats):
            start = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - start)
    return min(times)


def bundle_seconds(bundle: str, images: Path, checkpoint: str | None) -> tuple[float, int]:
    from monai.bundle import ConfigWorkflow

    from ld_monai.apps.bundles import export_bundle

    with tempfile.TemporaryDirectory() as output_dir:
        configs = export_bundle(bundle, output_dir) / "configs"
        overrides = {"dataset_dir": str(images), "output_dir": output_dir, "num_workers": 0}
        workflow = ConfigWorkflow(
            config_file=str(configs / "inference.json"), meta_file=str(configs / "metadata.json"),
            workflow_type="infer", **overrides,
        )
        if checkpoint:
            workflow.parser["checkpoint"] = checkpoint
        else:  # no trained weights: skip the loader, keep everything else
            workflow.parser["handlers"] = workflow.parser["handlers"][1:]
        workflow.initialize()
        n = len(workflow.dataset)
        start = time.perf_counter()
        workflow.run()
        return (time.perf_counter() - start) / n, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", required=True, help="folder of images for the bundle measurement")
    parser.add_argument("--bundle", default="retinal_vessel_segmentation")
    parser.add_argument("--checkpoint", help="a trained model.pt (optional)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(f"network alone, 1x3x{args.size}x{args.size}, best of {args.repeats}:")
    for channels_last in (False, True):
        layout = "channels_last" if channels_last else "contiguous"
        print(f"  {layout:13s} {network_seconds(args.size, args.repeats, channels_last):.3f} s")
    per_image, n = bundle_seconds(args.bundle, Path(args.images), args.checkpoint)
    print(f"bundle {args.bundle} inference.json, {n} images: {per_image:.3f} s per image (all steps, writing included)")


if __name__ == "__main__":
    main()
