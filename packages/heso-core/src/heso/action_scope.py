"""Which gated action's body is running: :func:`current_action_hash` and the scope that sets it.

The gate sets it around a body it let through (the decorators, ``with gate(...)``, an approved
firing), so code inside can name its receipt; it is task- and thread-local (a ``ContextVar``).
"""

from __future__ import annotations

from contextvars import ContextVar, Token

action_hash_var: ContextVar[str | None] = ContextVar("heso_action_hash", default=None)
"""The running body's ``action_hash`` (the decorators set and reset it directly: their hot
path builds no scope object)."""


def current_action_hash() -> str | None:
    """The ``action_hash`` of the gated action whose body is running, else ``None``."""
    return action_hash_var.get()


class action_hash_scope:
    """Set :func:`current_action_hash` for a ``with`` block; re-enterable one level at a
    time (used to run a generator body step by step)."""

    __slots__ = ("_hash", "_tokens")

    def __init__(self, action_hash: str | None) -> None:
        self._hash = action_hash
        self._tokens: list[Token[str | None]] = []

    def __enter__(self) -> str | None:
        self._tokens.append(action_hash_var.set(self._hash))
        return self._hash

    def __exit__(self, *exc: object) -> None:
        action_hash_var.reset(self._tokens.pop())


__all__ = ["action_hash_scope", "action_hash_var", "current_action_hash"]
