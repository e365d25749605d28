"""Project-scoped API tokens of ``losslens server``, kept in the table ``api_tokens``.

A token is ``ll_`` followed by 32 random bytes in URL-safe base64. Only its SHA-256 (hex) is
stored; the secret is shown once, when it is created. A token belongs to one project and has
one scope: ``read`` (list and read runs) or ``write`` (also create runs and send points).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from losslens.errors import ConfigError, StoreError
from losslens.store.pg import PgStore

PREFIX = "ll_"
SCOPES = ("read", "write")
#: Longest Authorization value looked at (a real token is 46 characters).
_MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never its secret)."""

    id: int
    project: str
    scope: str
    name: str | None
    created_at: float
    revoked_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "scope": self.scope,
            "name": self.name,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def create_token(
    store: PgStore, project: str, *, scope: str = "write", name: str | None = None
) -> tuple[TokenInfo, str]:
    """A new token for ``project``: its row and the secret (shown to the user once)."""
    if scope not in SCOPES:
        raise ConfigError(f"unknown token scope {scope!r}", "use 'read' or 'write'")
    if not project.strip():
        raise ConfigError("a token needs a project", "pass --project NAME")
    secret = new_secret()
    with store.transaction() as conn:
        row = conn.execute(
            "INSERT INTO api_tokens (project, scope, token_hash, name, created_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id, created_at",
            (project, scope, hash_secret(secret), name, time.time()),
        ).fetchone()
    assert row is not None
    return TokenInfo(int(row[0]), project, scope, name, float(row[1]), None), secret


_SELECT = "SELECT id, project, scope, name, created_at, revoked_at FROM api_tokens"


def _info(row: Any) -> TokenInfo:
    return TokenInfo(int(row[0]), str(row[1]), str(row[2]), row[3], float(row[4]), row[5])


def list_tokens(store: PgStore, project: str | None = None) -> list[TokenInfo]:
    query = _SELECT
    args: tuple[str, ...] = ()
    if project:
        query, args = query + " WHERE project = %s", (project,)
    with store.transaction() as conn:
        rows = conn.execute(query + " ORDER BY id", args).fetchall()
    return [_info(r) for r in rows]


def revoke_token(store: PgStore, token_id: int) -> TokenInfo:
    """Revoke a token (again: nothing changes); an unknown id is an error."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE api_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
            (time.time(), token_id),
        )
        row = conn.execute(_SELECT + " WHERE id = %s", (token_id,)).fetchone()
    if row is None:
        raise StoreError(f"no token with id {token_id}", "list tokens with: losslens token list")
    return _info(row)


def verify(store: PgStore, secret: str) -> TokenInfo | None:
    """The live token whose secret this is, or None (unknown, malformed or revoked)."""
    if not secret.startswith(PREFIX) or len(secret) > _MAX_TOKEN_CHARS:
        return None
    with store.transaction() as conn:
        row = conn.execute(
            _SELECT + " WHERE token_hash = %s AND revoked_at IS NULL", (hash_secret(secret),)
        ).fetchone()
    return _info(row) if row else None


__all__ = ["TokenInfo", "create_token", "hash_secret", "list_tokens", "revoke_token", "verify"]
