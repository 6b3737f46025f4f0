"""Names shared by the pretrained tests and their fixtures."""

DATA = "synthetic:nuclei?n=12&size=64"
"""What the tests' model is trained on."""
NAME = "tiny-nuclei"
"""Its name in the tests' registry."""
