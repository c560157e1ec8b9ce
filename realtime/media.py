"""Facts about media files and audio muxing, with the ffmpeg binary imageio-ffmpeg ships.

ffprobe is not shipped, so `probe` reads the stream lines ``ffmpeg -i`` prints.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class MediaInfo:
    """What ``ffmpeg -i`` says about a file."""

    duration: float | None
    video_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    audio_codec: str | None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"([\d.]+) fps")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)")


def probe(path: str | Path) -> MediaInfo:
    """Streams of ``path``; raises ValueError when ffmpeg cannot read it."""
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         check=False, capture_output=True, text=True,
                         errors="replace")
    text = run.stderr
    if "Stream #" not in text:
        raise ValueError(f"{path}: ffmpeg cannot read it: {text.strip().splitlines()[-1:]}")
    duration = None
    if m := _DURATION.search(text):
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    video = _VIDEO.search(text)
    fps = None
    if video:
        line = text[video.start():].splitlines()[0]
        if f := _FPS.search(line):
            fps = float(f[1])
    audio = _AUDIO.search(text)
    return MediaInfo(
        duration=duration,
        video_codec=video[1] if video else None,
        width=int(video[2]) if video else None,
        height=int(video[3]) if video else None,
        fps=fps,
        audio_codec=audio[1] if audio else None,
    )


def count_frames(path: str | Path) -> int:
    """Decoded video frames in ``path`` (decodes the whole file)."""
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v:0",
                          "-f", "null", "-"], check=False, capture_output=True, text=True,
                         errors="replace")
    found = re.findall(r"frame=\s*(\d+)", run.stderr)
    if run.returncode != 0 or not found:
        raise ValueError(f"{path}: ffmpeg cannot decode it: {run.stderr.strip()[-200:]}")
    return int(found[-1])


# Audio codecs that mp4 players (browsers, phones, QuickTime, VLC) play: copied as they
# are. Anything else (PCM from an .avi, Vorbis, WMA...) is re-encoded to AAC: ffmpeg
# would happily copy PCM into the mp4 as `ipcm`, which almost no player plays.
MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus"}


def audio_codec_for_mp4(codec: str) -> str:
    """ffmpeg's ``-c:a`` for a source audio ``codec`` going into an mp4."""
    return "copy" if codec.lower() in MP4_AUDIO else "aac"


def mux_audio(video: str | Path, audio_from: str | Path, out: str | Path,
              duration: float | None = None) -> bool:
    """Write ``out`` = ``video``'s picture + ``audio_from``'s first audio track.

    The audio is copied when mp4 players play its codec (`MP4_AUDIO`), else re-encoded to
    AAC; it is cut to ``duration`` seconds, the video's length (a partly annotated clip
    keeps the matching audio; every video frame is kept).
    Returns False (writing nothing) when ``audio_from`` has no audio.
    """
    try:
        info = probe(audio_from)
    except ValueError:
        return False
    if not info.has_audio:
        return False
    first = audio_codec_for_mp4(info.audio_codec)
    for codec in dict.fromkeys((first, "aac")):  # a copy that fails: AAC after all
        cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error",
               "-i", str(video), "-i", str(audio_from),
               "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", codec,
               *(["-t", f"{duration:.4f}"] if duration else ["-shortest"]), "-movflags", "+faststart", "-f", "mp4", str(out)]
        # its own session: a Ctrl+C in the terminal is lookout's to handle (it finishes
        # this file), not a kill of the muxer half way
        if subprocess.run(cmd, check=False, capture_output=True,
                          start_new_session=True).returncode == 0:
            return True
    raise RuntimeError(f"ffmpeg could not mux the audio of {audio_from} into {video}")
