"""Hash content: the three cryptographic digests from one pass, and PDQ for images.

PDQ follows the reference exactly: Pillow decodes the file to RGB (no EXIF rotation) and the
C++ PDQ of the `pdqhash` package hashes it. Decoding is defensive: pixel limits stop
decompression bombs, and any decoder failure becomes a per-file reason, never an exception.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pdqhash
from PIL import Image

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "ContentHashes",
    "hash_bytes",
    "hash_file",
    "hash_stream",
    "looks_like_image",
    "pdq_from_image",
]

#: Images above this many pixels are refused as likely decompression bombs.
MAX_IMAGE_PIXELS = 120_000_000
#: Image files above this size are hashed cryptographically but not decoded.
MAX_IMAGE_BYTES = 256 * 1024 * 1024
_CHUNK = 1024 * 1024

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass
class ContentHashes:
    """The fingerprints of one piece of content; `pdq` is None for non-images."""

    size: int
    md5: str
    sha1: str
    sha256: str
    media_type: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    #: Why a file that looks like an image has no PDQ (corrupt, too large, ...).
    image_error: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def signals(self) -> dict[str, str]:
        """Kind name to value for every fingerprint computed."""
        found = {"md5": self.md5, "sha1": self.sha1, "sha256": self.sha256}
        if self.pdq is not None:
            found["pdq"] = self.pdq
        found.update(self.extra)
        return found


def looks_like_image(head: bytes) -> str | None:
    """The image media type the first bytes announce, or None."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def pdq_from_image(image: Image.Image) -> tuple[str, int]:
    """PDQ hex and quality of a decoded image, exactly as the reference computes them."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    bits, quality = pdqhash.compute(np.asarray(rgb))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def _pdq_of(data: bytes) -> tuple[str | None, int | None, str | None]:
    """(pdq, quality, error) for image bytes; never raises."""
    if len(data) > MAX_IMAGE_BYTES:
        return None, None, f"image file over {MAX_IMAGE_BYTES} bytes, not decoded"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    return None, None, f"image of {width}x{height} pixels over the pixel limit"
                image.load()
                pdq, quality = pdq_from_image(image)
                return pdq, quality, None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, None, "image over the pixel limit (decompression bomb)"
    except Exception as exc:  # any decoder failure is a property of the file, not a crash
        reason = str(exc) or type(exc).__name__
        return None, None, f"corrupt or unsupported image: {reason}"


def hash_stream(stream: BinaryIO, *, perceptual: bool = True) -> ContentHashes:
    """Hash a readable stream in one pass; image bytes are kept only as long as decoding needs."""
    md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
    size = 0
    head = b""
    kept: list[bytes] | None = None
    while chunk := stream.read(_CHUNK):
        if size == 0:
            head = chunk[:16]
            kept = [] if perceptual and looks_like_image(head) else None
        md5.update(chunk)
        sha1.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
        if kept is not None:
            if size > MAX_IMAGE_BYTES:
                kept = None
            else:
                kept.append(chunk)
    result = ContentHashes(size, md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest())
    result.media_type = looks_like_image(head)
    if result.media_type and perceptual:
        if kept is None:
            result.image_error = f"image file over {MAX_IMAGE_BYTES} bytes, not decoded"
        else:
            result.pdq, result.pdq_quality, result.image_error = _pdq_of(b"".join(kept))
    return result


def hash_bytes(data: bytes, *, perceptual: bool = True) -> ContentHashes:
    """Hash content held in memory (an upload, an archive member)."""
    return hash_stream(io.BytesIO(data), perceptual=perceptual)


def hash_file(path: str | os.PathLike[str], *, perceptual: bool = True) -> ContentHashes:
    """Hash a file, opened read-only; OSError propagates for the caller to report."""
    with Path(path).open("rb") as stream:
        return hash_stream(stream, perceptual=perceptual)
