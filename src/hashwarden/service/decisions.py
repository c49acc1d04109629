"""Deciding a row once: report drafts and agents' alerts move from an open status to a decision
in one statement, so that of two reviewers deciding at once exactly one wins and the other is
told why (404 or 409), whichever table the row lives in."""

from __future__ import annotations

from typing import Any

from hashwarden.errors import ConflictError, NotFoundError

__all__ = ["decide_once"]


def decide_once(
    conn: Any,
    table: str,
    noun: str,
    row_id: int,
    allowed: tuple[str, ...],
    changes: dict[str, Any],
) -> None:
    """Set `changes` on row `row_id` of `table` if its status is one of `allowed`; otherwise
    NotFoundError (no such row) or ConflictError naming the status it already has."""
    sets = ", ".join(f"{column} = ?" for column in changes)
    marks = ",".join("?" * len(allowed))
    row = conn.execute(
        f"UPDATE {table} SET {sets} WHERE id = ? AND status IN ({marks}) RETURNING id",
        (*changes.values(), row_id, *allowed),
    ).fetchone()
    if row is None:
        current = conn.execute(f"SELECT status FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if current is None:
            raise NotFoundError(f"no {noun} {row_id}")
        raise ConflictError(f"{noun} {row_id} is already {current[0]}")
