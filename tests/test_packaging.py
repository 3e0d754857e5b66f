"""Every distribution is a real library (issue 16, item 8): it ships the Apache-2.0 LICENSE,
says its licence, Python versions, classifiers and project URLs, and an adapter depends on a
bounded ``heso-core`` range and on its framework without environment markers (its
``requires-python`` says where the framework installs, so it never installs without it).

The wheel and the sdist of each package are built offline with hatchling, the build backend
every ``pyproject.toml`` names."""

from __future__ import annotations

import email.parser
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LICENSE = (ROOT / "LICENSE").read_bytes()
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    from hatchling.builders.sdist import SdistBuilder
    from hatchling.builders.wheel import WheelBuilder

    out = tmp_path_factory.mktemp("dist")
    artifacts = {}
    for name in PACKAGES:
        root = str(ROOT / "packages" / name)
        (wheel,) = WheelBuilder(root).build(directory=str(out), versions=["standard"])
        (sdist,) = SdistBuilder(root).build(directory=str(out), versions=["standard"])
        artifacts[name] = (Path(wheel), Path(sdist))
    return artifacts


def metadata(wheel: Path) -> Any:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(z.read(name).decode())


def test_the_repository_license_is_apache_2():
    text = LICENSE.decode()
    assert text.lstrip().startswith("Apache License\n") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_workspace_has_every_package():
    assert PACKAGES[:2] == ["heso-claude-agent", "heso-core"] and len(PACKAGES) == 8


@pytest.mark.parametrize("name", PACKAGES)
def test_every_distribution_ships_the_license(built, name):
    wheel, sdist = built[name]
    with zipfile.ZipFile(wheel) as z:
        licenses = [n for n in z.namelist() if ".dist-info/licenses/" in n]
        assert [n.rsplit("/", 1)[1] for n in licenses] == ["LICENSE"]
        assert z.read(licenses[0]) == LICENSE
    with tarfile.open(sdist) as t:
        member = t.getmember(f"{sdist.name.removesuffix('.tar.gz')}/LICENSE")
        assert member.isfile()  # a real file, not a link out of the archive
        extracted = t.extractfile(member)
        assert extracted is not None and extracted.read() == LICENSE
    meta = metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0" and meta["License-File"] == "LICENSE"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_distribution_has_classifiers_and_project_urls(built, name):
    meta = metadata(built[name][0])
    classifiers = meta.get_all("Classifier")
    assert "Development Status :: 3 - Alpha" in classifiers
    assert "Typing :: Typed" in classifiers and "Operating System :: OS Independent" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # License-Expression says it
    requires = SpecifierSet(meta["Requires-Python"])
    declared = {c.rsplit(" :: ", 1)[1] for c in classifiers if c.count(" :: ") == 2}
    declared &= set(PYTHONS)
    assert declared == {v for v in PYTHONS[:-1] if Version(v) in requires}, (declared, requires)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Documentation", "Repository", "Issues"}
    assert all(u.startswith("https://") for u in urls.values())
    assert meta["Summary"] and meta["Keywords"]


ADAPTERS = [n for n in PACKAGES if n != "heso-core"]
FRAMEWORK_PYTHON = {"heso-pydantic-ai": ">=3.11", "heso-crewai": ">=3.10,<3.14"}


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapters_depend_on_a_bounded_core_and_never_install_without_their_framework(built, name):
    meta = metadata(built[name][0])
    requirements = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    assert not [r for r in requirements if r.marker is not None], requirements
    (core,) = [r for r in requirements if r.name == "heso-core"]
    operators = {s.operator for s in core.specifier}
    assert {">=", "<"} <= operators, core
    assert Version("0.1.0") in core.specifier and Version("1.0") not in core.specifier
    assert SpecifierSet(meta["Requires-Python"]) == SpecifierSet(
        FRAMEWORK_PYTHON.get(name, ">=3.10")
    )
