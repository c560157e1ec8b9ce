"""The one exception type for mistakes a user can fix.

The CLI prints a `UserError` as a single line (no traceback) and exits non-zero;
everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: a file, a flag, a config value.

    The message should name the file (and line or frame) and what is wrong,
    e.g. ``annotations/r-1.xml:12: box xmin=40 > xmax=20``.
    """

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
