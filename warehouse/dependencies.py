"""A project's dependency declarations, read from its files: requirements, pyproject.toml and lock files.

What `dpw deps` judges. Every dependency keeps where it was declared (file, line, group), so a report can
point at the line to change. A line that cannot be read is kept as `Unparsed` with its reason: a report
that silently skipped a line would call a project healthy on the strength of what it did not read.

Line numbers in TOML and JSON files are those of the first line quoting the entry (the standard parsers
give none); in requirements files, the first physical line of an entry continued with ``\\``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

LOCK_FILES = ("uv.lock", "poetry.lock", "Pipfile.lock")
LOOKED_FOR = "requirements*.txt, requirements/*.txt, pyproject.toml, " + ", ".join(LOCK_FILES)


class DeclarationError(Exception):
    """Nothing can be read: no declaration file, a file that is not TOML or JSON, an include cycle."""


@dataclass(frozen=True)
class Dependency:
    name: str  # PEP 503 normalized
    file: Path
    line: int
    group: str  # "main", "extra:NAME", a PEP 735 or Poetry group, a requirements file's suffix, "locked"
    specifier: str = ""  # PEP 440, "" for any version; Poetry's "a || b" alternatives joined with " || "
    url: str | None = None
    marker: str = ""
    locked: bool = False  # from a lock file: the version installed, not a wish


@dataclass(frozen=True)
class Unparsed:
    file: Path
    line: int
    text: str
    reason: str


@dataclass
class Declarations:
    root: Path  # the project directory (a file's own directory when one file was given)
    files: list[Path] = field(default_factory=list)
    dependencies: list[Dependency] = field(default_factory=list)
    unparsed: list[Unparsed] = field(default_factory=list)

    def names(self) -> list[str]:
        """Each normalized name once, in the order first declared."""
        return list(dict.fromkeys(d.name for d in self.dependencies))

    def where(self, path: Path) -> str:
        """``path`` as a report shows it: relative to the project."""
        return os.path.relpath(path, self.root)


def read(path: Path) -> Declarations:
    """The declarations of a project directory (its declaration files, see `LOOKED_FOR`) or of one file."""
    path = Path(path)
    if path.is_dir():
        found = discover(path)
        if not found:
            raise DeclarationError(f"no dependency declarations in {path}: looked for {LOOKED_FOR}")
        reader = _Reader(Declarations(path.resolve()))
    elif path.is_file():
        found = [path]
        reader = _Reader(Declarations(path.resolve().parent))
    else:
        raise DeclarationError(f"{path}: no such file or directory")
    for file in found:
        reader.read(file.resolve())
    return reader.out


def discover(directory: Path) -> list[Path]:
    found = sorted(directory.glob("requirements*.txt")) + sorted(directory.glob("requirements/*.txt"))
    found += [directory / name for name in ("pyproject.toml", *LOCK_FILES) if (directory / name).is_file()]
    return [f for f in found if f.is_file()]


# --- the project's Django version ----------------------------------------------------------------


def django_version(dependencies: Iterable[Dependency], known: Sequence[str]) -> tuple[str | None, str]:
    """The Django version (X.Y) the project runs and where that came from, in words.

    A lock file's version wins (it is what is installed), then an exact pin, then the newest of ``known``
    (the Django versions the warehouse knows) that a range allows. None when nothing says, or a range
    allows none of ``known``; the words then say why."""
    declared = [d for d in dependencies if d.name == "django"]
    for dep in sorted(declared, key=lambda d: (not d.locked, _exact(d.specifier) is None)):
        at = f"django{dep.specifier} in {dep.file.name}:{dep.line}"
        exact = _exact(dep.specifier)
        if exact is not None:
            return f"{exact.major}.{exact.minor}", at
        allowed = [v for v in known if _allows(dep.specifier, v)]
        if allowed:
            return max(allowed, key=_series), f"the newest that {at} allows"
        if dep.specifier:
            return None, f"{at} allows none of the Django versions the warehouse knows"
    return None, "no django declared"


def _exact(specifier: str) -> Version | None:
    try:
        specs = list(SpecifierSet(specifier))
    except InvalidSpecifier:
        return None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        try:
            return Version(specs[0].version)
        except InvalidVersion:
            return None
    return None


def _allows(specifier: str, series: str) -> bool:
    """Whether a release of Django ``series`` (X.Y) fits ``specifier``: its first or a late patch does."""
    for alternative in specifier.split(" || "):
        try:
            spec = SpecifierSet(alternative)
        except InvalidSpecifier:
            continue
        if spec.contains(series) or spec.contains(f"{series}.9999"):
            return True
    return False


def _series(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


# --- reading ----------------------------------------------------------------------------------------

# pip's comment rule: a "#" at the start or after whitespace (a URL's "#egg=" fragment is not one).
_COMMENT = re.compile(r"(^|\s)#.*$")
# A line's options: "-r file", "-rfile", "--requirement=file", "--pre".
_OPTION = re.compile(r"^(--[\w-]+|-\w)\s*=?\s*(.*)$")
# Per-requirement options after a requirement ("pkg==1 --hash=sha256:..."): a marker never has " -x".
_TRAILING_OPTIONS = re.compile(r"\s+--?[A-Za-z].*$")
_URL = re.compile(r"^[A-Za-z][\w+.-]*://")


class _Reader:
    def __init__(self, out: Declarations) -> None:
        self.out = out
        self._including: list[Path] = []  # the -r chain being read, to refuse a cycle

    def read(self, path: Path) -> None:
        if path in self.out.files:
            return  # already read, for example as another file's -r include
        by_name = {
            "pyproject.toml": self._pyproject,
            "uv.lock": self._uv_lock,
            "poetry.lock": self._poetry_lock,
            "Pipfile.lock": self._pipfile_lock,
        }
        reader = by_name.get(path.name) or (self._requirements if path.suffix in (".txt", ".in") else None)
        if reader is None:
            raise DeclarationError(
                f"{path}: not a kind of file dpw reads; give a directory or one of {LOOKED_FOR}"
            )
        self.out.files.append(path)
        reader(path)

    def _add(self, name: str, file: Path, line: int, group: str, text: str, **fields: Any) -> None:
        try:
            normalized = canonicalize_name(name, validate=True)
        except InvalidName:
            self._unparsed(file, line, text, f"{name!r} is not a valid package name")
            return
        self.out.dependencies.append(Dependency(normalized, file=file, line=line, group=group, **fields))

    def _unparsed(self, file: Path, line: int, text: str, reason: str) -> None:
        self.out.unparsed.append(Unparsed(file, line, text, reason))

    def _pep508(self, text: str, file: Path, line: int, group: str, own: str | None = None) -> None:
        """One PEP 508 requirement; ``own`` is the project's name, whose self-references (an extra that
        gathers others, ``project[a,b]``) are not dependencies."""
        try:
            req = Requirement(text)
        except InvalidRequirement as err:
            self._unparsed(file, line, text, str(err).splitlines()[0])
            return
        if own is not None and canonicalize_name(req.name) == canonicalize_name(own):
            return
        self._add(
            req.name,
            file,
            line,
            group,
            text,
            specifier=str(req.specifier),
            url=req.url,
            marker=str(req.marker or ""),
        )

    # requirements files ----------------------------------------------------------------------------

    def _requirements(self, path: Path) -> None:
        group = _requirements_group(path)
        self._including.append(path)
        try:
            for number, text in _logical_lines(_text(path)):
                line = _COMMENT.sub("", text).strip()
                if not line:
                    continue
                if line.startswith("-"):
                    self._requirements_option(line, path, number, group, text)
                elif _URL.match(line) or line.startswith((".", "/", "~")):
                    self._url_line(_TRAILING_OPTIONS.sub("", line), path, number, group, text)
                else:
                    self._pep508(_TRAILING_OPTIONS.sub("", line), path, number, group)
        finally:
            self._including.pop()

    def _requirements_option(self, line: str, path: Path, number: int, group: str, text: str) -> None:
        m = _OPTION.match(line)
        flag, value = (m.group(1), m.group(2).strip()) if m else (line, "")
        if flag in ("-r", "--requirement"):
            self._include(value, path, number, text)
        elif flag in ("-e", "--editable"):
            self._url_line(value, path, number, group, text)
        # Other options (-c constraints, which are not dependencies; --index-url, --hash, ...) say how
        # or where to install, not what.

    def _include(self, value: str, path: Path, number: int, text: str) -> None:
        if not value:
            self._unparsed(path, number, text, "-r names no file")
            return
        if _URL.match(value):
            self._unparsed(path, number, text, "a requirements file by URL is not read (dpw reads offline)")
            return
        target = (path.parent / value).resolve()
        if target in self._including:
            chain = " -> ".join(self.out.where(p) for p in (*self._including, target))
            raise DeclarationError(
                f"{self.out.where(path)}:{number}: -r {value} is an include cycle ({chain})"
            )
        if not target.is_file():
            self._unparsed(path, number, text, f"included file {self.out.where(target)} not found")
            return
        self.read(target)

    def _url_line(self, value: str, path: Path, number: int, group: str, text: str) -> None:
        """A URL or local path (with -e or alone): named by its ``#egg=`` fragment or its file name."""
        parts = urlsplit(value)
        egg = parse_qs(parts.fragment).get("egg", [""])[0]
        if egg:
            try:
                req = Requirement(egg)
            except InvalidRequirement as err:
                self._unparsed(path, number, text, f"#egg={egg}: {str(err).splitlines()[0]}")
                return
            self._add(req.name, path, number, group, text, url=value)
            return
        filename = unquote(parts.path.rstrip("/").rpartition("/")[2])
        try:
            if filename.endswith(".whl"):
                name, version, *_ = parse_wheel_filename(filename)
            else:
                name, version = parse_sdist_filename(filename)
        except (InvalidWheelFilename, InvalidSdistFilename):
            if not _URL.match(value):
                return  # a local directory: the project's own code ("-e ."), not something installed
            self._unparsed(
                path, number, text, "a URL without #egg=NAME: the package it installs is not named"
            )
            return
        self._add(name, path, number, group, text, specifier=f"=={version}", url=value)

    # pyproject.toml --------------------------------------------------------------------------------

    def _pyproject(self, path: Path) -> None:
        text = _text(path)
        data = _toml(path, text)
        lines = text.splitlines()
        project = _table(data.get("project"))
        poetry = _table(_table(data.get("tool")).get("poetry"))
        own = project.get("name") or poetry.get("name")
        own = own if isinstance(own, str) else None

        def strings(entries: object, group: str, section: str, key: str) -> None:
            start = _key_line(lines, key, _section_line(lines, section))
            if not isinstance(entries, list):
                self._unparsed(path, start, str(entries), f"[{section}] {key} is not a list")
                return
            for entry in entries:
                if isinstance(entry, str):
                    line = _line(lines, f"[\"']{re.escape(entry)}[\"']", start - 1)
                    self._pep508(entry, path, line, group, own)
                elif not (isinstance(entry, dict) and "include-group" in entry):
                    self._unparsed(path, start, str(entry), "not a requirement string")

        if "dependencies" in project:
            strings(project["dependencies"], "main", "project", "dependencies")
        for extra, entries in _table(project.get("optional-dependencies")).items():
            strings(entries, f"extra:{extra}", "project.optional-dependencies", extra)
        groups = _table(data.get("dependency-groups"))
        _check_group_includes(groups, path)
        for name, entries in groups.items():
            strings(entries, name, "dependency-groups", name)
        uv_dev = _table(_table(data.get("tool")).get("uv")).get("dev-dependencies")
        if uv_dev is not None:
            strings(uv_dev, "dev", "tool.uv", "dev-dependencies")
        self._poetry(poetry, path, lines)

    def _poetry(self, poetry: dict[str, Any], path: Path, lines: list[str]) -> None:
        sections = [
            ("main", "tool.poetry.dependencies", poetry.get("dependencies")),
            ("dev", "tool.poetry.dev-dependencies", poetry.get("dev-dependencies")),
        ]
        sections += [
            (name, f"tool.poetry.group.{name}.dependencies", _table(g).get("dependencies"))
            for name, g in _table(poetry.get("group")).items()
        ]
        for group, header, table in sections:
            start = _section_line(lines, header)
            for name, value in _table(table).items():
                if name.lower() == "python":
                    continue  # the interpreter, not a package
                line = _key_line(lines, name, start)
                try:
                    specifier, url = _poetry_constraint(value)
                except ValueError as err:
                    self._unparsed(path, line, f"{name} = {value}", str(err))
                    continue
                self._add(name, path, line, group, name, specifier=specifier, url=url)

    # lock files ------------------------------------------------------------------------------------

    def _uv_lock(self, path: Path) -> None:
        text = _text(path)
        lines = text.splitlines()
        for package in _packages(_toml(path, text), path):
            source = _table(package.get("source"))
            if "editable" in source or "virtual" in source:
                continue  # the project itself or a workspace member: its own code
            self._locked(package, path, lines, "locked")

    def _poetry_lock(self, path: Path) -> None:
        text = _text(path)
        lines = text.splitlines()
        for package in _packages(_toml(path, text), path):
            groups = package.get("groups") or [package.get("category") or "locked"]
            self._locked(package, path, lines, ",".join(map(str, groups)))

    def _locked(self, package: dict[str, Any], path: Path, lines: list[str], group: str) -> None:
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str):
            self._unparsed(path, 1, str(package)[:200], "a [[package]] without a name")
            return
        line = _line(lines, rf"^name\s*=\s*[\"']{re.escape(name)}[\"']")
        specifier = f"=={version}" if isinstance(version, str) else ""
        self._add(name, path, line, group, name, specifier=specifier, locked=True)

    def _pipfile_lock(self, path: Path) -> None:
        text = _text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DeclarationError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
        lines = text.splitlines()
        for section, group in (("default", "main"), ("develop", "dev")):
            start = _line(lines, rf"^\s*\"{section}\"\s*:")
            for name, entry in _table(_table(data).get(section)).items():
                entry = _table(entry)
                version = entry.get("version")
                url = entry.get("git") or entry.get("file")
                self._add(
                    name,
                    path,
                    _line(lines, rf"^\s*\"{re.escape(name)}\"\s*:", start),
                    group,
                    name,
                    specifier=version if isinstance(version, str) else "",
                    url=url if isinstance(url, str) else None,
                    marker=entry.get("markers") or "",
                    locked=True,
                )


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DeclarationError(f"{path}: cannot be read: {err}") from None


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DeclarationError(f"{path}: not valid TOML: {err}") from None


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _packages(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    packages = data.get("package", [])
    if not isinstance(packages, list):
        raise DeclarationError(f"{path}: `package` is not an array of tables")
    return [p for p in packages if isinstance(p, dict)]


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with their ``\\`` continuations joined, each with the number of its first physical line."""
    start, parts = 0, list[str]()
    for number, line in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _requirements_group(path: Path) -> str:
    """requirements.txt is "main"; requirements-dev.txt and requirements/dev.txt are "dev"."""
    if not path.stem.startswith("requirements"):
        return path.stem
    return path.stem.removeprefix("requirements").lstrip("-_.") or "main"


def _line(lines: list[str], pattern: str, after: int = 0) -> int:
    """The number of the first line after line ``after`` that matches, else ``after`` (1 at least)."""
    regex = re.compile(pattern)
    return next((n for n, line in enumerate(lines, 1) if n > after and regex.search(line)), max(after, 1))


def _key_line(lines: list[str], key: str, after: int = 0) -> int:
    return _line(lines, rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", after)


def _section_line(lines: list[str], header: str) -> int:
    return _line(lines, rf"^\s*\[\s*{re.escape(header)}\s*\]", 0) if header else 0


def _check_group_includes(groups: dict[str, Any], path: Path) -> None:
    """PEP 735: an ``{include-group = NAME}`` names a group of the file, and includes never loop."""
    normalized = {canonicalize_name(name): name for name in groups}

    def includes(name: str) -> list[str]:
        entries = groups[name] if isinstance(groups[name], list) else []
        return [e["include-group"] for e in entries if isinstance(e, dict) and "include-group" in e]

    def visit(name: str, chain: list[str]) -> None:
        for included in includes(name):
            target = normalized.get(canonicalize_name(str(included)))
            if target is None:
                raise DeclarationError(
                    f"{path}: dependency group {name!r} includes {included!r}, which is not a group"
                )
            if target in chain:
                loop = " -> ".join([*chain, target])
                raise DeclarationError(f"{path}: dependency groups include each other ({loop})")
            visit(target, [*chain, target])

    for name in groups:
        visit(name, [name])


# Poetry's constraint syntax: "^4.2", "~4.2", "4.2.*", ">=4.2,<5", ">=4.2 <5", "4.2.1", "*", "a || b".
_POETRY_SINGLE = re.compile(r"^(\^|~(?!=)|)\s*(\d+(?:\.\d+)*)$")


def _poetry_constraint(value: object) -> tuple[str, str | None]:
    """A Poetry dependency's value (a constraint, a table, or a list of tables for several markers) as a
    PEP 440 specifier, its alternatives joined with " || ", and the URL it installs from if any."""
    if isinstance(value, str):
        return _poetry_specifier(value), None
    if isinstance(value, dict):
        url = value.get("git") or value.get("url") or value.get("path")
        version = value.get("version", "*")
        if not isinstance(version, str):
            raise ValueError(f"version {version!r} is not a constraint")
        return _poetry_specifier(version), url if isinstance(url, str) else None
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        specifiers = [_poetry_constraint(v)[0] for v in value]
        return ("" if "" in specifiers else " || ".join(dict.fromkeys(specifiers))), None
    raise ValueError(f"{value!r} is not a Poetry constraint, table or list of tables")


def _poetry_specifier(text: str) -> str:
    alternatives = []
    for alternative in re.split(r"\s*\|\|?\s*", text.strip()):
        parts = [p for p in re.split(r"\s*,\s*|\s+(?=[<>=!~^\d])", alternative) if p and p != "*"]
        if not parts:
            return ""  # one alternative allows any version: so does the whole
        alternatives.append(",".join(_poetry_part(p) for p in parts))
    return " || ".join(alternatives)


def _poetry_part(part: str) -> str:
    m = _POETRY_SINGLE.match(part)
    if m is None:
        try:
            SpecifierSet(part)
        except InvalidSpecifier:
            if re.fullmatch(r"\d+(\.\d+)*\.\*", part):
                return f"=={part}"
            raise ValueError(f"{part!r} is not a version constraint") from None
        return part
    op, version = m.groups()
    numbers = [int(n) for n in version.split(".")]
    if op == "":
        return f"=={version}"
    if op == "^":
        # The first non-zero component may not change (^0.2.3 -> <0.3.0; ^0.0 -> <0.1).
        keep = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
    else:
        # ~X.Y[.Z] allows patch changes, ~X minor ones.
        keep = min(1, len(numbers) - 1)
    upper = [*numbers[:keep], numbers[keep] + 1]
    return f">={version},<{'.'.join(map(str, upper))}"
