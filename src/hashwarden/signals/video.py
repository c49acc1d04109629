"""vPDQ: PDQ of video frames sampled once a second, as the reference vPDQ does.

A vPDQ value is stored as text, one `quality:pdq` pair a sampled frame, joined by `,`:
compact, exact, and readable by eye (the kind and its parser are in `kinds`). Two videos match
when enough of the query's frames find a near frame in the banked video (`query_match`) and,
optionally, enough of the banked video's frames are found (`compared_match`): the reference's
two percentages.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

from hashwarden.signals.kinds import MAX_VPDQ_FRAMES, VPDQ, VideoFrame, parse_vpdq

if TYPE_CHECKING:  # imported where frames are hashed or compared: naming a video costs nothing
    import numpy as np

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
    import numpy as np
    import pdqhash

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
            if len(frames) >= MAX_VPDQ_FRAMES:
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
    import numpy as np

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
