# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The contract of one local-discrimination training item: its keys and its number of views.

Chen et al., arXiv 2108.09440: every item is a pair of images turned into five views, stacked as
``[image1 view1, image2 view1, image1 view2, image2 view2, mixup]``. :class:`ld_monai.data.RandomPairDataset`
writes the pair, :class:`ld_monai.transforms.LocalDiscriminationViewsd` the views, the engine and
:class:`ld_monai.losses.LocalDiscriminationLoss` read them: all name the keys from here.
"""

from __future__ import annotations

from monai.utils import StrEnum

__all__ = ["NUM_VIEWS", "LDKeys"]

#: views per image pair: [image1 view1, image2 view1, image1 view2, image2 view2, mixup]
NUM_VIEWS = 5


class LDKeys(StrEnum):
    """Keys of an LD item (as ``monai.utils.CommonKeys`` for supervised items).

    ``IMAGE1``, ``IMAGE2``: the two images of a pair; ``SOURCE_INDEX``: (2,) their indices in the data set;
    ``VIEWS``: (5, C, S, S); ``ROTATION``: (2,) the second views' turn codes; ``MIX_LAMBDA``: the mixup weight;
    ``CROP_BOXES``: (2, 2, 4) each view's crop box; ``PRIOR``: (K, 1, S, S) shape-prior masks of shape-guided
    training.
    """

    IMAGE1 = "image1"
    IMAGE2 = "image2"
    SOURCE_INDEX = "source_index"
    VIEWS = "views"
    ROTATION = "rotation_k"
    MIX_LAMBDA = "mix_lambda"
    CROP_BOXES = "crop_boxes"
    PRIOR = "prior"
