# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Template refinement on unlabeled images: adaptation and self-training on known values, each a new template with
the one given left unchanged; every TemplateRefinement setting reaches its step; bad input.

Fixed embedders (``conftest.py``) stand in for the LD network.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ld_monai.inferers import OneShotLandmarkInferer, TemplateRefinement, adapt_template, self_train_template
from ld_monai.inferers.one_shot_landmark import sample_embedding

from .conftest import SIZE, FieldPerImage, constant, smooth_fields


def same_template(a, b) -> None:
    for key in ("coarse", "fine", "own_coarse", "own_fine"):
        torch.testing.assert_close(getattr(a, key), getattr(b, key), rtol=0, atol=0)


def test_adapt_averages_the_most_confident_matches(cephalogram):
    """Known values: a prototype is the normalised sum of the template's own embedding and the query embeddings at
    the landmark's matches, taken from the most confident ``fraction`` of the images; adapting an adapted template
    starts from the template's own embeddings again; the template given is left as it was."""
    _, points = cephalogram
    fields = smooth_fields(1)
    matcher = OneShotLandmarkInferer(FieldPerImage(list(fields)), image_size=SIZE, normalize=lambda x: x)
    template = matcher.make_template(constant(0), points)
    own = template.fine.clone()
    matches = {i: matcher(constant(i), template) for i in (1, 2)}
    assert (matches[1]["confidence"] > matches[2]["confidence"]).all()

    def at_matches(i: int, pool) -> torch.Tensor:
        return sample_embedding(pool(fields[i]), torch.as_tensor(matches[i]["landmarks"]))

    adapted = adapt_template(matcher, template, [1, 2], fraction=0.5, rounds=1, load=constant)
    torch.testing.assert_close(adapted.fine, F.normalize(own + at_matches(1, matcher.fine_pool), dim=1))
    torch.testing.assert_close(template.fine, own, rtol=0, atol=0)  # the template given is unchanged
    again = adapt_template(matcher, adapted, [constant(1), constant(2)], fraction=1.0, rounds=1)
    expected = template.own_coarse + at_matches(1, matcher.coarse_pool) + at_matches(2, matcher.coarse_pool)
    torch.testing.assert_close(again.coarse, F.normalize(expected, dim=1))
    assert again.own_fine is template.own_fine and again.projection is template.projection
    np.testing.assert_array_equal(again.points, template.points)


def test_adapt_on_the_template_itself_changes_nothing(cephalogram, inferer, template):
    """The template's own landmarks are matched in itself (to the 1/8-px refinement grid), so its prototypes stay its
    embeddings and the landmarks stay found within a pixel."""
    image, points = cephalogram
    adapted = adapt_template(inferer, template, [image, image], fraction=0.5, rounds=2)
    assert adapted is not template
    for key in ("coarse", "fine"):
        torch.testing.assert_close(getattr(adapted, key), getattr(template, key), atol=1e-2, rtol=0)  # 1/8-px grid
    np.testing.assert_array_less(np.abs(inferer(image, adapted)["landmarks"] - points), 1.0)


def test_adapt_bad_input(cephalogram, inferer, template):
    image, _ = cephalogram
    with pytest.raises(ValueError, match="at least one"):
        adapt_template(inferer, template, [])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        adapt_template(inferer, template, [image], fraction=0.0)
    with pytest.raises(ValueError, match="rounds at least 1"):
        adapt_template(inferer, template, [image], rounds=0)
    with pytest.raises(ValueError, match="channel"):
        adapt_template(inferer, template, [image.repeat(3, 1, 1)])


def test_self_train_learns_from_the_most_confident_windows(cephalogram, monkeypatch):
    """Known values: each landmark's direction is fitted, from its current vector, on the fine windows around its
    matches in the ``fraction`` most confident images (the same values as pooling the whole image, zero outside
    it), the match at the window's centre; the result becomes the fine vector, the coarse one is kept; the template
    given is unchanged."""
    _, points = cephalogram
    _, close, _ = fields = smooth_fields(1)
    matcher = OneShotLandmarkInferer(FieldPerImage(list(fields)), image_size=SIZE, normalize=lambda x: x,
                                     search_radius=4)
    template = matcher.make_template(constant(0), points)
    before = {key: getattr(template, key).clone() for key in ("coarse", "fine")}
    match = matcher(constant(1), template)["landmarks"]
    calls = []

    def record(descriptors, start, target, **settings):
        calls.append((descriptors, start, target, settings))
        return -start

    monkeypatch.setattr("ld_monai.inferers.template_refinement.fit_landmark_direction", record)
    trained = self_train_template(matcher, template, [1, 2], fraction=0.5, radius=6, load=constant)
    pooled = F.pad(matcher.fine_pool(close), (6, 6, 6, 6))
    for k, (descriptors, start, target, settings) in enumerate(calls):
        x, y = np.rint(match[k]).astype(int)
        expected = pooled[0, :, y : y + 13, x : x + 13].flatten(1).T[None]
        torch.testing.assert_close(descriptors, expected)
        torch.testing.assert_close(start, before["fine"][k])
        assert target == 6 * 13 + 6
        assert settings == {"temperature": 20.0, "steps": 200, "learning_rate": 0.05, "pull": 1e-3}  # the defaults
    assert len(calls) == len(points)
    torch.testing.assert_close(trained.fine, -before["fine"])
    torch.testing.assert_close(trained.coarse, before["coarse"])
    torch.testing.assert_close(template.fine, before["fine"], rtol=0, atol=0)


