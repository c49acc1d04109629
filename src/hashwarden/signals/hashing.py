"""Hash content: the three cryptographic digests from one pass, and PDQ for images.

One read feeds every digest. For a large file each digest (and each extra hasher a plugin
registers, such as the P2P identifiers) is updated in a thread of its own while the next chunk
is read: hashlib and librhash release the GIL on large buffers, so the digests run side by side
on the cores. Extra kinds are computed only when asked for (`extra_kinds`).

PDQ follows the reference exactly: Pillow decodes the file to RGB (no EXIF rotation) and the
C++ PDQ of the `pdqhash` package hashes it. Decoding is defensive: pixel limits stop
decompression bombs, and any decoder failure becomes a per-file reason, never an exception.
numpy, Pillow and pdqhash are imported when the first image is decoded, so a command that
hashes other files never loads them; numpy and pdqhash while that first image is decoded in a
thread (`_decoded_while_importing`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, cast

from hashwarden.signals.base import StreamHasher
from hashwarden.signals.video import IMAGE_BRANDS, looks_like_video, vpdq_from_video

if TYPE_CHECKING:  # imported where an image is decoded: other files are hashed without them
    from concurrent.futures import Future, ThreadPoolExecutor

    import numpy as np
    from PIL import Image
    from PIL.ImageFile import ImageFile

__all__ = [
    "FAST_MIN_SIDE",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "ORIENTATIONS",
    "PARALLEL_FROM_BYTES",
    "PDQ_MODES",
    "ContentHashes",
    "hash_bytes",
    "hash_file",
    "hash_stream",
    "keep_freed_memory",
    "looks_like_image",
    "open_readonly",
]

#: Images above this many pixels are refused as likely decompression bombs.
MAX_IMAGE_PIXELS = 120_000_000
#: Image files above this size are hashed cryptographically but not decoded.
MAX_IMAGE_BYTES = 256 * 1024 * 1024
#: Bytes read at a time: measured as fast as any larger size (docs/bench/hashing_speed.md).
_CHUNK = 1024 * 1024
#: Content of this size or more has its digests computed in parallel threads (below it,
#: starting threads costs more than they save: docs/bench/hashing_speed.md).
PARALLEL_FROM_BYTES = 8 * 1024 * 1024
#: In fast mode images are decoded (JPEG: DCT-scaled) or reduced to no less than this many
#: pixels on the shorter side; docs/hashing.md gives the measured distance to the reference.
FAST_MIN_SIDE = 512
PDQ_MODES = ("fast", "reference")
#: pdqhash.compute_dihedral's order, named by the turn that maps the file onto the banked
#: image: variant k of a file equals the PDQ of the file turned by ORIENTATIONS[k].
ORIENTATIONS = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip_vertical",
    "flip_horizontal",
    "transpose",
    "transverse",
)
#: Frames of an animation (or pages of a TIFF) hashed beyond the first, at most.
MAX_FRAMES = 200
#: A border is trimmed when each of its rows/columns varies less than this (0-255 scale).
_BORDER_STD = 4.0
_BORDER_MIN_FRACTION = 0.02
#: The reference's MIN_HASHABLE_DIM: a picture narrower or lower is not hashed.
_PDQ_MIN_SIDE = 5

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
    #: The image or video was not decoded because it is over a size or pixel limit.
    image_over_limit: bool = False
    #: PDQ of the image turned, mirrored or with uniform borders trimmed, by variant name
    #: (see ORIENTATIONS, plus "trimmed"); matched as well as `pdq`, never stored in the bank.
    pdq_variants: dict[str, str] = field(default_factory=dict)
    #: vPDQ of a video (see signals/video.py), None for anything else.
    vpdq: str | None = None
    #: PDQ of views of the image (crops, the picture without a strip: signals/views.py) by
    #: view name, those asked for of quality >= 50, when the image's own PDQ is of quality >= 50.
    pdq_views: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def signals(self) -> dict[str, str]:
        """Kind name to value for every fingerprint computed."""
        found = {"md5": self.md5, "sha1": self.sha1, "sha256": self.sha256}
        if self.pdq is not None:
            found["pdq"] = self.pdq
        if self.vpdq is not None:
            found["vpdq"] = self.vpdq
        found.update(self.extra)
        return found


def looks_like_image(head: bytes) -> str | None:
    """The image media type the first bytes announce, or None."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in IMAGE_BRANDS:
        return "image/avif" if head[8:12].startswith(b"avi") else "image/heic"
    return None


