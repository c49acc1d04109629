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

Exit codes 1, 6 and 7 are also given by `scan` and `match` as results, not errors, and 11 by a
scan that a limit cut short: see docs/exit-codes.md. Every exit code is named once, here: the
EXIT_* constants below and the `exit_code` of each class.
"""

from __future__ import annotations

__all__ = [
    "EXIT_BUG",
    "EXIT_CLEAN",
    "EXIT_CUT_SHORT",
    "EXIT_ERRORS",
    "EXIT_MATCHES",
    "EXIT_MATCHES_AND_ERRORS",
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


class HashwardenError(Exception):
    """Base of every deliberate error; `exit_code` and `http_status` say how edges report it."""

    exit_code: int = 1
    http_status: int = 500


class UsageError(HashwardenError):
    exit_code = 2
    http_status = 400


class InvalidSignalError(UsageError):
    http_status = 422


class DataError(HashwardenError):
    """Malformed input data; the message names the file, line or field."""

    exit_code = 3
    http_status = 422


class NotFoundError(HashwardenError):
    exit_code = 4
    http_status = 404


class IntegrityError(HashwardenError):
    exit_code = 5
    http_status = 409


class ExchangeUnavailableError(HashwardenError):
    exit_code = 8
    http_status = 502


class ConflictError(HashwardenError):
    exit_code = 9
    http_status = 409


class PermissionDeniedError(HashwardenError):
    exit_code = 10
    http_status = 403


class LimitExceededError(HashwardenError):
    exit_code = 11
    http_status = 413


#: Success; for `scan`, `match`, `p2p match`: nothing matched; `blocklist check`: not blocked.
EXIT_CLEAN = 0
#: Matches found (`blocklist check`: a URL is blocked): a result, not a failure.
EXIT_MATCHES = 1
#: Completed, but some files could not be read or decoded (`scan`, `hash`, `bank add-files`).
EXIT_ERRORS = 6
#: Matches found, and some files could not be read or the scan was cut short by a limit.
EXIT_MATCHES_AND_ERRORS = 7
#: Nothing matched in what was read, but a limit cut the scan short: it is not a clean scan.
EXIT_CUT_SHORT = LimitExceededError.exit_code
#: An internal error: a bug, to be reported with the command that caused it.
EXIT_BUG = 70
