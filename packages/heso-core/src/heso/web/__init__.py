"""Browser assets: the offline verifier page and the static files of ``heso console``.

The verifier is one self-contained HTML file (:func:`verifier_html`): the styles and scripts
under ``static/`` are inlined, and its Content-Security-Policy allows only those exact inline
scripts (by SHA-256) and forbids every network request (``connect-src 'none'``). The
verification code (``static/heso-verify.js``: strict JSON, RFC 8785, BLAKE3, Ed25519 through
WebCrypto, receipt and chain verdicts, trust inputs) is shared with the console; the page reads
a pasted ``heso.toml`` with smol-toml (``static/smol-toml.js``, vendored by
``tools/vendor_smol_toml.py``). ``static/heso-transparency.js`` checks checkpoints, inclusion
and consistency proofs by the rules of :mod:`heso.transparency`.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from pathlib import Path

__all__ = ["STATIC_FILES", "console_html", "export_verifier", "static_text", "verifier_html"]

STATIC_FILES = (
    "heso.css",
    "smol-toml.js",
    "heso-verify.js",
    "heso-transparency.js",
    "heso-ui.js",
    "verifier.js",
    "console.js",
)
"""The files under ``static/`` (the console serves them; the verifier inlines some)."""

VERIFIER_SCRIPTS = (
    "smol-toml.js",
    "heso-verify.js",
    "heso-transparency.js",
    "heso-ui.js",
    "verifier.js",
)


def _read(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def static_text(name: str) -> str:
    """The text of one of :data:`STATIC_FILES`."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return _read(f"static/{name}")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def verifier_html() -> str:
    """The offline verifier page: one HTML file with everything inlined, no network access."""
    from heso import __version__

    style = "\n" + static_text("heso.css")
    scripts = ["\n" + static_text(name) for name in VERIFIER_SCRIPTS]
    for text in (style, *scripts):
        if "</script" in text.lower() or "</style" in text.lower():
            raise ValueError("an inlined asset must not close its own element")
    csp = "; ".join(
        (
            "default-src 'none'",
            "script-src " + " ".join(_sha256(s) for s in scripts),
            "style-src " + _sha256(style),
            "img-src data:",
            "connect-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
        )
    )
    page = _read("verifier.html")
    return (
        page.replace("{{CSP}}", csp)
        .replace("{{VERSION}}", __version__)
        .replace("{{STYLE}}", style)
        .replace("{{SCRIPTS}}", "\n".join(f"<script>{s}</script>" for s in scripts))
    )


def console_html() -> str:
    """The console's page: a shell that loads ``/static/*`` (served by ``heso console``)."""
    from heso import __version__

    return _read("console.html").replace("{{VERSION}}", __version__)


def export_verifier(path: str | Path) -> Path:
    """Write the verifier page to ``path`` (a file, or a directory for ``heso-verifier.html``)."""
    target = Path(path)
    if target.is_dir():
        target = target / "heso-verifier.html"
    target.write_text(verifier_html(), encoding="utf-8")
    return target
