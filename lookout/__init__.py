"""lookout: train a detector on your own images, then run it on live video.

This package is the top layer: the command line (`cli`, `commands/`), the root of
config.toml (`config`), the only place that draws (rich bars and tables, `progress`)
and the demo. Everything else is a library below it: training -> realtime -> core.
"""

from core import __version__

__all__ = ["__version__"]