#: glibc's mallopt parameters, and what they are set to before the first decode: freed memory
#: up to this much stays with the process, and blocks under the mmap threshold come from it.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEEP_FREED_BYTES = 64 << 20
MMAP_FROM_BYTES = 32 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Once a process (Linux with glibc): keep freed memory for the next picture instead of
    handing it back. Left to its defaults, glibc trims and refaults the decoded pictures'
    memory for each image: 200 photos of 640x480 cost 2.05 s in the kernel against 2.8 s of
    hashing, 0.11 s with these settings (`docs/hashing.md`). Whether it was set."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # another C library (musl)
        return False
    return bool(
        mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES) and mallopt(_M_MMAP_THRESHOLD, MMAP_FROM_BYTES)
    )


@functools.cache
def _prepare_pillow() -> None:
    """Once, before the first decode: Pillow's bomb limit is ours, and freed pictures' memory
    is kept for the next one (`keep_freed_memory`)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    keep_freed_memory()


@functools.cache
def _learn_heif() -> bool:
    """Once, before the first decode of an ISO-BMFF file (an `ftyp` box, as every HEIC and
    AVIF file starts: pillow-heif reads nothing else): Pillow learns HEIC and AVIF when
    pillow-heif is installed (returns whether it is). Not before, as loading it costs a small
    job (`hash` of one JPEG) a noticeable part of its time."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _hex(bits: np.ndarray) -> str:
    import numpy as np

    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def _varied(channels: np.ndarray, pixels: np.ndarray, axis: int) -> np.ndarray:
    """Whether each row (axis 1) or column (axis 0) of the grey picture varies by at least
    _BORDER_STD (a standard deviation). `channels` is the picture's channel sum (0-765, exact
    in integers), so the grey values are channels / 3 and the test is var(channels) >= (3 *
    _BORDER_STD)**2, from exact integer sums; a line within a hair of the threshold (where
    rounding could tip it) is decided by the float computation this replaced, so every
    decision is the same as with the mean of the whole picture, at a tenth of its cost."""
    import numpy as np

    count = channels.shape[axis]
    squares = channels.astype(np.uint32)
    squares *= squares
    mean = channels.sum(axis=axis, dtype=np.int64) / count
    variance = squares.sum(axis=axis, dtype=np.int64) / count - mean * mean
    threshold = (3 * _BORDER_STD) ** 2
    varied = variance >= threshold
    close = np.flatnonzero(np.abs(variance - threshold) <= 1e-6 * threshold)
    if close.size:
        lines = pixels[close] if axis == 1 else pixels[:, close]
        varied[close] = lines.mean(axis=2).std(axis=axis) >= _BORDER_STD
    return varied


def _channel_sum(pixels: np.ndarray) -> np.ndarray:
    import numpy as np

    channels = pixels[..., 0].astype(np.uint16)
    channels += pixels[..., 1]
    channels += pixels[..., 2]
    return channels


def _trim_borders(pixels: np.ndarray) -> np.ndarray | None:
    """The image without uniform borders (letterbox, frames), or None when there are none."""
    import numpy as np

    # Most pictures vary along all four edges, so there is nothing to trim: the four lines
    # tell (each line is decided alone), before the whole picture is summed.
    ends, sides = pixels[[0, -1]], pixels[:, [0, -1]]
    if _varied(_channel_sum(ends), ends, 1).all() and _varied(_channel_sum(sides), sides, 0).all():
        return None
    channels = _channel_sum(pixels)
    rows = _varied(channels, pixels, 1)
    cols = _varied(channels, pixels, 0)
    if not rows.any() or not cols.any():
        return None
    top, bottom = int(np.argmax(rows)), int(len(rows) - np.argmax(rows[::-1]))
    left, right = int(np.argmax(cols)), int(len(cols) - np.argmax(cols[::-1]))
    height, width = channels.shape
    trimmed = (top + height - bottom) / height + (left + width - right) / width
    if trimmed < _BORDER_MIN_FRACTION or bottom - top < 16 or right - left < 16:
        return None
    return np.ascontiguousarray(pixels[top:bottom, left:right])


