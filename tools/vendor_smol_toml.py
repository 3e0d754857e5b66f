"""Re-vendor smol-toml, the TOML parser the offline verifier page reads ``heso.toml`` with.

``python tools/vendor_smol_toml.py`` fetches the pinned release with ``npm pack`` (the npm
registry), checks the tarball against the registry's integrity hash and the parser file
against its SHA-256, and writes ``heso/web/static/smol-toml.js``: smol-toml's own
``dist/index.cjs`` byte for byte (its BSD-3-Clause licence header included), between a header
and a wrapper that exposes it as ``globalThis.SmolToml``. The same version always gives the
same bytes; ``tests/web/test_web_trust.py`` checks the vendored file is exactly that.

To move to another release, change ``VERSION``, ``INTEGRITY`` (``npm view
smol-toml@<version> dist.integrity``) and ``SHA256``, run this, and run the page's tests.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.9.1"
INTEGRITY = "sha512-" + (
    "j7WyPdf0CJoutMzMoPLF/bVXHtKZIT9Rb4eGeEbWw8X2t5oirjPgpL+OpaENZrILYaXqYwnVH+qgUwVbl+pUJQ=="
)
SHA256 = "f9029370259e9a43a2f3e64fa1d39e72f3598188380ace83a0abb8261fa33555"
SOURCE = "package/dist/index.cjs"
TARGET = (
    Path(__file__).resolve().parent.parent / "packages/heso-core/src/heso/web/static/smol-toml.js"
)
HEAD = f"""/*
 * smol-toml {VERSION} (https://github.com/squirrelchat/smol-toml), BSD-3-Clause, Copyright (c)
 * Squirrel Chat et al.: its dist/index.cjs as published on npm ({INTEGRITY[:20]}…), unchanged,
 * inside a wrapper that exposes it as globalThis.SmolToml. Vendored by
 * tools/vendor_smol_toml.py from the heso repository; do not edit.
 */
(function (exports) {{
"""
TAIL = "\n})(globalThis.SmolToml = {});\n"


def wrap(upstream: bytes) -> bytes:
    """The vendored file for smol-toml's ``dist/index.cjs`` bytes."""
    return HEAD.encode() + upstream.rstrip(b"\n") + TAIL.encode()


def unwrap(vendored: bytes) -> bytes:
    """smol-toml's bytes inside a vendored file (``ValueError`` if it is not one)."""
    head, tail = HEAD.encode(), TAIL.encode()
    if not (vendored.startswith(head) and vendored.endswith(tail)):
        raise ValueError("not the file tools/vendor_smol_toml.py writes")
    return vendored[len(head) : -len(tail)] + b"\n"


def fetch() -> bytes:
    """``dist/index.cjs`` of the pinned release, fetched with ``npm pack`` and checked."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"smol-toml@{VERSION}", "--silent"],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tarball = (Path(tmp) / f"smol-toml-{VERSION}.tgz").read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != INTEGRITY:
        raise SystemExit(f"the tarball's integrity is {digest}, expected {INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        member = tar.extractfile(SOURCE)
        if member is None:
            raise SystemExit(f"{SOURCE} is missing from the tarball")
        upstream = member.read()
    if hashlib.sha256(upstream).hexdigest() != SHA256:
        raise SystemExit(f"{SOURCE} has SHA-256 {hashlib.sha256(upstream).hexdigest()}")
    return upstream


def main() -> int:
    data = wrap(fetch())
    if b"</script" in data.lower():
        raise SystemExit("the parser contains '</script', which cannot be inlined in the page")
    TARGET.write_bytes(data)
    print(f"wrote {TARGET} ({len(data)} bytes) from smol-toml {VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
