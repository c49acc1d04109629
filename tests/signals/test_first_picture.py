"""`hash` of one photo, made faster without changing what it prints: the first picture of a
process is decoded in a thread while numpy and pdqhash are imported, and a JPEG is opened by
Pillow's JPEG plugin alone. Both give the hashes and the errors of the plain path."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from hashwarden.cli import app
from hashwarden.signals import hash_bytes, hash_file, hashing
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

from .._process import env_with_sources
from .test_conformance import _expected


def _as_first_picture(
    monkeypatch: pytest.MonkeyPatch, hash_it: object, runs: list[str]
) -> hashing.ContentHashes:
    """Hash as a process's first picture is hashed: pdqhash looks not imported yet (it is
    imported again from its loaded extension), so the picture is decoded in the thread; `runs`
    records each decoding the thread did."""
    with monkeypatch.context() as patch:
        patch.delitem(sys.modules, "pdqhash")
        patch.setattr(hashing._Decoding, "run", _spying(hashing._Decoding.run, runs))
        assert callable(hash_it)
        result = hash_it()
    assert isinstance(result, hashing.ContentHashes)
    return result


def _spying(run: object, runs: list[str]) -> object:
    def spy(self: hashing._Decoding) -> None:
        runs.append(self.name)
        assert callable(run)
        run(self)

    return spy


@pytest.mark.parametrize("mode", ["reference", "fast"])
def test_the_first_picture_decoded_in_a_thread_hashes_as_the_plain_path(
    conformance: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    expected = _expected(conformance)
    runs: list[str] = []
    for rel, row in expected.items():
        path = conformance / "pdq" / rel
        plain = hash_file(path, pdq_mode=mode, extra_kinds=())
        threaded = _as_first_picture(
            monkeypatch, lambda p=path: hash_file(p, pdq_mode=mode, extra_kinds=()), runs
        )
        assert threaded == plain, rel
        if mode == "reference":
            assert (threaded.pdq, threaded.pdq_quality) == (row["pdq"], int(row["quality"])), rel
    assert len(runs) == len(expected)  # every one of them went through the thread
    # Once pdqhash is there, a picture is decoded in place.
    hash_file(conformance / "pdq" / next(iter(expected)), pdq_mode=mode)
    assert len(runs) == len(expected)


def test_a_large_first_picture_hashes_as_the_plain_path_in_each_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A picture large enough for the modes to differ (the reference files are not): each
    mode's own hash, through the thread as in place."""
    data = jpeg_bytes(synthetic_photo(9, 2000, 1500), 85)
    found = {}
    for mode in ("reference", "fast"):
        plain = hash_bytes(data, pdq_mode=mode, extra_kinds=())
        runs: list[str] = []
        hashed = lambda m=mode: hash_bytes(data, pdq_mode=m, extra_kinds=())  # noqa: E731
        assert _as_first_picture(monkeypatch, hashed, runs) == plain and runs, mode
        found[mode] = plain.pdq
    assert found["reference"] != found["fast"]


def test_the_first_picture_with_variants_and_views_hashes_as_the_plain_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = jpeg_bytes(synthetic_photo(8, 800, 600), 85)
    runs: list[str] = []
    asked = {"variants": True, "views": ("c3", "L4"), "extra_kinds": ()}
    plain = hash_bytes(data, **asked)  # type: ignore[arg-type]
    threaded = _as_first_picture(monkeypatch, lambda: hash_bytes(data, **asked), runs)  # type: ignore[arg-type]
    assert threaded == plain and runs and plain.pdq_variants and plain.pdq_views


