"""Every error hashwarden raises on purpose, with the exit code and HTTP status it maps to.

One CLI handler turns these into a message and an exit code, one HTTP handler into a status
and a JSON body; anything else escaping is a bug (exit 70, HTTP 500).

    HashwardenError                    exit 1   HTTP 500
    ├── UsageError                     exit 2   HTTP 400   a wrong flag or argument
    │   └── InvalidSignalError         exit 2   HTTP 422   a hash value that is not of its kind
    ├── DataError                      exit 3   HTTP 422   a malformed file or list (names where)
    ├── NotFoundError                  exit 4   HTTP 404   a bank, entry or file that is not there
    ├── IntegrityError                 exit 5   HTTP 409   tampering: audit chain, signature
    ├── ConflictError                  exit 9   HTTP 409   a state clash: replay, duplicate name
    ├── PermissionDeniedError          exit 10  HTTP 403   a key or role that may not do this
    ├── LimitExceededError             exit 11  HTTP 413   content over a size, pixel or time limit
    └── ExchangeUnavailableError       exit 8   HTTP 502   a peer or remote list not reachable
        └── ClusterUnavailableError    exit 8   HTTP 502   a Dask scheduler not reachable, or lost

Exit codes 1, 6 and 7 are also given by `scan` and `match` as results, not errors, and 11 by a
scan that a limit cut short: see docs/exit-codes.md. Every exit code is named once, below
(`EXIT_*`); the CLI and the scan use these names, never the numbers.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CLEAN",
    "EXIT_CLOSED_PIPE",
    "EXIT_CONFLICT",
    "EXIT_CUT_SHORT",
    "EXIT_DATA",
    "EXIT_ERRORS",
    "EXIT_FAILURE",
    "EXIT_INTEGRITY",
    "EXIT_INTERNAL",
    "EXIT_LIMIT",
    "EXIT_MATCHES",
    "EXIT_MATCHES_AND_ERRORS",
    "EXIT_NOT_FOUND",
    "EXIT_PERMISSION",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "ClusterUnavailableError",
    "ConflictError",
    "DataError",
    "ExchangeUnavailableError",
    "HashwardenError",
    "IntegrityError",
    "InvalidSignalError",
    "LimitExceededError",
    "NotFoundError",
    "PermissionDeniedError",
    "UsageError",
]

#: Success; for `scan`, `match` and `p2p match`: nothing matched; `blocklist check`: nothing
#: blocked.
EXIT_CLEAN = 0
#: A result, not a failure: matches found; `blocklist check`: a URL is blocked.
EXIT_MATCHES = 1
#: A deliberate error with no more specific code.
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_NOT_FOUND = 4
EXIT_INTEGRITY = 5
#: Completed, but some files or items could not be read or decoded.
EXIT_ERRORS = 6
#: Matches found, and some files could not be read or the scan was cut short by a limit.
EXIT_MATCHES_AND_ERRORS = 7
EXIT_UNAVAILABLE = 8
EXIT_CONFLICT = 9
EXIT_PERMISSION = 10
EXIT_LIMIT = 11
#: Nothing matched in what was read, but a limit cut the scan short: not a clean scan.
EXIT_CUT_SHORT = EXIT_LIMIT
#: A bug: an exception nothing expected (sysexits' EX_SOFTWARE).
EXIT_INTERNAL = 70
#: The reader of standard output went away (`... | head`): 128 + SIGPIPE, as Unix tools end.
EXIT_CLOSED_PIPE = 141


class HashwardenError(Exception):
    """Base of every deliberate error; `exit_code` and `http_status` say how edges report it."""

    exit_code: int = EXIT_FAILURE
    http_status: int = 500


class UsageError(HashwardenError):
    exit_code = EXIT_USAGE
    http_status = 400


class InvalidSignalError(UsageError):
    http_status = 422


class DataError(HashwardenError):
    """Malformed input data; the message names the file, line or field."""

    exit_code = EXIT_DATA
    http_status = 422


class NotFoundError(HashwardenError):
    exit_code = EXIT_NOT_FOUND
    http_status = 404


class IntegrityError(HashwardenError):
    exit_code = EXIT_INTEGRITY
    http_status = 409


class ExchangeUnavailableError(HashwardenError):
    exit_code = EXIT_UNAVAILABLE
    http_status = 502


class ClusterUnavailableError(ExchangeUnavailableError):
    """The Dask scheduler of `--cluster` cannot be reached, or went away during the work."""


class ConflictError(HashwardenError):
    exit_code = EXIT_CONFLICT
    http_status = 409


class PermissionDeniedError(HashwardenError):
    exit_code = EXIT_PERMISSION
    http_status = 403


class LimitExceededError(HashwardenError):
    exit_code = EXIT_LIMIT
    http_status = 413
