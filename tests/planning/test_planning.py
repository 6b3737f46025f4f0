"""The planner: fingerprint statistics, the rules, determinism, warnings, and ``unetzoo plan``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unetzoo
import unetzoo.planning.fingerprint as fingerprint_module
from unetzoo.cli import main
from unetzoo.data import open_source
from unetzoo.planning import load_plan, make_plan, rules
from unetzoo.planning.cost import ModelCost
from unetzoo.planning.fingerprint import cached_fingerprint, compute_fingerprint
from unetzoo.utils.edges import boundary_pixels
from unetzoo.utils.resample import Resampling

# A network that takes 1 microsecond per training pixel plus 10 ms a step, 1 KB of activations per pixel.
COST = ModelCost(0.01, 1e-6, 1000.0, 4e6, params=1000, input_multiple=32, threads=1)


def squares(root: Path, n: int, size: tuple[int, int], side: int, channels: int = 1, thin: bool = False) -> Path:
    """``n`` images with one centred ``side`` x ``side`` square each (or a 1-px foreground grid, vessel-like,
    when ``thin``)."""
    for i in range(n):
        mask = np.zeros(size, np.uint8)
        if thin:
            mask[::8, :] = 255
            mask[:, ::8] = 255
        else:
            top, left = (size[0] - side) // 2, (size[1] - side) // 2
            mask[top : top + side, left : left + side] = 255
        rng = np.random.default_rng(i)
        image = (mask // 2 + rng.integers(0, 60, size)).astype(np.uint8)
        if channels == 3:
            image = np.repeat(image[..., None], 3, axis=2)
        for folder, array in (("images", image), ("masks", mask)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / folder / f"img{i}.png")
    return root


def test_boundary_pixels_of_a_square() -> None:
    mask = np.zeros((10, 10), np.int64)
    mask[2:6, 3:8] = 1
    edge = boundary_pixels(mask)
    assert edge[mask == 1].sum() == 4 * 5 - 2 * 3  # the ring of the 4x5 square
    assert edge[mask == 0].sum() == 2 * 4 + 2 * 5  # the background pixels touching it


def test_fingerprint_measures_objects_sizes_and_density(tmp_path: Path) -> None:
    fp = compute_fingerprint(open_source(squares(tmp_path / "ds", 6, (64, 96), side=20)))
    assert (fp.n_images, fp.channels, fp.classes, fp.channel_counts) == (6, 1, 2, {"1": 6})
    assert fp.image_height == [64.0, 64.0, 64.0] and fp.image_width == [96.0, 96.0, 96.0]
    stats = fp.objects["foreground"]
    assert stats["count"] == 6 and stats["per_image"] == [1.0, 1.0, 1.0]
    assert stats["area_px"][1] == 400 and stats["extent_px"] == [20.0, 20.0, 20.0]
    assert stats["extent_rel"][1] == pytest.approx(20 / 96, abs=1e-4)
    assert fp.foreground_fraction["foreground"] == pytest.approx(400 / (64 * 96), abs=1e-4)
    assert fp.boundary_density["foreground"] == pytest.approx(76 / 400, abs=1e-4)
    assert fp.extent_px() == 20.0 and fp.intensity["dtype"] == "uint8"


@pytest.mark.parametrize(("dark_images", "planned"), [(0, "zscore"), (1, "zscore"), (3, "zscore_polarity")])
def test_data_mixing_bright_and_dark_objects_is_shown_with_one_polarity(
    tmp_path: Path, dark_images: int, planned: str
) -> None:
    root = squares(tmp_path / "ds", 12, (64, 64), side=16)  # bright squares on a dark background
    for i in range(dark_images):  # these become dark squares on a bright background
        path = root / "images" / f"img{i}.png"
        Image.fromarray(255 - np.asarray(Image.open(path))).save(path)
    fp = compute_fingerprint(open_source(str(root)))
    assert fp.intensity["negative_skew_share"] == pytest.approx(dark_images / 12, abs=1e-4)
    choice = rules.plan_normalize(fp)
    assert choice.value == planned
    if planned == "zscore_polarity":
        assert "25% of the measured images" in choice.reason


def test_fingerprint_is_cached_by_the_data_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = open_source(squares(tmp_path / "ds", 3, (32, 32), side=8))
    first = cached_fingerprint(source)
    monkeypatch.setattr(fingerprint_module, "compute_fingerprint", lambda s: pytest.fail("measured twice"))
    assert cached_fingerprint(open_source(str(tmp_path / "ds"))) == first
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "ds" / "masks" / "img0.png")  # data changed
    with pytest.raises(pytest.fail.Exception, match="measured twice"):
        cached_fingerprint(open_source(str(tmp_path / "ds")))


def test_finest_allowed_scale_bounds_the_expected_dice_cost() -> None:
    for density in (0.01, 0.1, 0.5):
        s = rules.finest_allowed_scale(density)
        cost = density * rules.BOUNDARY_ERROR_PX / 2 * (1 / s - 1)
        assert cost == pytest.approx(rules.MAX_SCALE_COST)
    assert rules.finest_allowed_scale(0.5) > rules.finest_allowed_scale(0.01)
    assert rules.finest_allowed_scale(0.0) == 0.0


def test_largest_patch_grows_with_the_budget() -> None:
    sides = [rules.largest_patch(COST, budget) for budget in (60, 300, 1200, 100_000)]
    assert sides == sorted(sides) and sides[0] == rules.PATCH_RANGE[0] and sides[-1] == rules.PATCH_RANGE[1]
    assert all(side % 32 == 0 for side in sides)


def test_small_objects_stay_native_large_objects_are_scaled_to_fit(tmp_path: Path) -> None:
    small = compute_fingerprint(open_source(squares(tmp_path / "small", 4, (512, 512), side=30)))
    large = compute_fingerprint(open_source(squares(tmp_path / "large", 4, (512, 512), side=400)))
    native, _ = rules.plan_scale(small, 256)
    scaled, warnings = rules.plan_scale(large, 256)
    assert native.value == Resampling() and "native" in native.reason
    factor = scaled.value.scale
    assert factor is not None and 400 * factor * rules.CONTEXT_MARGIN <= 256 and not warnings
    assert factor % rules.SCALE_STEP == 0 and factor + rules.SCALE_STEP > 256 / (400 * rules.CONTEXT_MARGIN)


def test_thin_structures_are_never_shrunk_below_their_boundary_allowance(tmp_path: Path) -> None:
    thin = compute_fingerprint(open_source(squares(tmp_path / "thin", 3, (256, 256), side=0, thin=True)))
    choice, warnings = rules.plan_scale(thin, 128)  # the grid is one thin object as large as the image
    floor = rules.finest_allowed_scale(thin.mean_boundary_density)
    assert (choice.value.scale or 1.0) >= floor > 0.5
    assert warnings and "do not fit" in warnings[0] and "--budget" in warnings[0]


def mixed_sizes(root: Path, sides: list[int], relative: bool) -> Path:
    """Square images of the given sides with one centred square object: 40% of the image (``relative``), or
    always 12 px."""
    for i, side in enumerate(sides):
        obj = int(0.4 * side) if relative else 12
        mask = np.zeros((side, side), np.uint8)
        top = (side - obj) // 2
        mask[top : top + obj, top : top + obj] = 255
        for folder, array in (("images", mask // 2 + 30), ("masks", mask)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / folder / f"img{i}.png")
    return root


def test_objects_that_scale_with_their_images_get_one_fixed_size(tmp_path: Path) -> None:
    sides = [96, 128, 192, 256, 320, 384]
    photos = compute_fingerprint(open_source(mixed_sizes(tmp_path / "photos", sides, relative=True)))
    nuclei = compute_fingerprint(open_source(mixed_sizes(tmp_path / "nuclei", sides, relative=False)))
    assert rules.objects_scale_with_images(photos) and not rules.objects_scale_with_images(nuclei)
    resized, _ = rules.plan_scale(photos, 128)
    size = resized.value.size
    assert resized.value.mode == "resize" and size[0] == size[1] and "scale with them" in resized.reason
    assert 0.4 * size[0] * rules.CONTEXT_MARGIN <= 128 + 0.4 * 16  # the median-image object fits the patch
    native, _ = rules.plan_scale(nuclei, 128)
    assert native.value == Resampling()


def test_whole_images_when_they_fit_else_patches(tmp_path: Path) -> None:
    fp = compute_fingerprint(open_source(squares(tmp_path / "ds", 3, (100, 150), side=20)))
    whole = rules.plan_patch(fp, Resampling(), 256, 32)
    assert whole.value == [128, 160] and "whole" in whole.reason
    patches = rules.plan_patch(fp, Resampling(), 64, 32)
    assert patches.value == [64, 64] and "random" in patches.reason


def test_every_image_up_to_the_one_pass_side_is_predicted_whole(tmp_path: Path) -> None:
    """Not only the 95th-percentile size: a larger image up to INFERENCE_WHOLE_SIDE is one tile, not four."""
    fp = compute_fingerprint(open_source(mixed_sizes(tmp_path / "ds", [96, 128, 192, 256], relative=False)))
    assert max(rules.working_size(fp, Resampling())) < 300
    plan = rules.plan_inference(fp, Resampling(), [128, 128])
    side = rules.INFERENCE_WHOLE_SIDE
    assert plan.value == {"mode": "whole", "tile": [side, side], "overlap": 0.25, "tta": False}


def test_images_of_varied_sizes_train_in_patches_of_the_median_image(tmp_path: Path) -> None:
    """Whole 384 px images would fit a 512 px budget, but most images are smaller: a whole-image patch would be
    mostly padding, so the patch stays within the median image."""
    fp = compute_fingerprint(open_source(mixed_sizes(tmp_path / "nuclei", [96, 128, 160, 160, 192, 384], False)))
    assert rules.size_spread(fp, Resampling()) > rules.SIZE_SPREAD
    patch = rules.plan_patch(fp, Resampling(), 512, 32)
    median = rules.working_size(fp, Resampling(), q=1)
    assert patch.value == [rules.round_up(median[0], 32), rules.round_up(median[1], 32)]
    assert patch.value[0] < 384 and "sizes vary" in patch.reason


def test_batch_follows_the_budget_and_warns_when_it_is_too_small() -> None:
    big, steps, warnings = rules.plan_batch(COST, [256, 256], 100_000)
    assert big.value == 16 and steps >= rules.TARGET_STEPS and not warnings
    tiny, steps, warnings = rules.plan_batch(COST, [256, 256], 20)
    assert tiny.value == 2 and steps < rules.MIN_STEPS
    assert "budget" in warnings[0] and "--budget" in warnings[0]


def test_plan_is_deterministic_complete_and_honours_fixed_choices(tmp_path: Path) -> None:
    data = str(squares(tmp_path / "ds", 8, (96, 128), side=24))
    first = make_plan(data, "ulite", budget="2m", threads=1)
    assert first.to_dict() == make_plan(data, "ulite", budget="2m", threads=1).to_dict()
    for key in ("resampling", "patch_size", "batch_size", "normalize", "augment", "loss", "lr", "inference"):
        assert key in first.reasons
    assert first.iters_per_epoch and first.expected_steps and first.cost["threads"] == 1
    fixed = make_plan(data, "ulite", budget="2m", threads=1, resampling=Resampling("scale", scale=0.5),
                      patch_size=(48, 64), batch_size=3)  # fmt: skip
    assert (fixed.resampling["scale"], fixed.patch_size, fixed.batch_size) == (0.5, [48, 64], 3)
    assert "given" in fixed.reasons["resampling"] and "given" in fixed.reasons["batch_size"]
    assert isinstance(unetzoo.plan(data, model="ulite", budget=120, threads=1), unetzoo.Plan)
    # the training log's line says what stops the run: the budget, the epochs, or whichever comes first
    assert first.summary_line().endswith("in 120 s") and "steps" in first.summary_line()
    assert first.summary_line(5, budget=False).endswith("for 5 epochs") and "steps" not in first.summary_line(5, False)
    assert first.summary_line(5).endswith("in 120 s or 5 epochs, whichever comes first")


def test_images_that_disagree_in_channels_are_explained(tmp_path: Path) -> None:
    root = squares(tmp_path / "ds", 3, (64, 64), side=16)
    rgb = np.repeat(np.asarray(Image.open(root / "images" / "img0.png"))[..., None], 3, axis=2)
    Image.fromarray(rgb).save(root / "images" / "img0.png")
    plan = make_plan(str(root), "ulite", budget="1m", threads=1)
    assert any("disagree in channels" in w and "1 image(s) with 3 channel(s)" in w for w in plan.warnings)


def test_plan_cli_json_and_reuse_by_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(squares(tmp_path / "ds", 8, (64, 64), side=16))
    assert main(["plan", "--data", data, "--budget", "1m", "--threads", "1", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    for key in ("resampling", "patch_size", "batch_size", "normalize", "augment", "loss", "lr", "inference", "reasons"):
        assert key in plan
    plan["patch_size"], plan["batch_size"] = [32, 32], 2
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    run = tmp_path / "run"
    argv = ["train", "--data", data, "--plan", str(tmp_path / "plan.json"), "--epochs", "1", "--out", str(run)]
    assert main([*argv, "--no-progress", "--threads", "1"]) == 0
    stored = load_plan(run / "plan.json")
    assert stored.patch_size == [32, 32] and stored.batch_size == 2
    assert "patch_size:\n- 32\n- 32" in (run / "config.yaml").read_text()
    assert main(["plan", "--data", data, "--resize", "32", "32", "--scale", "0.5"]) == 2
    assert main(["train", "--data", data, "--plan", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x")]) == 1
    assert "plan file not found" in capsys.readouterr().err


def test_a_slower_real_step_shrinks_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner times one real step where it lands; when that step is 3x slower than the cost model's line
    (memory-bound large steps), it plans again at the measured speed and times the new point."""
    import unetzoo.planning as planning
    from unetzoo.planning.cost import ModelCost

    data = str(squares(tmp_path / "ds", 8, (512, 512), side=24))
    timed: list[tuple[int, list[int]]] = []
    factor = 1.0
    # ulite's cost line as calibrated on a quiet 2-core machine: the test must not depend on the machine's load
    line = ModelCost(0.02, 7e-7, 2250.0, 2.5e6, 878_417, 32, 1)

    def real_step(spec: dict, threads: int, batch: int, patch: list[int], **_: object) -> float:
        """The cost line's own prediction times ``factor``."""
        timed.append((batch, list(patch)))
        return factor * line.step_seconds(batch, patch[0] * patch[1])

    monkeypatch.setattr(planning, "model_cost", lambda spec, threads, **_: line)
    monkeypatch.setattr(planning, "step_seconds_at", real_step)
    honest = make_plan(data, "ulite", budget="10m", threads=1)
    point = honest.cost["operating_point"]
    assert point["step_seconds"] > 0 and abs(honest.expected_steps - 600 / point["step_seconds"]) <= 1
    assert point["measured_over_model"] == pytest.approx(1.0) and len(timed) == 1
    timed.clear()
    factor = 3.0
    slowed = make_plan(data, "ulite", budget="10m", threads=1)
    area = slowed.patch_size[0] * slowed.patch_size[1] * slowed.batch_size
    assert area < honest.patch_size[0] * honest.patch_size[1] * honest.batch_size
    assert slowed.cost["operating_point"]["measured_over_model"] == pytest.approx(3.0, rel=1e-3)
    assert len(timed) == 2 and "a real step at" in slowed.reasons["batch_size"]


def test_retime_replaces_timings_taken_on_a_busy_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Timings are cached per machine, so one taken under load would shrink every later plan: ``--retime``
    measures the network again and replaces them."""
    monkeypatch.setenv("UNETZOO_CACHE_DIR", str(tmp_path / "cache"))
    data = str(squares(tmp_path / "ds", 8, (64, 64), side=16))
    make_plan(data, "ulite", budget="1m", threads=1)
    for path in (tmp_path / "cache").glob("*/*.json"):  # as if timed while something else ran: 50x slower
        entry = json.loads(path.read_text())
        for key in ("overhead_s", "seconds_per_px", "seconds"):
            if key in entry:
                entry[key] *= 50
        path.write_text(json.dumps(entry))
    busy = make_plan(data, "ulite", budget="1m", threads=1)
    assert main(["plan", "--data", data, "--budget", "1m", "--threads", "1", "--retime", "--json"]) == 0
    retimed = json.loads(capsys.readouterr().out)
    assert retimed["cost"]["seconds_per_px"] < busy.cost["seconds_per_px"] / 5
    again = make_plan(data, "ulite", budget="1m", threads=1)  # the new timings are the cached ones now
    assert json.loads(again.to_json())["cost"] == retimed["cost"]
