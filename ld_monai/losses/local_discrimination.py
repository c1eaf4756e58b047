# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The combined local-discrimination objective over the five-view batch.

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440:
``L = L_PD + L_mix + 10 L_RD + 0.1 L_ent`` (LDLearning ``step2_train_ld.py``); without a clustering head
(the patch-discrimination stage) ``L = L_PD + L_mix``.
"""

from __future__ import annotations

import torch
from torch.nn.modules.loss import _Loss

from ld_monai.losses.patch_discrimination import HypersphereMixupLoss, PatchDiscriminationLoss
from ld_monai.losses.region_discrimination import AssignmentEntropyLoss, RegionDiscriminationLoss
from ld_monai.data.ld_batch import NUM_VIEWS
from ld_monai.distributed import gather, gather_with_gradient, is_distributed, mean_value_over_processes
from ld_monai.layers.center_sensitive_pooling import center_sensitive_grid_features
from ld_monai.layers.pooling import grid_patch_features, region_features

__all__ = ["LocalDiscriminationLoss", "realign_second_view", "match_cells_by_overlap"]


def realign_second_view(features: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Undo each second view's turn on its (square) feature map, without a loop.

    The views were made as ``torch.rot90(view.flip(-1) if code >= 4 else view, code % 4, dims=(-2, -1))``
    (:class:`ld_monai.transforms.LocalDiscriminationViewsd`; codes 0-3 are the research code's rotations, 4-7
    the same after a left-right mirror), so the features realign exactly with the inverse of that map.

    Args:
        features: (B, D, g, g).
        code: (B,) integers in {0, ..., 7}.
    """
    if features.shape[-1] != features.shape[-2]:
        raise ValueError(f"turned views need a square feature grid, got {tuple(features.shape[-2:])}.")
    code = torch.as_tensor(code, device=features.device).long().reshape(-1)
    if bool(((code < 0) | (code > 7)).any()):
        raise ValueError(f"second-view codes must be in 0..7, got {code.tolist()}.")
    unturned = [torch.rot90(features, -r, dims=(-2, -1)) for r in range(4)]
    candidates = torch.stack(unturned + [f.flip(-1) for f in unturned])  # (8, B, D, g, g)
    return candidates[code, torch.arange(features.shape[0], device=features.device)]


