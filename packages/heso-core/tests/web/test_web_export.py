"""``heso verifier export``: one self-contained HTML file whose policy allows only its own
inline scripts and no network access; it ships in the heso-core package."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from heso.cli import main
from heso.web import STATIC_FILES, console_html, static_text, verifier_html


def test_export_writes_the_page_and_reports_its_digest(tmp_path: Path, capsys) -> None:
    out = tmp_path / "v.html"
    assert main(["verifier", "export", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    data = out.read_bytes()
    assert info == {
        "path": str(out),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert data.decode() == verifier_html()

    assert main(["verifier", "export", str(tmp_path)]) == 0
    assert (tmp_path / "heso-verifier.html").read_text() == verifier_html()
    assert "wrote the offline verifier" in capsys.readouterr().out

    assert main(["verifier", "export", "-"]) == 0
    assert capsys.readouterr().out == verifier_html()

    assert main(["verifier", "export", str(tmp_path / "missing" / "v.html")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_the_page_is_self_contained() -> None:
    html = verifier_html()
    # Nothing is loaded from anywhere: no src/href other than the empty data: favicon.
    assert re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html) == ["data:,"]
    assert "@import" not in html
    targets = re.findall(r"url\(([^)]*)\)", html)
    assert targets and all(t.startswith("#") for t in targets)  # SVG markers in the page
    for name in (
        "smol-toml.js",
        "heso-verify.js",
        "heso-transparency.js",
        "heso-ui.js",
        "verifier.js",
    ):
        assert static_text(name) in html
    assert "console.js" in STATIC_FILES and static_text("console.js") not in html


def test_the_policy_allows_exactly_the_inline_scripts_and_no_connection() -> None:
    html = verifier_html()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'none'"
    assert directives["form-action"] == "'none'"
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 5
    allowed = set(directives["script-src"].split())
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert len(allowed) == len(scripts) and "'unsafe-inline'" not in allowed
    style = re.search(r"<style>(.*?)</style>", html, flags=re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert directives["style-src"] == f"'sha256-{digest}'"


def test_the_assets_are_package_data() -> None:
    import heso.web

    package = Path(heso.web.__file__).parent
    for name in STATIC_FILES:
        assert (package / "static" / name).is_file()
    assert (package / "verifier.html").is_file() and (package / "console.html").is_file()
    page = console_html()
    for name in ("heso-verify.js", "heso-ui.js", "console.js", "heso.css"):
        assert f"/static/{name}" in page
    assert "{{" not in page and "{{" not in verifier_html()
