"""hashwarden: find, block and report known CSAM by its fingerprints, never by its content."""

from hashwarden.errors import HashwardenError

__version__ = "0.1.0"

__all__ = ["HashwardenError", "__version__"]
