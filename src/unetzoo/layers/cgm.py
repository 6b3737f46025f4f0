"""Classification-guided module (CGM) of UNet 3+ (Huang et al., ICASSP 2020, Sec. 2.3, Fig. 3).

The deepest encoder map goes through Dropout(0.5) -> 1x1 conv (C -> 2) -> AdaptiveMaxPool2d(1), giving two
class scores per image: column 0 = "no object", column 1 = "object present". The paper applies a sigmoid and
an argmax, and multiplies every segmentation side output by the 0/1 decision. UNet# (Qian et al. 2022) reuses
the same module.

Logit form. unetzoo models return logits, not probabilities, so "multiply the probability by 0" becomes
"replace the logits by ``no_object_logit``" (default -20: sigmoid ~2e-9, yet a wrongly gated image costs
a bounded loss): the sigmoid of every channel is then ~0, i.e. an empty mask, and under a softmax/argmax
reading all channels tie, so argmax picks class 0 (background). The scores are returned *before* the
sigmoid (it is monotone, so the argmax is unchanged) so that a loss can apply ``BCEWithLogits`` against
one-hot "has object" targets.

Train/eval. The argmax is not differentiable (ZJUGiveLab/UNet-Version issue #3), so gating adds no gradient
to the classifier; in training it would only hide the segmentation loss of images the (still untrained)
classifier calls empty, and blow the loss up to ~|no_object_logit| per foreground pixel. We therefore gate
**only in eval mode**; in training the classifier learns from its own BCE term and the segmentation logits
pass through unchanged. (The reference code gates in both modes; this is a deliberate deviation.)
"""

from __future__ import annotations

import torch
from torch import nn


class ClassificationGuidance(nn.Module):
    """The CGM: ``forward`` gives (N, 2) class logits; ``gate`` applies the argmax decision in eval mode.

    Args:
        in_channels: channels of the deepest feature map it reads (1024 in UNet 3+, 512 in UNet#).
        dropout: dropout probability before the 1x1 conv (0.5 in the paper).
        no_object_logit: the logit written over images classified as "no object".
    """

    def __init__(self, in_channels: int, *, dropout: float = 0.5, no_object_logit: float = -20.0) -> None:
        super().__init__()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Conv2d(in_channels, 2, kernel_size=1),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(1),
        )
        self.no_object_logit = no_object_logit

    def forward(self, deepest: torch.Tensor) -> torch.Tensor:
        """Class logits (N, 2) of the deepest feature map (pre-sigmoid; column 1 = object present)."""
        return self.classifier(deepest)

    def gate(self, seg_logits: torch.Tensor, class_logits: torch.Tensor) -> torch.Tensor:
        """In eval mode, empty the masks of images whose argmax says "no object"; identity in training."""
        if self.training:
            return seg_logits
        no_object = (class_logits.argmax(dim=1) == 0).view(-1, 1, 1, 1)
        return seg_logits.masked_fill(no_object, self.no_object_logit)
