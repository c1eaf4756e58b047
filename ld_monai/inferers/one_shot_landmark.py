# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""One-shot landmark localisation by matching center-sensitive local embeddings (Chen et al., "Unsupervised Local
Discrimination for Medical Images", arXiv 2108.09440; method spec A9).

One annotated image (the template) gives, for each landmark, the center-sensitive embedding at its position; in a
query image the landmark is where the query's center-sensitive embedding is most similar (cosine). Our design of
what the paper leaves open (equations and defaults in ``docs/oneshot_landmarks.md``):

* coarse to fine: a wide window finds the region over the whole image (its embedding computed at every
  ``coarse_window // 16``-th pixel: a wide window changes little from pixel to pixel); a narrow window refines
  within ``search_radius`` of it at every pixel;
* shape check: the coarse matches vote for one affine map of the template's landmark configuration (RANSAC);
  each landmark's coarse match is searched again near where that map puts it, so a look-alike structure far away
  cannot win;
* sub-pixel refinement: the best of a 1/8-pixel grid around the peak, on the bilinearly interpolated embedding;
* confidence: the cosine similarity at the refined peak (1 = identical embedding);
* template augmentation: the template's embeddings are averaged over rescaled (and optionally flipped) copies.

The inferer holds no template: :meth:`OneShotLandmarkInferer.make_template` returns a
:class:`ld_monai.inferers.LandmarkTemplate`, which every query is matched against and which
:class:`ld_monai.inferers.TemplateRefinement` refines on unlabeled images (adaptation, self-training).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ld_monai.inferers.landmark_template import LandmarkTemplate, check_image
from ld_monai.inferers.robust_affine import apply_affine, robust_affine
from ld_monai.inferers.template_landmarks import check_template_landmarks, rescale_points
from ld_monai.layers.center_sensitive_pooling import CenterSensitivePooling
from ld_monai.layers.pooling import l2_normalize

__all__ = ["OneShotLandmarkInferer", "pooled_embedding_at", "sample_embedding", "refine_subpixel"]


def sample_embedding(embedding: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Unit embeddings (K, D) at sub-pixel points (K, 2) (x, y in pixels of ``embedding`` (1, D, h, w)), bilinear."""
    h, w = embedding.shape[-2:]
    grid = torch.stack([(points[:, 0] + 0.5) / w * 2 - 1, (points[:, 1] + 0.5) / h * 2 - 1], dim=-1)
    sampled = F.grid_sample(embedding, grid.view(1, 1, -1, 2).to(embedding.dtype), align_corners=False)
    return l2_normalize(sampled[0, :, 0].T, dim=1)


def pooled_embedding_at(pool: CenterSensitivePooling, embedding: torch.Tensor,
                        points: torch.Tensor) -> torch.Tensor:
    """``sample_embedding(pool(embedding), points)`` without pooling the whole image: each point's 2 x 2 pixel
    neighbourhood is pooled from a crop of the zero-padded ``embedding`` (1, D, h, w) and blended bilinearly.
    (K, 2) (x, y) points -> (K, D) unit vectors."""
    h, w = embedding.shape[-2:]
    r = pool.window // 2
    padded = F.pad(embedding[0], (r, r + 1, r, r + 1))  # the neighbour past the last pixel weighs 0: any value
    corner = points.floor().long()
    side = 2 * r + 2
    crops = torch.stack([padded[:, y : y + side, x : x + side] for x, y in corner.tolist()])  # (K, D, side, side)
    pooled = l2_normalize(pool.average(crops, padding=False), dim=1)  # (K, D, 2, 2): the corner and its neighbours
    k, d = pooled.shape[:2]
    fx, fy = (points - corner).to(embedding.dtype).unbind(1)
    inside_x = (corner[:, 0] + 1 < w).to(embedding.dtype)
    inside_y = (corner[:, 1] + 1 < h).to(embedding.dtype)
    weights = torch.stack([(1 - fy) * (1 - fx), (1 - fy) * fx * inside_x, fy * (1 - fx) * inside_y,
                           fy * fx * inside_x * inside_y], dim=1)  # (K, 4): (y, x) = 00, 01, 10, 11
    return l2_normalize(torch.einsum("kdn,kn->kd", pooled.reshape(k, d, 4), weights), dim=1)


def _local_argmax(similarity: torch.Tensor, centre, radius: int) -> tuple[int, int] | None:
    """(x, y) of the maximum of a (h, w) map within ``radius`` (a square) of ``centre`` (x, y); None when that
    square misses the map."""
    h, w = similarity.shape
    x0, y0 = max(int(centre[0]) - radius, 0), max(int(centre[1]) - radius, 0)
    local = similarity[y0 : int(centre[1]) + radius + 1, x0 : int(centre[0]) + radius + 1]
    if local.numel() == 0:
        return None
    index = int(local.argmax())
    return x0 + index % local.shape[1], y0 + index // local.shape[1]


def refine_subpixel(pooled: torch.Tensor, vector: torch.Tensor, peak: tuple[int, int], step: float = 0.125,
                    reach: float = 1.0) -> tuple[tuple[float, float], float]:
    """The sub-pixel position (x, y) near the integer ``peak`` where the bilinearly interpolated unit embedding of
    ``pooled`` (1, D, h, w) is most similar to ``vector`` (D,), searched on a grid of ``step`` pixels within
    ``reach``, and that similarity. A template embedding sampled between pixels is matched exactly: a shift by
    any amount is recovered, which a parabola through three similarity values only approximates."""
    offsets = torch.arange(-reach, reach + step / 2, step, dtype=torch.float64)
    ys, xs = torch.meshgrid(offsets + peak[1], offsets + peak[0], indexing="ij")
    h, w = pooled.shape[-2:]
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    points = torch.stack([xs[inside], ys[inside]], dim=-1).to(pooled.device)
    similarity = sample_embedding(pooled, points) @ vector.to(pooled.dtype)
    best = int(similarity.argmax())
    return (float(points[best, 0]), float(points[best, 1])), float(similarity[best])


class OneShotLandmarkInferer:
    """Find a template's landmarks in query images by center-sensitive embedding matching (Chen et al., arXiv
    2108.09440; method spec A9). Stateless: the template is made once and given with every query.

    Args:
        network: maps a (1, C, H, W) image to unit descriptors (1, D, H, W), or to a dict holding them under
            ``embedding_key``: :class:`ld_monai.networks.HypercolumnEmbedding` of an LD network (the encoder's
            multi-depth features: our default, far better on cephalograms) or the
            :class:`ld_monai.networks.LocalDiscriminationNet` itself (its 32-D embedding). Put it in eval mode.
        image_size: (H, W) the images are resized to before the network (multiples of 16 for the LD net).
        coarse_window: window (odd, network pixels) of the global search.
        fine_window: window (odd) of the refinement.
        search_radius: the refinement looks this far (network pixels) around the coarse estimate.
        alignment_radius: shape check (with 3 or more landmarks; None: off): the affine map of the template's
            landmarks agreed on by most coarse matches (:func:`ld_monai.inferers.robust_affine.robust_affine`,
            inliers within ``alignment_tolerance`` network pixels) predicts each landmark, and its coarse match
            is searched again within this radius (network pixels) of the prediction.
        projection_dim: descriptors with more channels (e.g. the 352 of a hypercolumn) are projected onto the
            principal directions of the template's descriptors, so pooling and matching cost this many channels
            (None: never project).
        template_scales: template augmentation: the template embeddings are averaged over copies resized by these
            factors.
        template_flip: template augmentation: average over the left-right flips of those copies too.
        normalize: callable applied to the resized (1, C, H, W) image before the network, e.g. the pretraining's
            mean/std normalisation; default ``(x - 0.5) / 0.5``, the X-ray convention of ``ld_pretraining``.
        device: where the network runs (default: the network's).

    ``template = inferer.make_template(image, landmarks)``, optionally refined
    (:class:`ld_monai.inferers.TemplateRefinement`), then ``inferer(query, template)`` -> ``{"landmarks": (K, 2)
    (x, y) px in the query's pixels, "confidence": (K,)}``. Images are (C, H, W) tensors in [0, 1] (e.g. from
    :class:`ld_monai.transforms.LoadRadiograph`), any size.

    Raises:
        ValueError: template landmarks outside the template or not finite, NaN in an image, template and query of
            different channel counts or different DICOM modality (``meta["modality"]``).
    """

    def __init__(
        self,
        network: torch.nn.Module | Callable,
        image_size: Sequence[int] = (512, 416),
        coarse_window: int = 33,
        fine_window: int = 13,
        search_radius: int = 12,
        alignment_radius: int | None = 24,
        alignment_tolerance: float = 8.0,
        projection_dim: int | None = 64,
        template_scales: Sequence[float] = (1.0,),
        template_flip: bool = False,
        normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
        embedding_key: str = "embedding",
        device: torch.device | str | None = None,
    ) -> None:
        self.network = network
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.coarse_pool = CenterSensitivePooling(coarse_window)
        self.fine_pool = CenterSensitivePooling(fine_window)
        self.search_radius = int(search_radius)
        self.coarse_stride = max(1, coarse_window // 16)
        self.alignment_radius = None if alignment_radius is None else int(alignment_radius)
        self.alignment_tolerance = float(alignment_tolerance)
        self.template_scales = tuple(float(s) for s in template_scales)
        self.template_flip = bool(template_flip)
        self.normalize = normalize if normalize is not None else (lambda x: (x - 0.5) / 0.5)
        self.embedding_key = embedding_key
        if device is None:
            params = list(network.parameters()) if isinstance(network, torch.nn.Module) else []
            device = params[0].device if params else "cpu"
        self.device = torch.device(device)
        self.projection_dim = projection_dim

    # ---------------------------------------------------------------- embeddings

    @torch.no_grad()
    def _embed(self, image: torch.Tensor, size: tuple[int, int], projection: torch.Tensor | None) -> torch.Tensor:
        """(C, H, W) in [0, 1] -> descriptors (1, D, size) on the device, projected when ``projection`` is given."""
        x = F.interpolate(image[None].float().to(self.device), size=size, mode="area")
        out = self.network(self.normalize(x).contiguous(memory_format=torch.channels_last))  # ~1.5x faster on CPU
        embedding = out[self.embedding_key] if isinstance(out, dict) else out
        if embedding.ndim != 4 or embedding.shape[2:] != x.shape[2:]:
            raise ValueError(f"the network must return (1, D, {size[0]}, {size[1]}) embeddings, got "
                             f"{tuple(embedding.shape)}.")
        return self._project(embedding.float(), projection)

    @staticmethod
    def _project(embedding: torch.Tensor, projection: torch.Tensor | None) -> torch.Tensor:
        """Descriptors (1, D, h, w) onto the template's principal directions (D, p), when there are any."""
        if projection is None:
            return embedding
        return torch.einsum("dp,bdhw->bphw", projection, embedding)

    def _fit_projection(self, embedding: torch.Tensor) -> torch.Tensor | None:
        """The ``projection_dim`` principal directions (D, p) of the template's descriptors (uncentred SVD of at
        most 16384 pixels), or None when they have no more channels than that."""
        flat = embedding[0].flatten(1).T  # (pixels, D)
        if self.projection_dim is None or flat.shape[1] <= self.projection_dim:
            return None
        step = max(1, len(flat) // 16384)
        return torch.linalg.svd(flat[::step], full_matrices=False).Vh[: self.projection_dim].T.contiguous()

    def descriptors(self, image: torch.Tensor) -> torch.Tensor:
        """An image's descriptors (1, D, h, w) at ``image_size`` before any template's projection: given to
        :meth:`make_template` and :meth:`match`, one network pass serves an image as a template and as a query."""
        return self._embed(check_image(image, "image")[0], self.image_size, None)

    def embed(self, image: torch.Tensor, template: LandmarkTemplate) -> torch.Tensor:
        """A query's descriptors (1, D, h, w) at ``image_size``, projected as the template's, after the checks
        against the template (:meth:`LandmarkTemplate.check_query`)."""
        return self._embed(template.check_query(image), self.image_size, template.projection)

    # ---------------------------------------------------------------- template

    def make_template(self, image: torch.Tensor, landmarks, descriptors: torch.Tensor | None = None
                      ) -> LandmarkTemplate:
        """The template of an annotated image: its coarse and fine landmark embeddings (averaged over the template
        augmentations) and the projection of its descriptors.

        ``landmarks``: (K, 2) (x, y) in the template's pixels, inside the image. ``descriptors``: the image's
        :meth:`descriptors` when already computed (the network is not run on it again).
        """
        image, modality = check_image(image, "template")
        h0, w0 = image.shape[-2:]
        points = torch.from_numpy(check_template_landmarks(landmarks, h0, w0))
        unprojected = descriptors if descriptors is not None else self._embed(image, self.image_size, None)
        projection = self._fit_projection(unprojected)
        coarse, fine = [], []
        flips = (False, True) if self.template_flip else (False,)
        for scale in self.template_scales:
            size = tuple(max(16, round(side * scale / 16) * 16) for side in self.image_size)
            for flip in flips:
                view = torch.flip(image, dims=(-1,)) if flip else image
                pts = points.clone()
                if flip:
                    pts[:, 0] = w0 - 1 - pts[:, 0]
                same = size == self.image_size and not flip
                embedding = self._project(unprojected, projection) if same else self._embed(view, size, projection)
                at_size = rescale_points(pts, (h0, w0), size).to(self.device)
                fine.append(sample_embedding(self.fine_pool(embedding), at_size))
                coarse.append(sample_embedding(self.coarse_pool(embedding), at_size))
        own_coarse = l2_normalize(torch.stack(coarse).mean(0), dim=1)
        own_fine = l2_normalize(torch.stack(fine).mean(0), dim=1)
        return LandmarkTemplate(coarse=own_coarse, fine=own_fine, own_coarse=own_coarse, own_fine=own_fine,
                                projection=projection, points=rescale_points(points, (h0, w0), self.image_size).numpy(),
                                channels=image.shape[0], modality=modality)

    # ---------------------------------------------------------------- matching

    def pooled_windows(self, embedding: torch.Tensor, centres, reach: int) -> torch.Tensor:
        """Fine-pooled unit descriptors (K, D, 2 reach + 1, 2 reach + 1) within ``reach`` pixels of each integer
        centre (x, y) of ``embedding`` (1, D, h, w), pooled from crops of the zero-padded embedding that hold every
        window they need: the values of pooling the whole image, at a fraction of the cost, all centres in one
        batch."""
        margin = reach + self.fine_pool.window // 2
        padded = F.pad(embedding[0], (margin, margin, margin, margin))
        side = 2 * margin + 1
        crops = torch.stack([padded[:, y : y + side, x : x + side] for x, y in centres])
        return l2_normalize(self.fine_pool.average(crops, padding=False), dim=1)

    def fine_stage(self, embedding: torch.Tensor, coarse, fine_vectors: torch.Tensor) -> tuple[list, list]:
        """Fine and sub-pixel stages of every landmark around its coarse match (integer (x, y) in pixels of
        ``embedding``): the best fine window within ``search_radius``, then the sub-pixel step (which reaches one
        pixel further). Returns the (x, y) found and their confidences."""
        h, w = embedding.shape[-2:]
        r = self.search_radius
        corners = [(int(x), int(y)) for x, y in coarse]
        pooled = self.pooled_windows(embedding, corners, r + 1)  # (K, D, 2r + 3, 2r + 3), centred on the corners
        similarity = torch.einsum("kd,kdhw->khw", fine_vectors, pooled)
        offsets = torch.arange(pooled.shape[-1], device=similarity.device) - (r + 1)
        found, confidence = [], []
        for k, (x, y) in enumerate(corners):
            inside = ((offsets[None, :] + x >= 0) & (offsets[None, :] + x < w)
                      & (offsets[:, None] + y >= 0) & (offsets[:, None] + y < h))
            peak = _local_argmax(similarity[k].masked_fill(~inside, -2.0), (r + 1, r + 1), r)
            (px, py), value = refine_subpixel(pooled[k : k + 1], fine_vectors[k], peak)
            found.append((min(max(px + x - r - 1, 0.0), w - 1.0), min(max(py + y - r - 1, 0.0), h - 1.0)))
            confidence.append(value)
        return found, confidence

    def locate(self, embedding: torch.Tensor, template: LandmarkTemplate) -> tuple[torch.Tensor, list]:
        """The template's landmarks (K, 2) (x, y) float64 in pixels of a query's ``embedding`` (1, D, h, w)
        (:meth:`embed`) and their confidences: the coarse search, the shape check and the fine stage."""
        # coarse: the center-sensitive window embedding at every s-th pixel (the fine stage searches around it)
        s = self.coarse_stride
        coarse_map = torch.einsum("kd,dhw->khw", template.coarse, self.coarse_pool(embedding, s)[0])
        index = coarse_map.flatten(1).argmax(1).cpu().numpy()
        coarse = np.stack([index % coarse_map.shape[2], index // coarse_map.shape[2]], axis=1) * s
        if self.alignment_radius is not None and len(coarse) >= 3:
            matrix, _ = robust_affine(template.points, coarse, self.alignment_tolerance)
            expected = np.rint(apply_affine(matrix, template.points) / s).astype(int)
            radius = -(-self.alignment_radius // s)
            coarse = np.array([_local_argmax(coarse_map[k], expected[k], radius) or tuple(coarse[k] // s)
                               for k in range(len(coarse))]) * s
        found, confidence = self.fine_stage(embedding, coarse, template.fine)
        return torch.tensor(found, dtype=torch.float64), confidence

    def match(self, descriptors: torch.Tensor, template: LandmarkTemplate, image_shape) -> dict[str, np.ndarray]:
        """:meth:`__call__` on a query's :meth:`descriptors`, the query being ``image_shape`` (H, W) pixels: no
        network pass, and none of the checks against the template that :meth:`embed` makes."""
        embedding = self._project(descriptors, template.projection)
        found, confidence = self.locate(embedding, template)
        points = rescale_points(found, tuple(embedding.shape[-2:]), tuple(image_shape)[-2:])
        return {"landmarks": points.numpy(), "confidence": np.asarray(confidence)}

    def __call__(self, image: torch.Tensor, template: LandmarkTemplate) -> dict[str, np.ndarray]:
        """(C, H, W) query in [0, 1] -> ``{"landmarks": (K, 2) (x, y) px, "confidence": (K,)}``."""
        image = template.check_query(image)
        return self.match(self._embed(image, self.image_size, None), template, image.shape)
