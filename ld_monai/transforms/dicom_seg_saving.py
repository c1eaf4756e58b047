# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Write predicted structures of a DICOM input as a DICOM SEG beside the other outputs of a segmentation bundle."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from ld_monai.data.dicom_seg_writer import write_dicom_seg
from ld_monai.data.file_format import file_stem, is_dicom_file
from ld_monai.transforms.channels import source_name

__all__ = ["SaveDicomSegd"]


class SaveDicomSegd(MapTransform):
    """For each key, binary structures (K, rows, cols) in the input's geometry: when their source file is DICOM,
    write ``<stem>_seg.dcm`` in ``output_dir`` (:func:`ld_monai.data.write_dicom_seg`: one segment per structure,
    referencing the source instance); other sources are left alone.

    Args:
        keys: the structures' keys (MetaTensors whose ``filename_or_obj`` names the source).
        output_dir: folder of the SEG files.
        structure_names: K names, the segment labels.
        algorithm_name: the algorithm name of every segment's identification (the bundle's name).
        algorithm_version: the algorithm version of every segment's identification (the bundle's version).
    """

    def __init__(self, keys: KeysCollection, output_dir: str | os.PathLike, structure_names: Sequence[str],
                 algorithm_name: str, algorithm_version: str) -> None:
        super().__init__(keys)
        self.output_dir = os.fspath(output_dir)
        self.structure_names = [str(s) for s in structure_names]
        self.algorithm = (str(algorithm_name), str(algorithm_version))

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            structures = d[key]
            if not isinstance(structures, MetaTensor):
                raise ValueError(f"{source_name(structures)}: expected a MetaTensor for {key!r}.")
            source = str(structures.meta.get("filename_or_obj", ""))
            if source and is_dicom_file(source):
                path = os.path.join(self.output_dir, f"{file_stem(source)}_seg.dcm")
                write_dicom_seg(structures.cpu().numpy(), source, path, self.structure_names, *self.algorithm)
        return d
