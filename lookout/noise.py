"""Library noise stays off the console unless ``-v``.

TensorFlow, absl, LiteRT, Qt and FFmpeg print start-up and progress lines from C++
straight to file descriptor 2 (``failed call to cuInit``, oneDNN, XNNPACK, the TFLite
converter's ``Ignored output_format``, Qt's font warnings). Some obey environment
variables, which must be set before TensorFlow or cv2 is imported; absl's "before
InitializeLog" lines obey nothing. So, at default verbosity:

- `set_environment` sets the variables (Qt is pointed at the system's fonts);
- `quiet_python` hides other packages' Python warnings and their loggers below ERROR;
- `NativeStderrFilter` puts a pipe under fd 2 and drops the lines that look like those
  libraries' log lines (Python's own ``sys.stderr`` keeps writing to the terminal).

Real errors still surface: as exceptions, which lookout reports as one line.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings
from pathlib import Path

OWN_PACKAGES = r"(lookout|realtime|training)(\.|$)"
# The first line of a native library's log record: absl/glog (`W0000 00:00:... file.cc:12]`),
# TSL (`2026-01-01 12:00:00.000: E external/...`), LiteRT (`INFO: Created ...`), Qt, OpenCV.
NATIVE_NOISE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./+-]+:\d+\] "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] "
    rb"|(?:INFO|WARNING): "
    rb"|QFontDatabase: |Note that Qt no longer ships fonts|qt\.[\w.]+: "
    rb"|fully_quantize: \d+, inference_type: "  # the TFLite converter's int8 pass
    rb"|\[ ?(?:WARN|INFO):\d*@"
    rb"|\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [IWE] \d+ \d+\] )")  # Ray's C++ core
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu",
             "/usr/share/fonts/truetype", "/usr/local/share/fonts")
NOISY_LOGGERS = ("tensorflow", "absl", "h5py", "matplotlib", "PIL", "urllib3", "ray")


def font_dir() -> str | None:
    """A folder of .ttf files for Qt (it does not look in subfolders), or None."""
    for folder in FONT_DIRS:
        if Path(folder).is_dir() and any(Path(folder).glob("*.ttf")):
            return folder
    return None


def set_environment(verbose: bool) -> None:
    """Environment for the native libraries; call before TensorFlow or cv2 is imported.
    Values the user set stay."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "2")
    if sys.platform.startswith("linux") and (fonts := font_dir()):
        os.environ.setdefault("QT_QPA_FONTDIR", fonts)  # cv2's Qt ships no fonts
    if not verbose:
        os.environ.setdefault("QT_LOGGING_RULES", "qt.*=false")
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg: quiet


def quiet_python(verbose: bool) -> None:
    """Other packages' Python warnings off and their loggers at ERROR (unless verbose)."""
    if verbose:
        return
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=OWN_PACKAGES)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


class NativeStderrFilter:
    """Drops native libraries' log lines written to fd 2; forwards every other byte.

    Only installed when ``sys.stderr`` is the process's real fd 2 (a program run from a
    shell), never under a test runner's capture.
    """

    def __init__(self) -> None:
        self._saved: int | None = None
        self._thread: threading.Thread | None = None
        self._old_stderr = None

    def start(self) -> NativeStderrFilter:
        try:
            if sys.stderr.fileno() != 2:
                return self
        except (AttributeError, OSError, ValueError):
            return self
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        # Python's own output goes straight to the terminal (rich's live lines too).
        self._old_stderr = sys.stderr
        sys.stderr = open(self._saved, "w", buffering=1, encoding=self._old_stderr.encoding,  # noqa: SIM115
                          errors="backslashreplace", closefd=False)
        self._thread = threading.Thread(target=self._pump, args=(read_end,), daemon=True,
                                        name="lookout-stderr-filter")
        self._thread.start()
        return self

    def _pump(self, read_end: int) -> None:
        pending, dropping = b"", False
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                out = []
                for line in lines:
                    # a record's continuation lines (indented) go with its first line
                    if NATIVE_NOISE.match(line) or (dropping and line[:1] in (b" ", b"\t")):
                        dropping = True
                        continue
                    dropping = False
                    out.append(line + b"\n")
                if out:
                    os.write(self._saved, b"".join(out))
        if pending and not NATIVE_NOISE.match(pending):
            os.write(self._saved, pending)

    def stop(self) -> None:
        """Put fd 2 back and forward what is still in the pipe."""
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the pump reads EOF
        self._thread.join(2.0)
        sys.stderr = self._old_stderr
        os.close(self._saved)
        self._saved = None