def test_self_train_on_the_template_itself_keeps_the_landmarks(cephalogram, inferer, template):
    image, points = cephalogram
    trained = self_train_template(inferer, template, [image, image], fraction=1.0, radius=10)
    np.testing.assert_array_less(np.abs(inferer(image, trained)["landmarks"] - points), 1.0)


def test_self_train_bad_input(cephalogram, inferer, template):
    image, _ = cephalogram
    with pytest.raises(ValueError, match="at least one"):
        self_train_template(inferer, template, [])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        self_train_template(inferer, template, [image], fraction=1.5)
    with pytest.raises(ValueError, match="max_images at least 1"):
        self_train_template(inferer, template, [image], max_images=0)
    with pytest.raises(ValueError, match=r"radius at least search_radius \(8\)"):
        self_train_template(inferer, template, [image], radius=5)
    with pytest.raises(ValueError, match="channel"):
        self_train_template(inferer, template, [image.repeat(3, 1, 1)])


def test_refinement_is_adaptation_then_self_training(cephalogram, inferer, template):
    """The two steps in turn, with the settings given: the same template as calling them; 0 rounds or 0 fraction
    switches a step off; a new template each time, the one given unchanged."""
    image, _ = cephalogram
    images = [image, torch.roll(image, shifts=(2, -3), dims=(1, 2))]
    own = template.fine.clone()
    refinement = TemplateRefinement(adapt_rounds=2, adapt_fraction=0.5, self_train_fraction=1.0,
                                    self_train_radius=10, direction_steps=20)
    refined = refinement(inferer, template, images)
    adapted = adapt_template(inferer, template, images, fraction=0.5, rounds=2)
    same_template(refined, self_train_template(inferer, adapted, images, fraction=1.0, radius=10, steps=20))
    torch.testing.assert_close(template.fine, own, rtol=0, atol=0)
    assert refinement.enabled
    same_template(TemplateRefinement(adapt_rounds=2, adapt_fraction=0.5, self_train_fraction=0.0)(
        inferer, template, images), adapted)
    loaded = TemplateRefinement(adapt_rounds=0, self_train_fraction=1.0, self_train_radius=10, direction_steps=20)(
        inferer, template, [0, 1], load=lambda i: images[i])
    same_template(loaded, self_train_template(inferer, template, images, fraction=1.0, radius=10, steps=20))
    off = TemplateRefinement(adapt_rounds=0, self_train_fraction=0.0)
    assert not off.enabled and off(inferer, template, images) is template


def test_every_setting_reaches_its_step(cephalogram, inferer, template, monkeypatch):
    """Non-default settings arrive where they are used: the adaptation's rounds and fraction, the self-training's
    fraction, image cap and window radius, and every setting of each landmark's direction fit."""
    image, _ = cephalogram
    images = [torch.roll(image, shifts=(s, -s), dims=(1, 2)) for s in range(5)]
    refinement = TemplateRefinement(adapt_rounds=3, adapt_fraction=0.4, self_train_fraction=0.8,
                                    self_train_max_images=3, self_train_radius=9, direction_temperature=7.0,
                                    direction_steps=5, direction_learning_rate=0.2, direction_pull=0.5)
    steps = []
    adapt, self_train = adapt_template, self_train_template

    def record_adapt(*args, **kwargs):
        steps.append(("adapt", args[3:], kwargs))
        return adapt(*args, **kwargs)

    def record_self_train(*args, **kwargs):
        steps.append(("self_train", args[3:], kwargs))
        return self_train(*args, **kwargs)

    fits = []

    def record_fit(descriptors, start, target, **settings):
        fits.append((len(descriptors), target, settings))
        return start

    monkeypatch.setattr("ld_monai.inferers.template_refinement.adapt_template", record_adapt)
    monkeypatch.setattr("ld_monai.inferers.template_refinement.self_train_template", record_self_train)
    monkeypatch.setattr("ld_monai.inferers.template_refinement.fit_landmark_direction", record_fit)
    refinement(inferer, template, images)
    assert [name for name, _, _ in steps] == ["adapt", "self_train"]
    assert steps[0][1][:2] == (0.4, 3)  # fraction, rounds
    assert steps[1][1] == (0.8, 3, 9)  # fraction, max_images, radius
    assert steps[1][2] == {"temperature": 7.0, "steps": 5, "learning_rate": 0.2, "pull": 0.5, "load": None,
                           "progress": False}
    assert len(fits) == 19
    for count, target, settings in fits:
        assert count == 3  # min(self_train_max_images, round(0.8 * 5)) windows
        assert target == 9 * 19 + 9  # the centre of a (2 * 9 + 1)^2 window
        assert settings == {"temperature": 7.0, "steps": 5, "learning_rate": 0.2, "pull": 0.5}


def test_refinement_settings_are_checked():
    with pytest.raises(ValueError, match="adapt_rounds and self_train_fraction must be >= 0"):
        TemplateRefinement(adapt_rounds=-1)
    with pytest.raises(ValueError, match="adapt_rounds and self_train_fraction must be >= 0"):
        TemplateRefinement(self_train_fraction=-0.5)
    for setting in ({"direction_temperature": 0.0}, {"direction_steps": 0}, {"direction_learning_rate": -1.0},
                    {"direction_pull": -1e-3}):
        with pytest.raises(ValueError, match="direction_temperature, direction_learning_rate > 0"):
            TemplateRefinement(**setting)
