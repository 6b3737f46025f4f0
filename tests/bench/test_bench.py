"""``unetzoo bench``: timing statistics, engines, inference fusion, peers, RSS and the CLI (tiny inputs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from unetzoo.bench.engines import PROVIDERS, get_engine, list_engines
from unetzoo.bench.latency import LatencyStats, matmul_peak_gflops, num_threads, time_interleaved, train_step
from unetzoo.bench.memory import peak_rss
from unetzoo.bench.suite import bench, format_table
from unetzoo.cli import main
from unetzoo.deploy.optimize import fuse_for_inference, merged_axial
from unetzoo.engine.train import training_memory_format
from unetzoo.errors import UnetzooError
from unetzoo.layers.axial import AxialDW
from unetzoo.models.peers import build_model, create_peer, list_peers

SIZE = (32, 32)
ROW_KEYS = {
    "model",
    "engine",
    "input",
    "batch",
    "threads",
    "params",
    "gmacs",
    "latency_median_ms",
    "latency_p90_ms",
    "latency_min_ms",
    "runs",
    "throughput_batch",
    "throughput",
    "train_throughput",
    "peak_rss_mb",
    "inference_rss_mb",
    "gflops",
    "matmul_peak_gflops",
    "peak_fraction",
}


def _randomize_norms(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, so that folding them is really tested."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
    return model.eval()


def test_latency_stats_from_seconds() -> None:
    stats = LatencyStats.from_seconds([0.001 * i for i in range(1, 21)])
    assert stats.runs == 20
    assert stats.min_ms == pytest.approx(1.0)
    assert stats.median_ms == pytest.approx(10.5)
    assert stats.min_ms <= stats.median_ms <= stats.p90_ms <= 20.0
    assert stats.per_second(8) == pytest.approx(8 / 0.0105)
    assert set(stats.as_dict()) == {"median_ms", "p90_ms", "min_ms", "runs"}
    with pytest.raises(ValueError):
        LatencyStats.from_seconds([])


def test_time_interleaved_runs_round_robin_after_warmup() -> None:
    order: list[str] = []
    stats = time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, runs=4, warmup=2)
    assert order == ["a", "b"] * 6
    assert {k: s.runs for k, s in stats.items()} == {"a": 4, "b": 4}
    assert all(len(s.seconds) == 4 and s.min_ms >= 0 for s in stats.values())


def test_num_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError), num_threads(0):
        pass


def test_matmul_peak_is_positive() -> None:
    assert matmul_peak_gflops(size=128, repeats=2) > 0


def test_train_step_updates_weights_and_sums_side_outputs() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            y = self.conv(x)
            return [y, 2 * y]

    model = TwoHeads().eval()
    before = model.conv.weight.detach().clone()
    step = train_step(model, torch.randn(2, 1, 8, 8))
    step()
    step()
    trained = step.model  # a copy, in the training engine's layout
    assert trained.training and trained.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(before, trained.conv.weight)
    assert torch.equal(before, model.conv.weight) and not model.training  # the original is untouched


def test_train_step_layout_follows_the_model_and_amp_runs_bf16() -> None:
    """A model that opts out of channels_last (the MONAI peers) trains in NCHW; ``amp`` runs the forward in bf16."""

    class Probe(nn.Module):
        channels_last = False

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.dtypes: list[torch.dtype] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            self.dtypes.append(y.dtype)
            return y

    batch = torch.randn(2, 3, 8, 8)
    assert training_memory_format(torch.device("cpu"), Probe()) == torch.contiguous_format
    assert training_memory_format(torch.device("cpu"), nn.Conv2d(1, 1, 1)) == torch.channels_last
    plain, mixed = train_step(Probe(), batch), train_step(Probe(), batch, amp=True)
    plain(), mixed()
    assert plain.model.conv.weight.is_contiguous() and not plain.model.conv.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    assert (plain.model.dtypes, mixed.model.dtypes) == ([torch.float32], [torch.bfloat16])
    assert mixed.model.conv.weight.dtype == torch.float32  # autocast keeps fp32 master weights


def test_unknown_and_unavailable_engines_give_one_line_errors() -> None:
    with pytest.raises(UnetzooError, match="unknown engine 'tensorrt'; choose from: compiled, compiled-bf16") as exc:
        get_engine("tensorrt")
    assert exc.value.exit_code == 2
    assert {"eager", "eager-fused", "onnx", "onnx-int8"} <= set(list_engines())
    for planned in PROVIDERS:
        assert get_engine(planned).name == planned  # the provider module registered it on first use


@pytest.mark.parametrize("name", ["ulite", "unet_sharp", "sd_unet"])
def test_onnx_engines_match_eager(name: str) -> None:
    """``onnx`` reproduces eager logits (folds and merges included); ``onnx-int8`` follows them; odd sizes pad.

    Random weights and Gaussian inputs (the engine calibrates on synthetic nuclei) make INT8 masks a poor
    test here; INT8 mask quality on trained weights and real images is tests/deploy/test_deploy_int8.py's.
    """
    torch.manual_seed(0)
    model = _randomize_norms(build_model(name)).eval()
    x = torch.randn(2, 3, 40, 36)
    with torch.inference_mode():
        eager = model(x).numpy()
    fp32 = get_engine("onnx").build(model, x, 1)
    out = fp32(x)
    assert isinstance(out, np.ndarray) and out.shape == eager.shape
    assert np.abs(out - eager).max() < 1e-4
    assert np.abs(fp32(x.numpy()) - eager).max() < 1e-4  # numpy in, too
    int8 = get_engine("onnx-int8").build(model, x, 1)(x)
    assert int8.shape == eager.shape
    correlation = np.corrcoef(int8.ravel(), eager.ravel())[0, 1]
    assert correlation > 0.7, f"INT8 logits correlate with eager's at only {correlation:.2f}"


@pytest.mark.parametrize("name", ["ulite", "unet_sharp"])
def test_openvino_engines_match_eager(name: str) -> None:
    """``openvino`` reproduces eager logits on the exported graph; ``openvino-bf16`` follows them at bf16
    precision (8 bits of mantissa: the logits correlate and agree to 2% of their scale)."""
    torch.manual_seed(0)
    model = _randomize_norms(build_model(name)).eval()
    x = torch.randn(2, 3, 40, 36)
    with torch.inference_mode():
        eager = model(x).numpy()
    out = get_engine("openvino").build(model, x, 1)(x)
    assert isinstance(out, np.ndarray) and out.shape == eager.shape
    assert np.abs(out - eager).max() < 1e-3 * max(1.0, float(np.abs(eager).max()))
    bf16 = get_engine("openvino-bf16").build(model, x, 1)(x.numpy())
    assert bf16.shape == eager.shape
    assert np.corrcoef(bf16.ravel(), eager.ravel())[0, 1] > 0.98
    assert np.abs(bf16 - eager).max() < 0.02 * max(1.0, float(np.abs(eager).max()))


def test_onnx_engine_refuses_foreign_modules() -> None:
    with pytest.raises(UnetzooError, match="not a unetzoo model"):
        get_engine("onnx").build(nn.Conv2d(3, 1, 1), torch.randn(1, 3, 8, 8), 1)


def test_torch_engines_accept_numpy_and_agree() -> None:
    model = _randomize_norms(build_model("ulite"))
    batch = np.random.default_rng(0).standard_normal((2, 3, *SIZE)).astype(np.float32)
    example = torch.from_numpy(batch)
    eager = get_engine("eager").build(model, example, 1)(batch)
    fused = get_engine("eager-fused").build(model, example, 1)(batch)
    assert eager.shape == (2, 1, *SIZE)
    torch.testing.assert_close(fused, eager, atol=1e-5, rtol=1e-4)
    compiled = get_engine("compiled").build(model, example, 1)(batch)  # torch.compile of the fused model
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-3)
    bf16 = get_engine("eager-bf16").build(model, example, 1)(batch)
    assert bf16.dtype == torch.float32 and bf16.shape == eager.shape
    scale = float(eager.abs().max())
    assert float((bf16 - eager).abs().max()) < 0.05 * scale  # bf16 keeps ~3 significant digits
    assert np.corrcoef(bf16.ravel(), eager.ravel())[0, 1] > 0.999


@pytest.mark.parametrize("dilation", [1, 3])
def test_merge_axial_is_the_same_function(dilation: int) -> None:
    axial = AxialDW(4, 5, dilation).eval()
    x = torch.randn(1, 4, 20, 20)
    merged = merged_axial(axial)
    assert merged.kernel_size == (5, 5) and merged.groups == 4
    torch.testing.assert_close(merged(x), axial(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["ulite", "unet_sharp", "sd_unet"])
def test_fuse_for_inference_keeps_outputs_and_removes_norms(name: str) -> None:
    def norms(module: nn.Module) -> int:
        return sum(isinstance(m, nn.BatchNorm2d) for m in module.modules())

    model = _randomize_norms(build_model(name))
    before = norms(model)
    x = torch.randn(2, 3, *SIZE)
    fused = fuse_for_inference(model, x)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=1e-4)
    assert norms(fused) == 0  # SD-UNet has none to start with (GroupNorm, WS folded)
    assert not any(isinstance(m, AxialDW) for m in fused.modules())
    assert norms(model) == before  # the original is untouched


def test_bench_rows_have_every_key_and_print() -> None:
    rows = bench(["ulite"], size=SIZE, threads=1, runs=3, throughput_runs=1, train_steps=1, memory=False)
    assert len(rows) == 1
    row = rows[0].as_dict()
    assert set(row) == ROW_KEYS
    assert row["model"] == "ulite" and row["engine"] == "eager" and row["params"] == 878_417
    assert row["latency_min_ms"] <= row["latency_median_ms"] <= row["latency_p90_ms"]
    assert row["throughput"] > 0 and row["train_throughput"] > 0 and row["peak_fraction"] > 0
    table = format_table(rows)
    assert "ulite" in table and "%peak" in table and "matmul peak" in table


def test_peak_rss_runs_in_a_fresh_process() -> None:
    rss = peak_rss("ulite", "eager", (1, 3, *SIZE), threads=1, runs=1)
    assert rss.peak_mb > 50  # interpreter + torch
    assert 0 <= rss.inference_mb < rss.peak_mb


def test_cli_bench_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "--models", "ulite", "--size", *map(str, SIZE), "--runs", "2", "--threads", "1"]
    assert main([*argv, "--train-steps", "0", "--no-memory", "--json", "--engines", "eager,eager-fused"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["engine"] for r in rows] == ["eager", "eager-fused"]
    assert all(set(r) == ROW_KEYS and r["train_throughput"] is None for r in rows)


def test_cli_bench_unknown_engine_and_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--models", "ulite", "--engines", "nope", "--no-memory"]) == 2
    assert main(["bench", "--models", "nope", "--no-memory"]) == 2
    err = capsys.readouterr().err
    assert "unknown engine 'nope'" in err and "unknown model 'nope'" in err and "monai_unet" in err


def test_unknown_peer_source() -> None:
    with pytest.raises(UnetzooError, match="unknown peer source"):
        list_peers("smp")


@pytest.mark.parametrize("name", list_peers("monai"))
def test_monai_peers_look_like_unetzoo_models(name: str) -> None:
    pytest.importorskip("monai")
    model = create_peer(name, in_channels=2, classes=3).eval()
    assert (model.in_channels, model.classes) == (2, 3)
    with torch.inference_mode():
        out = model(torch.randn(1, 2, 40, 36))  # not a multiple of 16: mirror-padded and cropped back
    assert isinstance(out, torch.Tensor) and out.shape == (1, 3, 40, 36)
