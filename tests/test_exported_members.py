"""Every package's public names exist, and the error tree documents every error class."""

from __future__ import annotations

import importlib
import inspect

import pytest

from hashwarden import errors

PACKAGES = [
    "hashwarden",
    "hashwarden.errors",
    "hashwarden._types",
    "hashwarden.signing",
    "hashwarden.signals",
    "hashwarden.bank",
    "hashwarden.index",
    "hashwarden.scan",
    "hashwarden.reports",
    "hashwarden.exchange",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing members: {missing}"


def test_every_error_is_in_the_documented_tree() -> None:
    doc = errors.__doc__ or ""
    classes = [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.HashwardenError)
    ]
    for cls in classes:
        assert cls.__name__ in doc, f"{cls.__name__} is not drawn in errors.py's docstring"
        assert f"exit {cls.exit_code}" in doc.split(cls.__name__, 1)[1].splitlines()[0]
