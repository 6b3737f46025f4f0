"""Classification-guided modules (CGMs): does the image contain the object at all? If not, empty the mask.

Two designs, and the wiring every model with CGMs shares (:class:`Guidance`):

* **UNet 3+** (Huang et al., ICASSP 2020, Sec. 2.3, Fig. 3), :class:`ClassificationGuidance`: the deepest
  encoder map goes through Dropout(0.5) -> 1x1 conv (C -> 2) -> AdaptiveMaxPool2d(1), two scores per image
  (column 0 = "no object", column 1 = "object present"), read through a sigmoid; the argmax decision multiplies
  every segmentation output.
* **UNet#** (Qian et al. 2022, Sec. 2.3, Fig. 3), :class:`BranchGuidance` of :class:`ConcatPoolClassifier`: one
  CGM per deep-supervision branch, reading that branch's own feature map: AdaptiveAvgPool2d and
  AdaptiveMaxPool2d concatenated, Flatten, BatchNorm1d, Dropout, Linear, then Softmax and Argmax. The "green"
  CGM of the two deepest branches (X_En^{4,0}, X_De^{3,1}) repeats the sequence once more ("Linear, ReLU, and
  one more time of the sequential operation"); the "blue" one of the six narrow branches has a single Linear.

Logit form. unetzoo models return logits, not probabilities, so "multiply the probability by 0" becomes
"replace the logits by ``no_object_logit``" (default -20: sigmoid ~2e-9, yet a wrongly gated image costs
a bounded loss): the sigmoid of every channel is then ~0, i.e. an empty mask, and under a softmax/argmax
reading all channels tie, so argmax picks class 0 (background). The scores are kept *before* the sigmoid or
softmax (both monotone, so the argmax is unchanged), for the BCE term of :class:`unetzoo.losses.GuidedLoss`.

Train/eval. The argmax is not differentiable (ZJUGiveLab/UNet-Version issue #3), so gating adds no gradient
to the classifier; in training it would only hide the segmentation loss of images the (still untrained)
classifier calls empty, and blow the loss up to ~|no_object_logit| per foreground pixel. We therefore gate
**only in eval mode**; in training the classifier learns from its own BCE term and the segmentation logits
pass through unchanged. (Both papers multiply in training too; this is a deliberate deviation.)

Trained or not. An untrained classifier's argmax is a coin toss per image, or worse, the same answer for
every image (one seed blanked 8 of 8 masks), so gating is applied only once the CGMs have been trained:
``trained_steps`` (a state-dict buffer, saved in checkpoints) counts the training steps in which the BCE term
reached them. A freshly built model, or a checkpoint from a run without that term (older ones load with 0),
returns ungated logits in eval too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

ClassActivation = Literal["sigmoid", "softmax"]
NO_OBJECT_LOGIT = -20.0
CGM_DROPOUT = 0.5
"""Dropout of every CGM: UNet 3+'s 0.5 (Sec. 2.3, Fig. 3). UNet# (Sec. 2.3) lists Dropout without a rate."""


