"""Inference rewrites: generic conv + BatchNorm folding and the two-pass GroupNorm keep the function."""

from __future__ import annotations

import torch
from deploy_ckpt import randomize_norms
from torch import nn

from unetzoo.deploy.fold import TwoPassGroupNorm, fold_batchnorm, foldable_pairs, replace_group_norms


class Residual(nn.Module):
    """conv -> BN (foldable); conv2 -> BN2 whose conv output also feeds a residual add (not foldable);
    conv3 -> in-place ReLU -> BN3 (not foldable: BN reads a modified output)."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 8, 1, groups=2)
        self.relu3 = nn.ReLU(inplace=True)
        self.bn3 = nn.BatchNorm2d(8)
        self.up = nn.Sequential(nn.ConvTranspose2d(8, 4, 2, stride=2), nn.BatchNorm2d(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(x)
        y = self.conv2(x)
        x = self.bn2(y) + y
        x = self.bn3(self.relu3(self.conv3(x)))
        return self.up(x)


def test_only_exclusive_conv_bn_pairs_are_folded() -> None:
    torch.manual_seed(0)
    model = randomize_norms(Residual()).eval()
    x = torch.randn(2, 3, 12, 10)
    pairs = foldable_pairs(Residual().eval(), lambda m: m(x))
    assert sorted(pairs) == [("block.0", "block.1"), ("up.0", "up.1")]
    folded, count = fold_batchnorm(model, lambda m: m(x))
    assert count == 2
    assert isinstance(folded.block[1], nn.Identity) and isinstance(folded.up[1], nn.Identity)
    assert isinstance(folded.bn2, nn.BatchNorm2d) and isinstance(folded.bn3, nn.BatchNorm2d)
    assert isinstance(model.block[1], nn.BatchNorm2d)  # the original is untouched
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-5)
    assert not any(p.requires_grad for p in folded.parameters())


def test_two_pass_group_norm_equals_group_norm() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 8, 3), nn.ReLU(), nn.GroupNorm(4, 8), nn.GroupNorm(2, 8, affine=False))
    with torch.no_grad():
        model[2].weight.uniform_(0.5, 1.5)
        model[2].bias.uniform_(-1, 1)
    x = torch.randn(3, 2, 11, 17) * 4 + 9
    with torch.no_grad():
        ref = model(x)
        assert replace_group_norms(model) == 2
        assert isinstance(model[2], TwoPassGroupNorm) and isinstance(model[3], TwoPassGroupNorm)
        assert torch.allclose(model(x), ref, atol=1e-5)
