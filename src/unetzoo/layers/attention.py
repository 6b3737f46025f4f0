"""Additive attention gate of Attention U-Net (Oktay et al. 2018, arXiv 1804.03999, Sec. 2 / Fig. 2).

The gate computes a per-pixel coefficient ``alpha = sigmoid(psi(relu(W_g g + W_x x)))`` in [0, 1] from a
gating signal ``g`` (coarser decoder features) and the skip features ``x``, and returns ``x * alpha``.
Each linear map is a 1x1 convolution followed by BatchNorm, as in the widely used 2D reimplementation.
"""

from __future__ import annotations

import torch
from torch import nn

from unetzoo.layers.conv import ConvNormAct


class AttentionGate(nn.Module):
    """Additive attention gate: W_g 1x1+BN, W_x 1x1+BN, add, ReLU, psi 1x1+BN+sigmoid, multiply the skip.

    Args:
        gate_channels: channels of the gating signal ``g`` (F_g).
        skip_channels: channels of the skip features ``x`` (F_l).
        inter_channels: channels of the intermediate space (F_int; commonly ``skip_channels // 2``).

    ``g`` and ``x`` must have the same spatial size.
    """

    def __init__(self, gate_channels: int, skip_channels: int, inter_channels: int) -> None:
        super().__init__()
        self.w_g = ConvNormAct(gate_channels, inter_channels, 1, act=None)
        self.w_x = ConvNormAct(skip_channels, inter_channels, 1, act=None)
        self.relu = nn.ReLU(inplace=True)
        self.psi = ConvNormAct(inter_channels, 1, 1, act=nn.Sigmoid)

    def coefficients(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Attention coefficients alpha, shape (N, 1, H, W), values in [0, 1]."""
        return self.psi(self.relu(self.w_g(g) + self.w_x(x)))

    def forward(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x * self.coefficients(g, x)
