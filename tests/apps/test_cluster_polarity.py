# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import json

import pytest
import torch

from ld_monai.apps.cluster_polarity import decide_cluster_polarity, read_cluster_complement


class FirstChannel(torch.nn.Module):
    """A segmenter whose probability is the image's first channel."""

    def forward(self, x):
        return x[:, :1]


def covering(columns: int) -> dict:
    """An item whose image's probability is 0.9 in the first ``columns`` of 10 columns, 0.1 elsewhere."""
    image = torch.full((1, 4, 10), 0.1)
    image[..., :columns] = 0.9
    return {"image": image}


@pytest.mark.parametrize("prior_fraction, polarity", [(0.3, "cluster"), (0.6, "complement"), (0.45, "cluster")])
def test_decision_takes_the_side_whose_mean_area_is_closer_to_the_prior(prior_fraction, polarity, tmp_path):
    """The cluster covers 70 % and 20 % of two images: a mean of 0.45, its complement 0.55. A prior of 0.3 keeps the
    cluster, 0.6 takes the complement, 0.45 (the cluster's own area) keeps it."""
    path = tmp_path / "polarity.json"
    decision = decide_cluster_polarity(FirstChannel(), [covering(7), covering(2)], lambda item: item, prior_fraction,
                                       path)
    assert decision == json.loads(path.read_text()) == {
        "polarity": polarity, "cluster_fraction": 0.45, "prior_fraction": prior_fraction, "images": 2}
    assert read_cluster_complement(path) == (polarity == "complement")


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        decide_cluster_polarity(FirstChannel(), [], lambda item: item, 0.3, tmp_path / "polarity.json")
    with pytest.raises(FileNotFoundError, match="decide_polarity"):
        read_cluster_complement(tmp_path / "missing.json")
    (tmp_path / "odd.json").write_text(json.dumps({"polarity": "inverse"}))
    with pytest.raises(ValueError, match="'cluster' or 'complement'"):
        read_cluster_complement(tmp_path / "odd.json")
