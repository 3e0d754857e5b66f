"""heso: gate, sign and prove every action an AI agent takes."""

from __future__ import annotations

from heso.action import Action, Verb
from heso.errors import (
    BlockedError,
    BridgeError,
    HesoConfigError,
    HesoError,
    OperatorKeyMismatchError,
    SuspendedError,
)

__version__ = "0.1.0"

__all__ = [
    "Action",
    "BlockedError",
    "BridgeError",
    "HesoConfigError",
    "HesoError",
    "OperatorKeyMismatchError",
    "SuspendedError",
    "Verb",
    "__version__",
]
