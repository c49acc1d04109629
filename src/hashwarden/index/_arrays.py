"""numpy arrays to and from array files (`hashwarden._arrayfile`): read memory-mapped."""

from __future__ import annotations

import numpy as np

from hashwarden._arrayfile import DTYPES, ArrayFile, Column
from hashwarden.errors import DataError

__all__ = ["column", "mapped"]


def column(array: np.ndarray) -> Column:
    """An array as a column to save (little-endian, C order)."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    dtype = little.dtype.str
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype} cannot be saved")
    return Column(dtype, tuple(little.shape), little)


def mapped(file: ArrayFile, name: str, dtype: str, ndim: int) -> np.ndarray:
    """An array of the file, read-only over the mapping (no copy)."""
    found, shape, view = file.raw(name)
    if found != dtype or len(shape) != ndim:
        raise DataError(f"{file.path}: array {name!r} is {found} {list(shape)}, not {dtype}")
    return np.frombuffer(view, dtype=np.dtype(dtype)).reshape(shape)
