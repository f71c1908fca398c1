"""requirements.lock, which dev.py installs from: this environment is the lock, and the lock covers the project."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PROJECT = "django-packages-warehouse"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


def locked() -> dict[str, str]:
    """Canonical name -> pinned version; any line but a comment or a name==version pin fails, naming it."""
    pins = {}
    for number, line in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            continue
        pin = PIN.match(line)
        assert pin, f"{LOCK.name}:{number}: {line!r} is not a name==version pin"
        name = canonicalize_name(pin[1])
        assert name not in pins, f"{LOCK.name}:{number}: {name} is pinned twice"
        pins[name] = pin[2]
    return pins


def test_the_lock_is_pins_only_without_the_project_or_an_index():
    pins = locked()
    assert len(pins) > 50  # the whole environment, not the direct dependencies alone
    assert PROJECT not in pins
    text = LOCK.read_text(encoding="utf-8")
    assert "://" not in text  # not even in a comment: the lock names no index, pip uses whichever it is given


def test_every_installed_distribution_is_at_its_locked_version():
    pins = locked()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    installed.pop(PROJECT, None)
    differing = {
        name: f"installed {version}, locked {pins.get(name, 'nothing')}"
        for name, version in sorted(installed.items())
        if pins.get(name) != version
    }
    assert not differing, (
        f"{differing}: `python3 dev.py` installs the lock, `python3 dev.py lock` rewrites it"
    )


def test_every_dependency_in_pyproject_is_locked_at_a_version_it_allows():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [
        Requirement(text)
        for text in [
            *project["dependencies"],
            *(d for extra in project["optional-dependencies"].values() for d in extra),
        ]
    ]
    assert {"dagster", "duckdb", "polars", "pytest", "mypy"} <= {r.name for r in requirements}
    pins = locked()
    for requirement in requirements:
        if requirement.marker and not requirement.marker.evaluate({"extra": "dev"}):
            continue
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement} is not in {LOCK.name}"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {version}: {requirement}"
        )
