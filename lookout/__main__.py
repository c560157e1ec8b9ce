"""``python -m lookout`` = the ``lookout`` command."""

from lookout.cli import main

main()