class Guidance(nn.Module):
    """What the CGMs of one model share: scores of the last forward, the trained state, eval-mode gating.

    Subclasses say which classifier serves a branch (:meth:`classifier_for`) and how its two scores are read
    (``activation``: ``"sigmoid"`` per column as in UNet 3+, ``"softmax"`` over both as in UNet#).

    Args:
        final_branch: the branch whose output the model returns in eval mode (its scores are the model's
            classification, e.g. for ``cgm_accuracy``).
        no_object_logit: the logit written over images classified as "no object".
    """

    activation: ClassActivation = "sigmoid"

    def __init__(self, final_branch: str, *, no_object_logit: float = NO_OBJECT_LOGIT) -> None:
        super().__init__()
        self.final_branch = final_branch
        self.no_object_logit = no_object_logit
        self.register_buffer("trained_steps", torch.zeros((), dtype=torch.long))
        self._trained = False  # trained_steps > 0, kept as a Python bool: tracing bakes no tensor-to-bool in
        self.scores: dict[str, torch.Tensor] = {}

    def classifier_for(self, branch: str) -> nn.Module:
        """The classifier whose decision gates ``branch``."""
        raise NotImplementedError

    def forward(self, branch: str, features: torch.Tensor) -> torch.Tensor:
        """Scores (N, 2) of ``features`` by ``branch``'s classifier (pre-activation; column 1 = object), kept in
        :attr:`scores` for the loss."""
        scores = self.classifier_for(branch)(features)
        self.scores[branch] = scores
        return scores

    def guide(self, branch: str, features: torch.Tensor, seg_logits: torch.Tensor) -> torch.Tensor:
        """Classify ``features`` for ``branch`` and return that branch's ``seg_logits`` gated by the decision."""
        return self.gate(seg_logits, self(branch, features))

    def gate(self, seg_logits: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """In eval mode, once trained, empty the masks of images whose argmax says "no object"; else identity."""
        if self.training or not self._trained:
            return seg_logits
        no_object = (scores.argmax(dim=1) == 0).view(-1, 1, 1, 1)
        return seg_logits.masked_fill(no_object, self.no_object_logit)

    @property
    def trained(self) -> bool:
        """Whether a classification loss has trained these CGMs (and so whether they gate in eval)."""
        return self._trained

    def mark_trained(self) -> None:
        """Count one training step of the CGMs (called by the loss term that trains them)."""
        self.trained_steps += 1
        self._trained = True

    def final_scores(self) -> torch.Tensor | None:
        """Scores (N, 2) of the last forward for the returned output's branch, or None before any forward."""
        return self.scores.get(self.final_branch)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # A checkpoint written before CGMs were trained has no trained_steps: it loads as untrained (0).
        state_dict.setdefault(f"{prefix}trained_steps", torch.zeros((), dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._trained = not self.trained_steps.is_meta and bool(self.trained_steps.item() > 0)


class ClassificationGuidance(Guidance):
    """UNet 3+'s CGM (Sec. 2.3, Fig. 3): one classifier on the deepest map; its decision gates the output.

    Args:
        in_channels: channels of the deepest feature map it reads (1024 in UNet 3+).
        dropout: dropout probability before the 1x1 conv (0.5 in the paper).
        no_object_logit: the logit written over images classified as "no object".
    """

    activation: ClassActivation = "sigmoid"

    def __init__(
        self, in_channels: int, *, dropout: float = CGM_DROPOUT, no_object_logit: float = NO_OBJECT_LOGIT
    ) -> None:
        super().__init__("final", no_object_logit=no_object_logit)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Conv2d(in_channels, 2, kernel_size=1),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(1),
        )

    def classifier_for(self, branch: str) -> nn.Module:
        return self.classifier


class ConcatPool(nn.Module):
    """``[AdaptiveAvgPool2d(1), AdaptiveMaxPool2d(1)]`` concatenated and flattened: (N, C, H, W) -> (N, 2C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([nn.functional.adaptive_avg_pool2d(x, 1), nn.functional.adaptive_max_pool2d(x, 1)], 1)
        return pooled.flatten(1)


class ConcatPoolClassifier(nn.Sequential):
    """One UNet# CGM (Sec. 2.3, Fig. 3): ConcatPool, then BatchNorm1d -> Dropout -> Linear, to 2 scores.

    Args:
        in_channels: channels C of the branch feature map it reads.
        hidden: ``None`` for the "blue" CGM (one Linear, 2C -> 2); a width for the "green" one, whose sequence
            runs twice: BatchNorm1d(2C) -> Dropout -> Linear(2C -> hidden) -> ReLU -> BatchNorm1d(hidden) ->
            Dropout -> Linear(hidden -> 2). The paper does not give the hidden width; UNet# uses C.
        dropout: probability of each Dropout (not given by the paper; UNet 3+'s 0.5).

    BatchNorm1d normalises over the batch: training needs batches of 2 or more images.
    """

    def __init__(self, in_channels: int, hidden: int | None = None, *, dropout: float = CGM_DROPOUT) -> None:
        width = 2 * in_channels
        layers: list[nn.Module] = [ConcatPool(), nn.BatchNorm1d(width), nn.Dropout(dropout)]
        if hidden is not None:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.BatchNorm1d(hidden), nn.Dropout(dropout)]
            width = hidden
        super().__init__(*layers, nn.Linear(width, 2))


class BranchGuidance(Guidance):
    """UNet#'s CGMs (Sec. 2.3): one classifier per output branch, each gating its own branch; scores are read
    through a softmax (trained with BCE on it, i.e. a two-class cross-entropy).

    Args:
        classifiers: branch name -> classifier (e.g. :class:`ConcatPoolClassifier`).
        final_branch: the branch the model returns in eval mode.
        no_object_logit: the logit written over images classified as "no object".
    """

    activation: ClassActivation = "softmax"

    def __init__(
        self, classifiers: Mapping[str, nn.Module], final_branch: str, *, no_object_logit: float = NO_OBJECT_LOGIT
    ) -> None:
        if final_branch not in classifiers:
            raise ValueError(f"no classifier for the final branch {final_branch!r}")
        super().__init__(final_branch, no_object_logit=no_object_logit)
        self.classifiers = nn.ModuleDict(classifiers)

    def classifier_for(self, branch: str) -> nn.Module:
        return self.classifiers[branch]
