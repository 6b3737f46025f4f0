"""unetzoo: the U-Net family for 2D biomedical segmentation on small machines.

>>> import unetzoo
>>> model = unetzoo.create_model("ulite", in_channels=3, classes=1)
>>> unetzoo.profile(model, (1, 3, 256, 256)).params
878417
"""

from unetzoo.bench.profile import Profile, count_params, profile
from unetzoo.errors import UnetzooError
from unetzoo.models import SegmentationModel, create_model, list_models, list_presets, register_model

__version__ = "0.1.0"

__all__ = [
    "Profile",
    "SegmentationModel",
    "UnetzooError",
    "__version__",
    "count_params",
    "create_model",
    "list_models",
    "list_presets",
    "profile",
    "register_model",
]
