"""The core: what every layer shares and that imports nothing of the project.

Owns the one user-facing error type (`errors`), atomic file and folder writes
(`fileio`), and the config machinery (`config`: the `doc` field helper, range and
choice checks run when a table is built, TOML loading with file:line: key errors).
"""

__version__ = "0.1.0"  # lookout's version, written into datasets and bundles