def _decode_for_pdq(image: Image.Image, mode: str) -> Image.Image:
    """RGB pixels for PDQ: everything in reference mode, a reduced decode in fast mode."""
    if mode == "fast":
        if image.format == "JPEG":
            image.draft("RGB", (FAST_MIN_SIDE, FAST_MIN_SIDE))
        image.load()
        factor = min(image.size) // FAST_MIN_SIDE
        if factor >= 2:
            image = image.reduce(factor)
    else:
        image.load()
    return image if image.mode == "RGB" else image.convert("RGB")


class _Decoding(threading.Thread):
    """`_decode_for_pdq` in a thread of its own; `result()` waits for it and returns its
    picture or raises its exception."""

    def __init__(self, image: Image.Image, mode: str) -> None:
        super().__init__(name="hashwarden-decode")
        self._image, self._mode = image, mode
        self._decoded: Image.Image | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._decoded = _decode_for_pdq(self._image, self._mode)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> Image.Image:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._decoded is not None
        return self._decoded


def _decoded_while_importing(image: Image.Image, mode: str) -> Image.Image:
    """`_decode_for_pdq`, overlapped with the import of numpy and pdqhash when this is the
    process's first picture (`hash` of one photo). Their import holds the GIL for about as long
    as the decoding takes, which lets go of it (one call for a JPEG: `_pdq_of`), so the two
    run side by side on two cores: the decoding in a thread, the import here."""
    if "pdqhash" in sys.modules:
        return _decode_for_pdq(image, mode)
    decoding = _Decoding(image, mode)
    decoding.start()
    try:
        import numpy  # noqa: F401 - imported here, while the picture is decoded
        import pdqhash  # noqa: F401
    finally:
        decoded = decoding.result()
    return decoded


def _pdq_with_variants(
    image: Image.Image, mode: str, variants: bool, max_pixels: int, views: Sequence[str]
) -> tuple[str, int, dict[str, str], dict[str, str]]:
    """(PDQ, quality, variants, views) of the image's first frame (and the others' PDQ
    among the variants)."""
    decoded = _decoded_while_importing(image, mode)
    import numpy as np
    import pdqhash

    pixels = np.asarray(decoded)
    if not variants:
        bits, quality = pdqhash.compute(pixels)
        return _hex(bits), int(quality), {}, _views_of(pixels, int(quality), views)
    frames = _other_frames(image, mode, max_pixels)
    hexes, quality = _dihedral(pixels)
    found = {name: h for name, h in zip(ORIENTATIONS[1:], hexes[1:], strict=True)}
    trimmed = _trim_borders(pixels)
    if trimmed is not None:
        found["trimmed"] = _hex(pdqhash.compute(trimmed)[0])
    found.update(frames)
    return hexes[0], int(quality), found, _views_of(pixels, int(quality), views)


@functools.cache
def _dihedral_layout() -> tuple[np.ndarray, np.ndarray]:
    """For each of the eight orientations, where each bit's DCT coefficient is found in
    `pdqhash.compute_float`'s output and the sign it takes; the reference's turns of the 16x16
    DCT (pdqhashing.cpp, dct16OriginalTo*): a sign by row or column parity, and a transpose
    for the four that swap the axes. Both in the order of the bits `pdqhash` prints (the last
    coefficient first), as compute_float gives the coefficients."""
    import numpy as np

    rows, cols = np.arange(16)[:, None], np.arange(16)[None, :]
    even_col = np.where(cols & 1, 1, -1) * np.ones((16, 16))
    even_row = np.where(rows & 1, 1, -1) * np.ones((16, 16))
    odd_sum = np.where((rows + cols) & 1, -1, 1)
    plain = np.ones((16, 16))
    #: (sign of A[i][j], whether B is A transposed), in ORIENTATIONS' order
    turns = [
        (plain, False),
        (even_col, True),
        (odd_sum, False),
        (even_row, True),
        (even_row, False),
        (even_col, False),
        (plain, True),
        (odd_sum, True),
    ]
    source = np.arange(256).reshape(16, 16)
    where = np.stack([(source.T if t else source).reshape(-1) for _, t in turns])
    signs = np.stack([(sign.T if t else sign).reshape(-1) for sign, t in turns])
    # compute_float's coefficient q is the reference's 255 - q; bits are printed last first
    return np.ascontiguousarray((255 - where)[:, ::-1]), np.ascontiguousarray(signs[:, ::-1])


