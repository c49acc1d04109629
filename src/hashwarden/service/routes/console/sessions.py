"""Console sessions, kept in the bank so that every worker and replica knows them.

Signing in with an API key makes a session: a random token in an HttpOnly cookie, of which the
bank keeps only the SHA-256 (as for keys, 256 random bits need no slow hash), beside the key's
name, when it began, when it was last used, and one message to show on the next page. The key
itself is never kept: each request looks the key up by name, so a revoked key's sessions end
at once. A session ends after `idle_s` without a request or `max_age_s` after it began.

Forms carry a CSRF token derived from the session's token (HMAC), so it needs no storage and
no page of another site can know it; the sign-in form, before any session, derives its token
from a cookie of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hashwarden._time import utc_now, utc_text
from hashwarden.bank.protocols import BankStore

__all__ = ["Session", "SessionStore", "csrf_token", "digest", "new_token", "same_token"]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: str) -> str:
    """The CSRF token of forms in a session (or a sign-in) whose cookie holds `secret`."""
    return hmac.new(secret.encode(), b"hashwarden-console-csrf", hashlib.sha256).hexdigest()


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _ago(seconds: float) -> str:
    return utc_text(datetime.now(UTC) - timedelta(seconds=seconds))


@dataclass(frozen=True)
class Session:
    token_hash: str
    key_name: str
    created: str
    seen: str
    #: A message for the next page: (kind, text), kind "done" or "error".
    flash: tuple[str, str] | None


class SessionStore:
    """The `console_sessions` table. Callers serialise use of the bank (the service's lock).
    Sessions are not bank content: their rows are not in the audit log (signing in and out
    is)."""

    def __init__(self, bank: BankStore, *, idle_s: int, max_age_s: int) -> None:
        self.bank = bank
        self.idle_s = idle_s
        self.max_age_s = max_age_s

    def begin(self, token: str, key_name: str) -> None:
        """A new session for the key; sessions that ended meanwhile are dropped."""
        now = utc_now()
        with self.bank.db.transaction() as db:
            db.execute(
                "DELETE FROM console_sessions WHERE seen < ? OR created < ?",
                (_ago(self.idle_s), _ago(self.max_age_s)),
            )
            db.execute(
                "INSERT INTO console_sessions(token_hash, key_name, created, seen)"
                " VALUES (?,?,?,?)",
                (digest(token), key_name, now, now),
            )

    def find(self, token: str) -> tuple[Session | None, bool]:
        """(the live session of this token or None, whether it existed but has ended: then
        it is dropped)."""
        rows = self.bank.db.query(
            "SELECT token_hash, key_name, created, seen, flash FROM console_sessions"
            " WHERE token_hash = ?",
            (digest(token),),
        )
        if not rows:
            return None, False
        token_hash, key_name, created, seen, flash = rows[0]
        if str(seen) < _ago(self.idle_s) or str(created) < _ago(self.max_age_s):
            self.end(token)
            return None, True
        shown = None
        if flash:
            kind, text = json.loads(flash)
            shown = (str(kind), str(text))
        return Session(str(token_hash), str(key_name), str(created), str(seen), shown), False

    def touch(self, session: Session, *, flash: tuple[str, str] | None = None) -> None:
        """Note a request (written only when a tenth of the idle time, at most a minute, has
        passed since the last note, or the message changes), keeping `flash` for the next
        page (None: clear it)."""
        due = str(session.seen) < _ago(min(60.0, self.idle_s / 10))
        if not due and flash == session.flash:
            return
        with self.bank.db.transaction() as db:
            db.execute(
                "UPDATE console_sessions SET seen = ?, flash = ? WHERE token_hash = ?",
                (utc_now(), json.dumps(flash) if flash else None, session.token_hash),
            )

    def end(self, token: str) -> None:
        with self.bank.db.transaction() as db:
            db.execute("DELETE FROM console_sessions WHERE token_hash = ?", (digest(token),))