@pytest.mark.parametrize(
    "data",
    [
        jpeg_bytes(synthetic_photo(5, 640, 480))[:20_000],  # truncated
        b"\xff\xd8\xff\xe0garbagegarbage",  # a JPEG's start, then nothing of one
        b"\xff\xd8\xff\x00" + bytes(100),  # no JPEG plugin takes it: Image.open's words
    ],
    ids=["truncated", "garbage", "unidentified"],
)
def test_a_corrupt_first_picture_is_the_files_error_as_before(
    monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    runs: list[str] = []
    plain = hash_bytes(data, extra_kinds=())
    threaded = _as_first_picture(monkeypatch, lambda: hash_bytes(data, extra_kinds=()), runs)
    assert plain.pdq is None and plain.image_error
    assert plain.image_error.startswith("corrupt or unsupported image: ")
    assert threaded.image_error == plain.image_error
    assert (threaded.md5, threaded.pdq, threaded.image_over_limit) == (plain.md5, None, False)


def _jpeg_header(width: int, height: int) -> bytes:
    """A JPEG that ends after its frame header: its size is all there is to read."""
    frame = struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xc0" + frame + b"\xff\xd9"


def _mpo() -> bytes:
    buffer = io.BytesIO()
    first, second = synthetic_photo(1, 320, 240), synthetic_photo(2, 320, 240)
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    return buffer.getvalue()


def _opened(open_it: object, data: bytes) -> tuple[object, ...]:
    """What an opener makes of the data: the image's class, format, size, mode and frames,
    or the exception's class and message (without the address of the BytesIO it names)."""
    hashing._prepare_pillow()  # the pixel limit of hashwarden's decoding
    assert callable(open_it)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_it(data) as image:
                if image.size[0] * image.size[1] < 10**7:  # the small ones decoded too
                    image.load()
                frames = getattr(image, "n_frames", 1)
                return type(image), image.format, image.size, image.mode, frames
    except Exception as exc:
        return type(exc), hashing._AN_OBJECT.sub("", str(exc))


@pytest.mark.parametrize(
    "data",
    [
        jpeg_bytes(synthetic_photo(4, 640, 480)),
        jpeg_bytes(synthetic_photo(4, 640, 480).convert("L")),
        _mpo(),
        jpeg_bytes(synthetic_photo(5, 640, 480))[:20_000],
        b"\xff\xd8\xff\x00" + bytes(100),
        b"\xff\xd8\xff",
        _jpeg_header(9_000, 9_000),  # under the pixel limit
        _jpeg_header(12_000, 12_000),  # over it: Pillow warns (an error in hashwarden)
        _jpeg_header(60_000, 60_000),  # over twice: Pillow refuses
        b"\x89PNG\r\n\x1a\n" + bytes(40),  # not a JPEG: Image.open as ever
    ],
    ids=[
        "jpeg",
        "grey",
        "mpo",
        "truncated",
        "unidentified",
        "three-bytes",
        "9000x9000",
        "bomb-warning",
        "bomb-error",
        "not-jpeg",
    ],
)
def test_a_jpeg_is_opened_as_image_open_opens_it(data: bytes) -> None:
    assert _opened(hashing._open_image, data) == _opened(lambda d: Image.open(io.BytesIO(d)), data)


def test_a_jpeg_loads_no_other_image_plugin() -> None:
    """In a fresh process: the BMP, GIF, PPM and PNG plugins `Image.open` would load first
    are not loaded for a JPEG; a PNG after it is opened as ever."""
    photo = jpeg_bytes(synthetic_photo(3, 320, 240))
    probe = (
        "import json, sys\n"
        "from hashwarden.signals import hash_bytes\n"
        "from hashwarden.synthetic import png_bytes, synthetic_photo\n"
        "jpeg = hash_bytes(bytes.fromhex(sys.argv[1]), extra_kinds=())\n"
        "plugins = sorted(m for m in sys.modules if m.endswith('ImagePlugin'))\n"
        "png = hash_bytes(png_bytes(synthetic_photo(3, 320, 240)), extra_kinds=())\n"
        "print(json.dumps([jpeg.pdq, plugins, png.pdq, png.image_error]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, photo.hex()],
        capture_output=True,
        text=True,
        env=env_with_sources(),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    jpeg_pdq, plugins, png_pdq, png_error = json.loads(run.stdout)
    assert plugins == ["PIL.JpegImagePlugin"]
    assert jpeg_pdq == hash_bytes(photo, extra_kinds=()).pdq
    assert png_pdq and png_error is None


def _hash_in_a_new_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hashwarden", "hash", "--json", *args],
        capture_output=True,
        text=True,
        env=env_with_sources(),
        timeout=120,
    )


def test_hash_of_one_photo_in_a_new_process_prints_the_reference(conformance: Path) -> None:
    """The whole command, numpy really imported beside the decoding: the reference's hashes."""
    rel, row = next(iter(_expected(conformance).items()))
    run = _hash_in_a_new_process("--pdq-mode", "reference", str(conformance / "pdq" / rel))
    assert run.returncode == 0 and run.stderr == "", run.stderr
    record = json.loads(run.stdout)
    assert (record["pdq"], record["pdq_quality"]) == (row["pdq"], int(row["quality"]))
    assert (record["md5"], record["sha256"]) == (row["md5"], row["sha256"])


def test_hash_of_one_corrupt_photo_in_a_new_process_reports_it(tmp_path: Path) -> None:
    """As before: the file's digests and the reason on its line, exit 0, no traceback."""
    photo = tmp_path / "cut.jpg"
    photo.write_bytes(jpeg_bytes(synthetic_photo(6, 640, 480))[:20_000])
    run = _hash_in_a_new_process(str(photo))
    assert run.returncode == 0 and run.stderr == "", run.stderr
    record = json.loads(run.stdout)
    assert record["md5"] and record["pdq"] is None
    assert record["error"].startswith("corrupt or unsupported image: image file is truncated")


@pytest.mark.parametrize(("given", "kept"), [(None, "1"), ("3", "3")])
def test_hash_asks_for_one_openblas_thread_unless_told(
    tmp_path: Path,
    cli_runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    given: str | None,
    kept: str,
) -> None:
    """numpy does no linear algebra in `hash`: loading it need not start a BLAS thread a core."""
    if given is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", given)
    (tmp_path / "a.txt").write_text("a\n")
    result = cli_runner.invoke(app, ["hash", str(tmp_path / "a.txt")])
    assert result.exit_code == 0, result.output
    assert os.environ["OPENBLAS_NUM_THREADS"] == kept
