"""Channel conversion of one image to the channels a model takes: the data layer's rules, shared by training,
evaluation, both prediction engines and the torch-free runtime (NumPy only).

* gray -> 3 channels: replicated, as a folder dataset that mixes gray and colour images stores its gray ones
  (:func:`unetzoo.data.source.to_channels`), so a gray fluorescence image reaches an RGB-trained model as
  training showed it;
* RGB -> 1 channel: ITU-R BT.601 luma, as Pillow's ``RGB -> L`` (a gray image stored as RGB, three equal
  channels, gives exactly its gray values).

Alpha never gets here: the readers drop it (:func:`unetzoo.data.io.read_image`), so four channels are four
images' worth of signal (an ImageJ hyperstack of four stains), never silently cut to three. Any other mismatch
(four channels or two for an RGB model, one gray image for a model of four MRI modalities) has no meaning to
guess and is refused with a one-line error naming the image.
"""

from __future__ import annotations

import numpy as np

from unetzoo.errors import UnetzooError

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R BT.601 luma weights of R, G, B (Pillow's ``RGB -> L``)."""


def convertible(have: int, want: int) -> bool:
    """Whether an image of ``have`` channels converts to ``want`` by the rules above."""
    return have == want or (have, want) in ((1, 3), (3, 1))


def check_channels(have: int, want: int, source: str = "image") -> None:
    """Raise a one-line :class:`UnetzooError` naming ``source`` when ``have`` channels do not convert to ``want``."""
    if not convertible(have, want):
        fix = "grayscale" if want == 1 else f"{want} channels"
        raise UnetzooError(f"{source}: has {have} channel(s) but the model expects {want}; convert the image to {fix}")


def convert_channels(image: np.ndarray, channels: int | None, source: str = "image") -> np.ndarray:
    """``HxW`` or ``HxWxC`` -> ``HxWx channels`` float32 (``channels=None`` keeps the image's own)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise UnetzooError(f"{source}: expected an HxW or HxWxC image, got shape {image.shape}")
    have, want = image.shape[2], channels or image.shape[2]
    check_channels(have, want, source)
    if have == want:
        return image
    if have == 1:
        return np.repeat(image, want, axis=2)
    if np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]):
        return np.ascontiguousarray(image[..., :1])  # a gray image stored as RGB: exactly its gray values
    return (image @ LUMA)[..., None]