def _dihedral(pixels: np.ndarray) -> tuple[list[str], int]:
    """The PDQ of the picture in each of the eight orientations (ORIENTATIONS), and its
    quality: bit for bit `pdqhash.compute_dihedral`'s (tests/signals/test_variants.py), from
    the one DCT `compute_float` returns, as the reference derives them. compute_dihedral
    itself builds each hash's bits one Python integer at a time (about 0.03 ms a hash), which
    cost the sweep of a photo 0.2 ms more than its PDQ alone; this costs about what
    `compute` does (docs/bench/agent.md)."""
    import numpy as np
    import pdqhash

    if min(pixels.shape[:2]) < _PDQ_MIN_SIDE:
        # the reference hashes nothing so small: zero hashes of quality 0 (compute_float
        # skips that check and reads buffers it never filled)
        return ["0" * 64] * len(ORIENTATIONS), 0
    coefficients, quality = pdqhash.compute_float(pixels)
    where, signs = _dihedral_layout()
    turned = np.take(coefficients, where) * signs
    # the reference's median (Torben's): the 128th smallest of the 256
    median = np.partition(turned, 127, axis=1)[:, 127:128]
    packed = np.packbits(turned > median, axis=1)
    return [row.tobytes().hex() for row in packed], int(quality)


def _views_of(pixels: np.ndarray, quality: int, views: Sequence[str]) -> dict[str, str]:
    """The views asked for, when the picture's own PDQ is good enough to match at all."""
    if not views:
        return {}
    from hashwarden.signals.views import VIEW_MIN_QUALITY, hash_views

    return hash_views(pixels, views) if quality >= VIEW_MIN_QUALITY else {}


def _other_frames(image: Image.Image, mode: str, max_pixels: int) -> dict[str, str]:
    """PDQ of every further frame of an animation or page of a multi-page image, while all of
    them together hold no more than `max_pixels` (each page of a TIFF can have its own size,
    and each is decoded whole)."""
    import numpy as np
    import pdqhash

    count = min(getattr(image, "n_frames", 1), MAX_FRAMES)
    found: dict[str, str] = {}
    budget = max_pixels
    for number in range(1, count):
        image.seek(number)
        width, height = image.size
        budget -= width * height
        if budget < 0:
            break
        frame = image.convert("RGB")
        factor = min(frame.size) // FAST_MIN_SIDE if mode == "fast" else 1
        if factor >= 2:
            frame = frame.reduce(factor)
        found[f"frame{number + 1}"] = _hex(pdqhash.compute(np.asarray(frame))[0])
    image.seek(0)
    return found


class _Decoded(NamedTuple):
    pdq: str | None
    quality: int | None
    error: str | None
    variants: dict[str, str]
    over_limit: bool = False
    views: dict[str, str] | None = None


#: An object's repr with its memory address, as in "cannot identify image file <_io.BytesIO
#: object at 0x7f...>".
_AN_OBJECT = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")


def _refused(reason: str) -> _Decoded:
    return _Decoded(None, None, reason, {}, over_limit=True)


def _open_image(data: bytes) -> ImageFile:
    """The image, opened lazily, as `Image.open` opens it. A JPEG (as most photos are) goes to
    Pillow's JPEG plugin alone: `Image.open` would load the BMP, GIF, PPM and PNG plugins first
    (a tenth of the CPU time of `hash` of one photo), though none of them takes a file that
    starts as a JPEG does. A JPEG that plugin cannot open, or that Pillow's decompression-bomb
    check would stop, goes to `Image.open` all the same, which says why in its own words."""
    from PIL import Image

    if data.startswith(b"\xff\xd8\xff"):
        from PIL import JpegImagePlugin

        try:
            image: ImageFile = JpegImagePlugin.jpeg_factory(io.BytesIO(data))
        except Exception:  # Image.open below raises it again, or tells it better
            pass
        else:
            width, height = image.size
            limit = Image.MAX_IMAGE_PIXELS
            if limit is None or max(1, width) * max(1, height) <= limit:
                return image
            image.close()
    return Image.open(io.BytesIO(data))


