import sys

from unetzoo.cli import main

sys.exit(main())
