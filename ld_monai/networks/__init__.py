# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from ld_monai.networks.blocks import PADDING_MODES, ConvBNReLU, set_padding_mode
from ld_monai.networks.local_discrimination_net import (
    LocalDiscriminationDecoder,
    LocalDiscriminationNet,
    MONAIResNetEncoder,
    build_encoder,
)
from ld_monai.networks.compile import compile_available
from ld_monai.layers.center_sensitive_pooling import (
    CenterSensitivePooling,
    center_sensitive_grid_features,
    center_sensitive_weights,
)
from ld_monai.networks.hypercolumn_embedding import HypercolumnEmbedding
from ld_monai.networks.shape_discriminator import ShapeDiscriminator
from ld_monai.networks.swin_tokens import SwinFeatureEncoder, SwinTokenEncoder
from ld_monai.networks.peac_net import PEACNet, PEACTokenMap, expander
from ld_monai.networks.student_teacher import StudentTeacher
from ld_monai.layers.pooling import grid_patch_features, l2_normalize, region_features
from ld_monai.networks.state_dict import load_matching_state_dict, load_pretrained
from ld_monai.networks.vgg_bn_tiny import VGGBNTinyEncoder
from ld_monai.networks.transfer_segmentation_net import TransferSegmentationNet
from ld_monai.networks.unwrap import unwrap_network
