"""TrainConfig precedence, durations, and sliding-window inference."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

import unetzoo
from unetzoo.engine.config import TrainConfig
from unetzoo.engine.sliding_window import sliding_window, with_flip_tta
from unetzoo.utils.duration import parse_duration
from unetzoo.utils.tiling import gaussian_map, tile_starts


def test_yaml_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: unet\nbatch-size: 4\nlr: 0.01\n")
    c = TrainConfig.from_sources(cfg, lr=0.5, epochs=None)
    assert (c.model, c.batch_size, c.lr, c.epochs) == ("unet", 4, 0.5, TrainConfig().epochs)
    assert TrainConfig.from_sources(None, **{k: v for k, v in c.to_dict().items()}) == c


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optimizer: rmsprop\n", "adam"),
        ("nonsense_key: 1\n", "unknown training option"),
        ("- a\n", "mapping"),
        ("foreground_share: 1.5\n", "--foreground-share 1.5: give a share in"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(unetzoo.UnetzooError, match=message):
        TrainConfig.from_sources(cfg)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1.5h", 5400), ("1h30m", 5400), (5, 5)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["ten minutes", "10x", "-5", "0"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(unetzoo.UnetzooError, match="budget"):
        parse_duration(text)


def test_tiles_cover_the_image() -> None:
    starts = tile_starts(1000, 256, 0.25)
    assert starts[0] == 0 and starts[-1] == 1000 - 256
    assert all(b - a <= 256 for a, b in itertools.pairwise(starts))


def test_sliding_window_equals_whole_image_for_a_pointwise_model() -> None:
    """A 1x1 model has no spatial context, so tiled blending must reproduce the one-pass result exactly."""
    conv = torch.nn.Conv2d(2, 1, 1)

    def predictor(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(conv(x))

    image = torch.randn(2, 300, 410)
    with torch.no_grad():
        whole = predictor(image[None])[0]
        tiled = sliding_window(predictor, image, tile=(128, 96), overlap=0.3, batch_size=3)
    torch.testing.assert_close(tiled, whole, rtol=1e-5, atol=1e-6)


def test_gaussian_map_peaks_in_the_centre() -> None:
    g = gaussian_map(33, 33)
    assert g[16, 16] == 1.0 and g[0, 0] < g[16, 16] and g.min() > 0


def test_flip_tta_of_flip_equivariant_predictor_is_identity() -> None:
    def predictor(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x[:, :1] * 2)

    x = torch.randn(1, 1, 20, 30)
    torch.testing.assert_close(with_flip_tta(predictor)(x), predictor(x))