def _pdq_of(
    data: bytes,
    mode: str = "fast",
    variants: bool = False,
    max_pixels: int = MAX_IMAGE_PIXELS,
    views: Sequence[str] = (),
) -> _Decoded:
    """PDQ, quality, error and variants of image bytes; never raises. The pixel count is read
    from the file's header (Pillow opens lazily), so an image over `max_pixels` is refused
    before a single pixel is decoded."""
    from PIL import Image

    if len(data) > MAX_IMAGE_BYTES:
        return _refused(f"image file over {MAX_IMAGE_BYTES} bytes, not decoded")
    _prepare_pillow()
    if data[4:8] == b"ftyp":
        _learn_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open_image(data) as image:
                width, height = image.size
                if width * height > min(max_pixels, MAX_IMAGE_PIXELS):
                    return _refused(
                        f"image of {width}x{height} pixels over the limit of"
                        f" {min(max_pixels, MAX_IMAGE_PIXELS)} pixels, not decoded"
                    )
                if image.format == "JPEG":
                    # The whole file to the decoder at once: it lets go of the GIL once, not
                    # for every 64 KiB, each time waiting up to a switch interval (5 ms) to get
                    # it back from the import beside it (`_decoded_while_importing`).
                    image.decodermaxblock = max(image.decodermaxblock, len(data))
                pdq, quality, found, seen = _pdq_with_variants(
                    image, mode, variants, max_pixels, views
                )
                return _Decoded(pdq, quality, None, found, views=seen)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _refused("image over the pixel limit (decompression bomb), not decoded")
    except Exception as exc:  # any decoder failure is a property of the file, not a crash
        # (less any object Pillow names by its address: the same file, the same words)
        reason = _AN_OBJECT.sub("", str(exc)).strip() or type(exc).__name__
        return _Decoded(None, None, f"corrupt or unsupported image: {reason}", {})


def _vpdq_of(source: str | os.PathLike[str] | bytes) -> tuple[str | None, str | None]:
    """(vpdq, error) for a video; never raises."""
    try:
        frames = vpdq_from_video(source)
    except Exception as exc:  # any decoder failure is a property of the file, not a crash
        return None, f"corrupt or unsupported video: {str(exc) or type(exc).__name__}"
    if not frames:
        return None, "video has no decodable frames"
    return ",".join(f"{f.quality}:{f.pdq}" for f in frames), None


class _Lanes:
    """Updates each digest with every chunk, in order. In parallel, each digest has a thread
    of its own and `feed` returns as soon as the chunk is handed over, so the next one is read
    while this one is digested; otherwise `feed` updates them one after the other."""

    def __init__(self, updates: list[Callable[[bytes], object]], *, parallel: bool) -> None:
        self._updates = updates
        self._pool: ThreadPoolExecutor | None = None
        if parallel:  # concurrent.futures (and logging) loaded only for a large file
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(len(updates), thread_name_prefix="hashwarden-digest")
        self._running: list[Future[object]] = []

    def feed(self, chunk: bytes) -> None:
        if self._pool is None:
            for update in self._updates:
                update(chunk)
            return
        self.wait()
        self._running = [self._pool.submit(update, chunk) for update in self._updates]

    def wait(self) -> None:
        running, self._running = self._running, []
        for future in running:
            future.result()

    def __enter__(self) -> _Lanes:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _extra_hashers(
    kinds: Collection[str] | None, size: int | None, name: str | None
) -> list[StreamHasher]:
    """Started hashers of the registered hashers that compute `kinds` (None: every one)."""
    if kinds is not None and not kinds:
        return []
    from hashwarden.signals.registry import default_registry

    registry = default_registry()
    wanted = registry.computed_kinds() if kinds is None else kinds
    return [h.start(size=size, name=name) for h in registry.hashers_for(wanted)]


