"""vPDQ: PDQ of video frames sampled once a second, as the reference vPDQ does.

A vPDQ value is stored as text, one `quality:pdq` pair a sampled frame, joined by `,`:
compact, exact, and readable by eye. Two videos match when enough of the query's frames find
a near frame in the banked video (`query_match`) and, optionally, enough of the banked video's
frames are found (`compared_match`): the reference's two percentages.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pdqhash

from hashwarden.errors import InvalidSignalError
from hashwarden.signals.base import SignalKind

__all__ = [
    "IMAGE_BRANDS",
    "SECONDS_PER_HASH",
    "VPDQ",
    "VideoFrame",
    "looks_like_video",
    "parse_vpdq",
    "vpdq_from_video",
    "vpdq_match_percentages",
]

SECONDS_PER_HASH = 1.0
MAX_FRAMES = 100_000
_PAIR = re.compile(r"^(\d{1,3}):([0-9a-f]{64})$")


@dataclass(frozen=True)
class VideoFrame:
    quality: int
    pdq: str


class VPDQ(SignalKind):
    name = "vpdq"
    description = "vPDQ: PDQ of frames sampled once a second, `quality:pdq` pairs joined by ','"
    exact: ClassVar[bool] = False

    @classmethod
    def normalize(cls, value: str) -> str:
        return ",".join(f"{f.quality}:{f.pdq}" for f in parse_vpdq(value))

    @classmethod
    def examples(cls) -> list[str]:
        return ["100:" + "0" * 64, "90:" + "f" * 64 + ",80:" + "0123456789abcdef" * 4]


def parse_vpdq(value: str) -> list[VideoFrame]:
    """The frames of a vPDQ value; InvalidSignalError naming the first bad frame."""
    parts = value.strip().lower().split(",")
    if not value.strip() or len(parts) > MAX_FRAMES:
        raise InvalidSignalError(f"a vpdq value holds 1 to {MAX_FRAMES} frames")
    frames = []
    for number, part in enumerate(parts):
        found = _PAIR.match(part.strip())
        if not found or int(found.group(1)) > 100:
            raise InvalidSignalError(
                f"vpdq frame {number}: {part[:80]!r} is not 'quality:64 hex digits'"
            )
        frames.append(VideoFrame(int(found.group(1)), found.group(2)))
    return frames


#: ISO-BMFF brands of still images (HEIF/HEIC, AVIF): an `ftyp` box, but not a video.
IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")


def looks_like_video(head: bytes) -> str | None:
    """The video media type the first bytes announce, or None."""
    if head[4:8] == b"ftyp" and head[8:12] not in IMAGE_BRANDS:
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    return None


def vpdq_from_video(
    source: str | os.PathLike[str] | bytes, *, seconds_per_hash: float = SECONDS_PER_HASH
) -> list[VideoFrame]:
    """PDQ of the first frame at or after every `seconds_per_hash` of the first video stream."""
    import av  # imported here: only videos pay for loading FFmpeg

    opened = av.open(
        io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source), mode="r"
    )
    frames: list[VideoFrame] = []
    with opened as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_time = 0.0
        for number, frame in enumerate(container.decode(stream)):
            when = (
                frame.time if frame.time is not None else number / float(stream.average_rate or 30)
            )
            if when + 1e-6 < next_time:
                continue
            bits, quality = pdqhash.compute(frame.to_ndarray(format="rgb24"))
            frames.append(
                VideoFrame(int(quality), np.packbits(bits.astype(np.uint8)).tobytes().hex())
            )
            next_time += seconds_per_hash
            if len(frames) >= MAX_FRAMES:
                break
    return frames


def vpdq_match_percentages(
    query: list[VideoFrame],
    compared: list[VideoFrame],
    *,
    threshold: int = 31,
    min_quality: int = 50,
) -> tuple[float, float]:
    """(query_match, compared_match): the share (%) of each side's unique good frames that
    have a frame on the other side within `threshold` bits."""

    def unique_good(frames: list[VideoFrame]) -> np.ndarray:
        hexes = sorted({f.pdq for f in frames if f.quality >= min_quality})
        raw = b"".join(bytes.fromhex(h) for h in hexes)
        return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)

    q, c = unique_good(query), unique_good(compared)
    if len(q) == 0 or len(c) == 0:
        return 0.0, 0.0
    distances = np.bitwise_count(q[:, None, :] ^ c[None, :, :]).sum(axis=2)
    close = distances <= threshold
    return float(close.any(axis=1).mean() * 100), float(close.any(axis=0).mean() * 100)