def match_cells_by_overlap(
    boxes1: torch.Tensor, boxes2: torch.Tensor, grid: tuple[int, int], min_overlap: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Match the grid cells of two crops of one image by their overlap in the image.

    Each crop box ``(top, left, height, width)`` (in one pixel frame) is split into ``grid`` cells. Cell ``c`` of
    the first crop is matched to the cell of the second crop that it overlaps most; the match counts when the
    overlap covers at least ``min_overlap`` of both cells' areas. Rows and columns are matched separately (the
    boxes are axis-aligned), so the best cell is the best row times the best column.

    Args:
        boxes1: (N, 4) crop boxes of the first views.
        boxes2: (N, 4) crop boxes of the second views.
        grid: (gh, gw) cells per crop.
        min_overlap: the fraction of each cell that the pair must share.

    Returns:
        ``index`` (N, gh * gw) long, the matched cell of the second crop (row-major), and ``valid`` (N, gh * gw)
        bool. For equal boxes every cell matches itself.
    """
    gh, gw = grid

    def edges(start: torch.Tensor, size: torch.Tensor, cells: int) -> tuple[torch.Tensor, torch.Tensor]:
        steps = torch.arange(cells + 1, dtype=torch.float64, device=start.device) / cells
        e = start[:, None].double() + size[:, None].double() * steps  # (N, cells + 1)
        return e[:, :-1], e[:, 1:]

    def best_1d(a: torch.Tensor, b: torch.Tensor, start: int, cells: int) -> tuple[torch.Tensor, torch.Tensor]:
        lo1, hi1 = edges(a[:, start], a[:, start + 2], cells)
        lo2, hi2 = edges(b[:, start], b[:, start + 2], cells)
        inter = torch.minimum(hi1[:, :, None], hi2[:, None]) - torch.maximum(lo1[:, :, None], lo2[:, None])
        inter = inter.clamp(min=0)
        length, index = inter.max(dim=2)  # (N, cells)
        return index, length

    rows, row_len = best_1d(boxes1, boxes2, 0, gh)
    cols, col_len = best_1d(boxes1, boxes2, 1, gw)
    area = row_len[:, :, None] * col_len[:, None, :]  # (N, gh, gw) overlap of each cell with its best match
    cell_area = torch.maximum(boxes1[:, 2] * boxes1[:, 3], boxes2[:, 2] * boxes2[:, 3]).double() / (gh * gw)
    valid = area >= min_overlap * cell_area[:, None, None] - 1e-9
    index = rows[:, :, None] * gw + cols[:, None, :]
    return index.flatten(1), valid.flatten(1)


class LocalDiscriminationLoss(_Loss):
    """LD objective on the network outputs of one five-view batch.

    Inputs (batch of B image pairs, views stacked view-major as ``[v1 of image1 (B), v1 of image2 (B),
    v2 of image1 (B), v2 of image2 (B), mixup (B)]``):

    * ``embedding``: (5B, D, H, W) unit per-pixel embeddings;
    * ``assignment``: (5B, M, H, W) soft assignments, or ``None`` for the patch-discrimination stage;
    * ``rotation_k``: (B, 2) codes of the second views of image1 and image2 (0-3 quarter turns, +4 when mirrored,
      see :func:`realign_second_view`);
    * ``mix_lambda``: (B,) mixing weights of the mixup views;
    * ``crop_boxes`` (optional): (B, 2, 2, 4) ``[pair image, view, (top, left, height, width)]`` crop boxes. When
      given, the cells of the two views of an image are matched by their overlap
      (:func:`match_cells_by_overlap`): only matched cells enter patch discrimination, as positive pairs, and a
      cell's positive is the cell of the other view that covers the same part of the image. Without boxes (or
      with equal boxes) cell ``c`` of one view pairs with cell ``c`` of the other, as in the paper;
    * ``source_index`` (optional): (B, 2) index of the photograph behind image1 and image2 of each pair
      (:class:`ld_monai.data.RandomPairDataset` records it). With ``repeated_image_negatives=False`` the patches of
      two drawn copies of one photograph are not negatives of each other in patch discrimination.

    Returns a dict with the weighted total ``"loss"`` and the unweighted terms ``"pd"``, ``"mixup"`` and, with
    assignments, ``"region"`` and ``"entropy"``. Region features and entropy use the four non-mixup views.

    With ``border_margin = f > 0`` every term sees only the inner part of each view: ``round(f H)`` pixels are cut
    from every side of the (H, W) maps before pooling (the crop boxes shrink accordingly), so the grid covers the
    centre of the view and none of the pixels on which the loss acts has the crop border inside its receptive field
    when ``f H`` is at least half of it (about 128 px for the tiny VGG U-Net). The network still sees the whole
    view: the margin is context, not a target (issue 15: the crop border gives position away). The paper: 0.

    Args:
        grid: patch grid, (8, 8) in the paper (56-px cells of a 448 crop).
        center_sensitive: pool each grid cell with a bell peaking at its centre
            (:func:`ld_monai.layers.center_sensitive_grid_features`, ``sigma = center_sigma_fraction`` x the cell
            size) instead of the uniform average: the paper's center-sensitive patch discrimination for one-shot
            landmarks (its settings are unpublished; ours are in ``docs/oneshot_landmarks.md``).
        patch_temperature: 0.1. region_temperature: 0.2.
        pd_weight: weight of patch discrimination (the paper's 1).
        mixup_weight: weight of the hypersphere mixup (1).
        region_weight: weight of region discrimination (10).
        entropy_weight: weight of the assignment entropy (0.1).
        repeated_image_negatives: whether patches of two copies of one photograph in a batch are negatives (the
            paper: yes). A one-photograph data set always pairs the photograph with itself, and then identical
            content at two places is a negative that only position can separate (a shortcut); ``False`` drops
            those pairs (needs ``source_index``).
        border_margin: fraction of the view's side cut from every border before the loss (see above), in [0, 0.5).
        gather_across_processes: under ``torchrun``, compute the training loss on the pairs of every process
            (patch and region features gathered with their gradients, :mod:`ld_monai.distributed`), so that N
            processes with B pairs each train as one process with N B pairs: patch discrimination's negatives and
            region discrimination's batch-mean centres come from the whole batch, and the entropy reads as its mean.
            Only where the embedding carries gradients (training); validation scores each process's own batch.
    """

    def __init__(
        self,
        grid: tuple[int, int] = (8, 8),
        patch_temperature: float = 0.1,
        region_temperature: float = 0.2,
        pd_weight: float = 1.0,
        mixup_weight: float = 1.0,
        region_weight: float = 10.0,
        entropy_weight: float = 0.1,
        center_sensitive: bool = False,
        center_sigma_fraction: float = 0.25,
        repeated_image_negatives: bool = True,
        border_margin: float = 0.0,
        gather_across_processes: bool = False,
    ) -> None:
        super().__init__()
        self.gather_across_processes = bool(gather_across_processes)
        if not 0.0 <= border_margin < 0.5:
            raise ValueError(f"border_margin must be in [0, 0.5), got {border_margin}.")
        self.border_margin = float(border_margin)
        self.repeated_image_negatives = bool(repeated_image_negatives)
        self.grid = tuple(grid)
        self.center_sensitive = bool(center_sensitive)
        self.center_sigma_fraction = float(center_sigma_fraction)
        self.patch_loss = PatchDiscriminationLoss(patch_temperature)
        self.mixup_loss = HypersphereMixupLoss(patch_temperature)
        self.region_loss = RegionDiscriminationLoss(region_temperature)
        self.entropy_loss = AssignmentEntropyLoss()
        self.weights = {"pd": pd_weight, "mixup": mixup_weight, "region": region_weight, "entropy": entropy_weight}

    def forward(
        self,
        embedding: torch.Tensor,
        assignment: torch.Tensor | None,
        rotation_k: torch.Tensor,
        mix_lambda: torch.Tensor,
        crop_boxes: torch.Tensor | None = None,
        source_index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        if embedding.ndim != 4 or embedding.shape[0] % NUM_VIEWS:
            raise ValueError(f"embedding must be (5B, D, H, W), got {tuple(embedding.shape)}.")
        if assignment is not None and (
            assignment.shape[0] != embedding.shape[0] or assignment.shape[2:] != embedding.shape[2:]
        ):
            raise ValueError(f"assignment {tuple(assignment.shape)} does not match embedding {tuple(embedding.shape)}.")
        b = local_pairs = embedding.shape[0] // NUM_VIEWS
        if self.border_margin:
            embedding, assignment, crop_boxes = self._inner_part(embedding, assignment, crop_boxes)
        rotation_k = torch.as_tensor(rotation_k, device=embedding.device).reshape(b, 2)
        if self.center_sensitive:
            patches = center_sensitive_grid_features(embedding, self.grid, self.center_sigma_fraction)
        else:
            patches = grid_patch_features(embedding, self.grid)
        patches = patches.unflatten(0, (NUM_VIEWS, b))
        second = realign_second_view(patches[2:4].flatten(0, 1), rotation_k.T.reshape(-1)).unflatten(0, (2, b))
        patches = torch.cat([patches[:2], second, patches[4:]])  # (5, B, D, gh, gw), second views realigned
        regions = None if assignment is None else region_features(embedding[:4 * b], assignment[:4 * b])
        gathering = self.gather_across_processes and embedding.requires_grad and is_distributed()
        if gathering:
            patches, regions, mix_lambda, crop_boxes, source_index = self._whole_batch(
                patches, regions, mix_lambda, crop_boxes, source_index)
            b = patches.shape[1]
        view1, view2 = patches[0:2].flatten(0, 1), patches[2:4].flatten(0, 1)
        terms = {
            "pd": self._patch_term(view1, view2, crop_boxes, self._row_sources(source_index, b, view1), b),
            "mixup": self.mixup_loss(patches[4], patches[0], patches[1], mix_lambda),
        }
        if assignment is not None:
            terms["region"] = self.region_loss(regions)
            entropy = self.entropy_loss(assignment[:4 * local_pairs])
            terms["entropy"] = mean_value_over_processes(entropy) if gathering else entropy
        terms["loss"] = sum(self.weights[name] * value for name, value in terms.items())
        return terms

    @staticmethod
    def _whole_batch(
        patches: torch.Tensor,
        regions: torch.Tensor | None,
        mix_lambda: torch.Tensor,
        crop_boxes: torch.Tensor | None,
        source_index: torch.Tensor | None,
    ) -> tuple:
        """The loss's inputs of every process's pairs, in rank order, as one process with the whole batch has them:
        patches (5, N B, ...) and regions (4 N B, M, D) differentiable (:func:`ld_monai.distributed.
        gather_with_gradient`), mixing weights, crop boxes and source indices gathered as they are."""
        device = patches.device
        patches = gather_with_gradient(patches.transpose(0, 1)).transpose(0, 1)
        if regions is not None:
            regions = gather_with_gradient(regions.unflatten(0, (4, -1)).transpose(0, 1)).transpose(0, 1).flatten(0, 1)
        mix_lambda = gather(torch.as_tensor(mix_lambda, dtype=patches.dtype, device=device).reshape(-1))
        if crop_boxes is not None:
            crop_boxes = gather(torch.as_tensor(crop_boxes, device=device))
        if source_index is not None:
            source_index = gather(torch.as_tensor(source_index, dtype=torch.long, device=device))
        return patches, regions, mix_lambda, crop_boxes, source_index

    def _inner_part(
        self, embedding: torch.Tensor, assignment: torch.Tensor | None, crop_boxes: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The maps without ``border_margin`` of every side, and the crop boxes of what is left."""
        h, w = embedding.shape[-2:]
        mh, mw = round(self.border_margin * h), round(self.border_margin * w)
        if h - 2 * mh < self.grid[0] or w - 2 * mw < self.grid[1]:
            raise ValueError(f"border_margin {self.border_margin} leaves fewer pixels than grid {self.grid} cells "
                             f"of a {h} x {w} map.")
        embedding = embedding[..., mh:h - mh, mw:w - mw]
        if assignment is not None:
            assignment = assignment[..., mh:h - mh, mw:w - mw]
        if crop_boxes is not None:
            top, left, height, width = torch.as_tensor(crop_boxes, device=embedding.device).unbind(-1)
            crop_boxes = torch.stack([top + height * (mh / h), left + width * (mw / w),
                                      height * (1 - 2 * mh / h), width * (1 - 2 * mw / w)], dim=-1)
        return embedding, assignment, crop_boxes

    def _row_sources(
        self, source_index: torch.Tensor | None, b: int, view1: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(sources, images)`` (2B, cells) ids of every patch of the first views, or None when repeated images
        stay negatives."""
        if self.repeated_image_negatives:
            return None
        if source_index is None:
            raise ValueError("repeated_image_negatives=False needs the pairs' source_index (B, 2).")
        source_index = torch.as_tensor(source_index, device=view1.device)
        if source_index.shape != (b, 2):
            raise ValueError(f"source_index must be (B, 2) = ({b}, 2), got {tuple(source_index.shape)}.")
        cells = view1.shape[2] * view1.shape[3]
        sources = source_index.T.reshape(-1, 1).expand(-1, cells)  # image-major like view1
        images = torch.arange(2 * b, device=view1.device)[:, None].expand(-1, cells)
        return sources, images

    def _patch_term(
        self,
        view1: torch.Tensor,
        view2: torch.Tensor,
        crop_boxes: torch.Tensor | None,
        ids: tuple[torch.Tensor, torch.Tensor] | None,
        b: int,
    ) -> torch.Tensor:
        """Patch discrimination between first views (2B, D, gh, gw) and realigned second views, image-major
        ``[image1 of each pair, image2 of each pair]``; with crop boxes, on the cells matched by overlap; with
        ``ids`` (sources, images per patch), copies of one photograph are not negatives of each other."""
        if crop_boxes is None:
            if ids is None:
                return self.patch_loss(view1, view2)
            return self.patch_loss(view1, view2, ids[0].reshape(-1), ids[1].reshape(-1))
        boxes = torch.as_tensor(crop_boxes, device=view1.device)
        if boxes.shape != (b, 2, 2, 4):
            raise ValueError(f"crop_boxes must be (B, 2, 2, 4) = ({b}, 2, 2, 4), got {tuple(boxes.shape)}.")
        boxes = boxes.transpose(0, 1).flatten(0, 1)  # (2B, view, 4) in the order of view1 / view2
        index, valid = match_cells_by_overlap(boxes[:, 0], boxes[:, 1], self.grid)
        queries = view1.flatten(2)  # (2B, D, cells)
        keys = view2.flatten(2).gather(2, index[:, None].expand(-1, view2.shape[1], -1))
        queries, keys = queries.transpose(1, 2)[valid], keys.transpose(1, 2)[valid]  # (K, D)
        if queries.shape[0] < 2:  # no pair of cells overlaps enough: nothing to discriminate in this batch
            return view1.sum() * 0.0
        if ids is None:
            return self.patch_loss(queries, keys)
        return self.patch_loss(queries, keys, ids[0][valid], ids[1][valid])
