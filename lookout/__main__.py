"""``python -m lookout`` = the ``lookout`` command (its exit code too)."""

import sys

from lookout.cli import main

sys.exit(main())
