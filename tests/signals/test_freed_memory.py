"""Decoding keeps freed memory for the next picture (glibc's mallopt), in every process that
decodes: without it the kernel time of hashing photos is as large as the hashing itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hashwarden.signals.hashing import KEEP_FREED_BYTES, keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_process_that_decodes_keeps_freed_memory() -> None:
    # mallopt answers 1 for a parameter it took; in a fresh process the first decode sets it.
    code = (
        "import ctypes, io\n"
        "from hashwarden.signals.hashing import hash_bytes, keep_freed_memory\n"
        "from hashwarden.synthetic import jpeg_bytes, synthetic_photo\n"
        "assert keep_freed_memory.cache_info().currsize == 0\n"
        "hash_bytes(jpeg_bytes(synthetic_photo(1, 320, 240)))\n"
        "assert keep_freed_memory.cache_info().currsize == 1\n"
        "print(keep_freed_memory())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert keep_freed_memory() is True
    assert KEEP_FREED_BYTES >= 32 << 20
