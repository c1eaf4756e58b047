# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from ld_monai.losses.local_discrimination import (
    LocalDiscriminationLoss,
    match_cells_by_overlap,
    realign_second_view,
)
from ld_monai.losses.patch_discrimination import (
    HypersphereMixupLoss,
    PatchDiscriminationLoss,
    flatten_patches,
    invariant_spreading_loss,
)
from ld_monai.losses.peac import PEACLoss, global_consistency, local_consistency
from ld_monai.losses.region_discrimination import AssignmentEntropyLoss, RegionDiscriminationLoss, binary_entropy_bits
from ld_monai.losses.shape_prior import (
    ShapePriorAdversarialLoss,
    ShapePriorKLLoss,
    ShapePriorWassersteinLoss,
    patch_fraction_histograms,
    patch_fractions,
)
from ld_monai.losses.uncertainty_weighted import UncertaintyWeightedLoss
