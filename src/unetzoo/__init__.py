"""unetzoo: the U-Net family for 2D biomedical segmentation on small machines.

>>> import unetzoo
>>> model = unetzoo.create_model("ulite", in_channels=3, classes=1)
>>> unetzoo.profile(model, (1, 3, 256, 256)).params
878417

Names are loaded on first use (PEP 562), so ``import unetzoo.deploy.runtime`` on a device without torch
never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unetzoo.errors import UnetzooError
from unetzoo.utils.lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "Profile": "unetzoo.bench.profile",
    "count_params": "unetzoo.bench.profile",
    "profile": "unetzoo.bench.profile",
    "SegmentationModel": "unetzoo.models",
    "create_model": "unetzoo.models",
    "list_models": "unetzoo.models",
    "list_presets": "unetzoo.models",
    "register_model": "unetzoo.models",
    "Plan": "unetzoo.planning",
    "plan": "unetzoo.planning:make_plan",  # unetzoo.plan(data, model=..., budget=...) -> Plan
}

if TYPE_CHECKING:
    from unetzoo.bench.profile import Profile, count_params, profile
    from unetzoo.models import SegmentationModel, create_model, list_models, list_presets, register_model
    from unetzoo.planning import Plan
    from unetzoo.planning import make_plan as plan


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "Plan",
    "Profile",
    "SegmentationModel",
    "UnetzooError",
    "__version__",
    "count_params",
    "create_model",
    "list_models",
    "list_presets",
    "plan",
    "profile",
    "register_model",
]
