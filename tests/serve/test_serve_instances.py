"""Objects over HTTP: the label image and the per-object table, for an instance model and a semantic one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from servekit import NUCLEI, decode_png, nuclei_png, running_server, upload

from unetzoo.data import open_source
from unetzoo.serve.model import ServedModel
from unetzoo.serve.server import UnetzooServer


@pytest.fixture(scope="module")
def server(instance_model: ServedModel) -> Iterator[UnetzooServer]:
    with running_server(instance_model) as s:
        yield s


def test_card_names_the_head(server: UnetzooServer, instance_model: ServedModel) -> None:
    assert instance_model.instance_model and instance_model.card["instances"]["head"] == "distance"
    assert set(instance_model.card["instances"]["decoding"]) == {"foreground", "seed", "min_area", "h", "zoom"}


def test_labels_table_and_counts_agree(server: UnetzooServer, instance_model: ServedModel) -> None:
    data = nuclei_png()
    png = upload(server.url, data, "n.png")
    labels = upload(server.url, data, "n.png", "?format=labels")
    table = upload(server.url, data, "n.png", "?format=objects").json()
    result = upload(server.url, data, "n.png", "?format=json").json()
    image = decode_png(labels.body)
    assert image.dtype == np.uint16 and image.shape == (64, 64)
    count = len(np.unique(image)) - 1
    assert labels.headers["content-disposition"] == 'attachment; filename="n_labels.png"'
    assert png.headers["x-object-count"] == labels.headers["x-object-count"] == str(count)
    assert table["object_count"] == result["object_count"] == count == len(table["objects"])
    assert [row["label"] for row in table["objects"]] == sorted(np.unique(image[image > 0]).tolist())
    areas = {row["label"]: row["area"] for row in table["objects"]}
    assert all(areas[k] == int((image == k).sum()) for k in areas)
    objects = instance_model.objects
    assert objects is not None
    decoded = objects.decode(objects.probabilities(open_source(NUCLEI).load(0)[0]))
    np.testing.assert_array_equal(image, decoded)  # the server applies the stored zoom and post-processing


def test_semantic_model_objects_are_connected_components(model: ServedModel, isbi_slice: Path) -> None:
    with running_server(model) as s:
        data = isbi_slice.read_bytes()
        mask = decode_png(upload(s.url, data, "00.png").body) > 0
        labels = decode_png(upload(s.url, data, "00.png", "?format=labels").body)
        plain = upload(s.url, data, "00.png")
    assert "x-object-count" not in plain.headers  # a semantic model counts objects only when asked
    n = ndimage.label(mask)[1]
    assert len(np.unique(labels)) - 1 == n
    np.testing.assert_array_equal(labels > 0, mask)