def hash_stream(
    stream: BinaryIO,
    *,
    perceptual: bool = True,
    pdq_mode: str = "fast",
    variants: bool = False,
    video_path: str | os.PathLike[str] | None = None,
    extra_kinds: Collection[str] | None = None,
    name: str | None = None,
    expected_size: int | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    views: Sequence[str] = (),
) -> ContentHashes:
    """Hash a readable stream in one pass; image bytes are kept only as long as decoding needs.

    `pdq_mode="reference"` reproduces the reference PDQ bit for bit; "fast" decodes less and
    stays within the bound in docs/hashing.md. `variants` adds the rotated, mirrored and
    border-trimmed PDQ hashes a matcher uses to find turned or re-framed copies. An image of
    more than `max_pixels` (read from its header) is not decoded: `image_over_limit` says so.
    `extra_kinds`: kinds registered hashers compute besides the digests (the P2P identifiers
    ed2k, tth, btih, btmh, bt_root; btih and the v2 ones need `name` and `expected_size`): None
    computes every one, an empty collection none. `expected_size` of PARALLEL_FROM_BYTES or
    more hashes in parallel threads. `views`: names of views (signals/views.py: BANK_VIEWS for
    an entry, QUERY_VIEWS for a query) whose PDQ goes into `pdq_views`.
    """
    if pdq_mode not in PDQ_MODES:
        raise ValueError(f"pdq_mode must be one of {PDQ_MODES}")
    md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
    extras = _extra_hashers(extra_kinds, expected_size, name)
    updates: list[Callable[[bytes], object]] = [
        md5.update,
        sha1.update,
        sha256.update,
        *(e.update for e in extras),
    ]
    big = expected_size is not None and expected_size >= PARALLEL_FROM_BYTES
    total = 0
    head = b""
    kept: list[bytes] | None = None
    with _Lanes(updates, parallel=big) as lanes:
        while chunk := stream.read(_CHUNK):
            if total == 0:
                head = chunk[:16]
                media = looks_like_image(head) or (None if video_path else looks_like_video(head))
                kept = [] if perceptual and media else None
            lanes.feed(chunk)
            total += len(chunk)
            if kept is not None:
                if total > MAX_IMAGE_BYTES:
                    kept = None
                else:
                    kept.append(chunk)
        lanes.wait()
    result = ContentHashes(total, md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest())
    for extra in extras:
        result.extra.update(extra.result())
    video = looks_like_video(head)
    result.media_type = looks_like_image(head) or video
    if video and perceptual:
        if video_path is None and kept is None:
            result.image_error = f"video over {MAX_IMAGE_BYTES} bytes in memory, not decoded"
            result.image_over_limit = True
        else:
            result.vpdq, result.image_error = _vpdq_of(video_path or b"".join(kept or []))
    elif result.media_type and perceptual:
        if kept is None:
            result.image_error = f"image file over {MAX_IMAGE_BYTES} bytes, not decoded"
            result.image_over_limit = True
        else:
            decoded = _pdq_of(b"".join(kept), pdq_mode, variants, max_pixels, views)
            result.pdq, result.pdq_quality = decoded.pdq, decoded.quality
            result.image_error, result.pdq_variants = decoded.error, decoded.variants
            result.pdq_views = decoded.views or {}
            result.image_over_limit = decoded.over_limit
    return result


def open_readonly(path: str | os.PathLike[str]) -> BinaryIO:
    """Open evidence read-only, without touching its access time where the system allows."""
    flags = os.O_RDONLY | getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)  # O_NOATIME needs ownership of the file; fall back
    return cast(BinaryIO, os.fdopen(fd, "rb"))


def hash_bytes(
    data: bytes,
    *,
    perceptual: bool = True,
    pdq_mode: str = "fast",
    variants: bool = False,
    extra_kinds: Collection[str] | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    views: Sequence[str] = (),
) -> ContentHashes:
    """Hash content held in memory (an upload, an archive member); see `hash_stream`."""
    return hash_stream(
        io.BytesIO(data),
        perceptual=perceptual,
        pdq_mode=pdq_mode,
        variants=variants,
        extra_kinds=extra_kinds,
        max_pixels=max_pixels,
        views=views,
    )


def hash_file(
    path: str | os.PathLike[str],
    *,
    perceptual: bool = True,
    pdq_mode: str = "fast",
    variants: bool = False,
    extra_kinds: Collection[str] | None = None,
    views: Sequence[str] = (),
) -> ContentHashes:
    """Hash a file, opened read-only (see `hash_stream`); OSError propagates for the caller."""
    with open_readonly(path) as stream:
        return hash_stream(
            stream,
            perceptual=perceptual,
            pdq_mode=pdq_mode,
            variants=variants,
            extra_kinds=extra_kinds,
            views=views,
            video_path=path,
            name=os.path.basename(os.fspath(path)),
            expected_size=os.fstat(stream.fileno()).st_size,
        )
