"""``python -m unetzoo`` (also what ``torchrun -m unetzoo`` runs)."""

import sys

from unetzoo.cli import main

sys.exit(main())
