"""The model shipped in the package (``nuclei``): present, intact, small, and segmenting through both engines."""

from __future__ import annotations

import numpy as np
import pytest

from unetzoo import pretrained
from unetzoo.data import open_source
from unetzoo.instances.scale import ObjectSizer
from unetzoo.metrics.segmentation import compute_all
from unetzoo.serve.model import load_model
from unetzoo.utils.resample import Resampling, apply_to_image

WHEEL_BUDGET = 8_000_000
"""Issue 16: the package grows by at most 8 MB."""


@pytest.fixture(scope="module")
def nuclei() -> pretrained.PretrainedModel:
    return pretrained.get("nuclei")


def test_registered_with_its_card_and_every_file_verifies(nuclei: pretrained.PretrainedModel) -> None:
    assert nuclei.task == "instances" and nuclei.data_licence == "CC0-1.0" and nuclei.object_size > 0
    low, high = nuclei.object_size_range
    assert low < nuclei.object_size < high
    assert nuclei.intended_inputs and nuclei.not_trained_on and {"dice", "map", "ap50"} <= nuclei.scores.keys()
    assert {"command", "record_git_commit", "shipped_git_commit", "data_fingerprint"} <= nuclei.recipe.keys()
    for kind in nuclei.files:
        nuclei.path(kind)  # sha256 checked
    assert nuclei.size_bytes < WHEEL_BUDGET


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_segments_bundled_nuclei_through_both_engines(engine: str) -> None:
    """Images of builtin:nuclei (a subset of its training data: a check that it works, not a score)."""
    objects = pretrained.load_pretrained("nuclei", engine=engine)
    source = open_source("builtin:nuclei")
    for i in (0, 50):
        image, mask = source.load(i)
        probs = objects.probabilities(image)
        assert compute_all(objects.foreground(probs), (mask > 0).astype(np.int64))["dice"] > 0.8
        assert objects.decode(probs).max() >= 0.5 * source.read_instances(i).max()


def test_engines_agree() -> None:
    image = open_source("builtin:nuclei").load(7)[0]
    onnx = pretrained.load_pretrained("nuclei").probabilities(image)
    torch_probs = pretrained.load_pretrained("nuclei", engine="torch").probabilities(image)
    np.testing.assert_allclose(onnx, torch_probs, atol=1e-3)


def test_estimated_object_size_follows_a_zoom(nuclei: pretrained.PretrainedModel) -> None:
    """The same image at half size: its estimated nucleus diameter halves, and the second pass restores it."""
    objects = pretrained.load_pretrained("nuclei")
    sizer = ObjectSizer(objects, nuclei.object_size)
    image = open_source("builtin:nuclei").load(3)[0]
    full = sizer.run(image).object_size
    half = sizer.run(apply_to_image(image, Resampling("scale", scale=0.5)))
    assert full is not None and half.object_size == pytest.approx(full / 2, rel=0.3)


def test_serve_default_serves_it() -> None:
    served = load_model("nuclei")
    assert served.instance_model and served.card["pretrained"]["name"] == "nuclei"
