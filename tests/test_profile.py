"""profile(): FLOPs = 2 x MACs by torch.utils.flop_counter, checked against hand-computed conv costs."""

from __future__ import annotations

import torch
from torch import nn

import unetzoo


def test_conv_macs_match_hand_count() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
    prof = unetzoo.profile(model, (2, 3, 16, 20))
    hand = 2 * 16 * 20 * (3 * 8 * 9 + 8 * 4)
    assert prof.macs == hand
    assert prof.flops == 2 * hand
    assert prof.params == 3 * 8 * 9 + 8 + 8 * 4 + 4
    assert prof.weight_bytes == prof.params * 4


def test_peak_activation_memory_is_measured() -> None:
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 1, 3, padding=1))
    small = unetzoo.profile(model, (1, 1, 32, 32)).peak_activation_bytes
    big = unetzoo.profile(model, (1, 1, 64, 64)).peak_activation_bytes
    # The 16-channel intermediate dominates: at least 16*H*W floats are alive at the peak.
    assert small >= 16 * 32 * 32 * 4
    assert 3.5 < big / small < 4.5


def test_profile_restores_training_mode() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    unetzoo.profile(model, (1, 16, 16))
    assert model.training
    assert torch.equal(model[1].running_mean, torch.zeros(2))


def test_meta_device_counts_without_computing() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1))
    prof = unetzoo.profile(model, (2, 3, 16, 20))
    assert prof.macs == 2 * 16 * 20 * (3 * 8 * 9 + 8 * 4)
    assert prof.peak_activation_bytes == 0
