"""Instance segmentation from any unetzoo network: heads (targets and decoders) and post-processing tuning."""

from unetzoo.instances.decode import Decoding, components, seeded_watershed
from unetzoo.instances.heads import HEADS, InstanceHead, get_head

__all__ = ["HEADS", "Decoding", "InstanceHead", "components", "get_head", "seeded_watershed"]
