"""A store URL or connection string fit to show: its password masked (``heso.stores`` and
``heso.database`` show URLs only through :func:`redact_url`)."""

from __future__ import annotations

import re

MASK = "***"
_SECRET_PARAM = re.compile(
    r"((?:^|[?&\s])(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", re.IGNORECASE
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def redact_url(text: str) -> str:
    """``text`` (a store URL or connection string) fit to show: the password of the URL's
    user, and any ``password=`` / ``sslpassword=`` parameter, replaced by ``***``.

    Errs toward hiding: everything between ``scheme://user:`` and the last ``@`` is masked, so
    a password holding ``/``, ``?`` or ``@`` does not leak either.
    """
    m = _SCHEME.match(text)
    if m is not None:
        scheme, rest = m.group(0), text[m.end() :]
        at = rest.rfind("@")
        if at >= 0:
            user, colon, _ = rest[:at].partition(":")
            rest = (user + colon + MASK if colon else user) + rest[at:]
        text = scheme + rest
    return _SECRET_PARAM.sub(lambda p: p.group(1) + MASK, text)


__all__ = ["MASK", "redact_url"]
