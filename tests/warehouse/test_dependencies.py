"""Reading a project's dependency declarations: one real-shaped project per kind under tests/data/deps/."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import ROOT
from warehouse.dependencies import DeclarationError, Declarations, django_version, read

DATA = ROOT / "tests" / "data" / "deps"
KNOWN = ["3.2", "4.2", "5.0", "5.1", "5.2"]


def names_by_file(found: Declarations) -> dict[str, set[str]]:
    names = defaultdict(set)
    for dep in found.dependencies:
        names[found.where(dep.file)].add(dep.name)
    return dict(names)


def by_name(found: Declarations, file: str) -> dict[str, object]:
    return {d.name: d for d in found.dependencies if found.where(d.file) == file}


def unparsed(found: Declarations) -> dict[tuple[str, int], str]:
    return {(found.where(u.file), u.line): u.reason for u in found.unparsed}


def test_requirements_with_includes_and_tricky_lines():
    found = read(DATA / "requirements")
    # requirements.txt is read once though discovered and included; the constraints file is not read.
    assert [found.where(f) for f in found.files] == [
        "requirements-dev.txt",
        "requirements.txt",
        "requirements/base.txt",
        "requirements/extra.txt",
    ]
    assert names_by_file(found) == {
        "requirements-dev.txt": {"pytest-django", "factory-boy"},
        "requirements.txt": {
            "django",
            "django-calendarium",
            "celery",
            "django-storages",
            "django-model-utils",
            "django-hijack",
            "django-cacheops",
            "whitenoise",
            "pillow",
            "django-valkey",
        },
        "requirements/base.txt": {"psycopg", "django-push-notifications"},
        "requirements/extra.txt": {"sentry-sdk"},
    }
    assert "urllib3" not in found.names()  # a constraint, not a dependency
    main = by_name(found, "requirements.txt")
    # The hashes continued with "\" belong to the line that starts the entry.
    assert (main["django-calendarium"].line, main["django-calendarium"].specifier) == (9, "==1.3.4")
    assert main["django"].specifier == "<5.1,>=4.2"
    assert main["celery"].marker == 'python_version >= "3.10"'
    assert main["django-storages"].url.endswith("django_storages-1.14.2-py3-none-any.whl")
    assert main["django-hijack"].url.startswith("git+https://")
    # A file URL names its package and version; === is kept as written.
    assert main["django-cacheops"].specifier == "==7.0.2"
    assert main["django-valkey"].specifier == "===0.4.1"
    assert {d.group for d in found.dependencies} == {"main", "dev", "base", "extra"}
    assert unparsed(found).keys() == {
        ("requirements.txt", 22),
        ("requirements.txt", 23),
        ("requirements.txt", 25),
    }
    assert "without #egg=NAME" in unparsed(found)[("requirements.txt", 22)]
    assert "not found" in unparsed(found)[("requirements.txt", 25)]


def test_pyproject_pep621_extras_pep735_groups_and_uv_lock():
    found = read(DATA / "uv")
    assert [found.where(f) for f in found.files] == ["pyproject.toml", "uv.lock"]
    # The project itself (its "all" extra, the lock's editable entry) is not its own dependency.
    assert names_by_file(found) == {
        "pyproject.toml": {
            "django",
            "django-cacheops",
            "dj-stripe",
            "django-allauth",
            "django-storages",
            "pytest-django",
            "factory-boy",
            "ruff",
            "django-debug-toolbar",
            "ipython",
        },
        "uv.lock": {"asgiref", "django", "django-cacheops", "funcy", "redis", "sqlparse"},
    }
    groups = {d.name: d.group for d in found.dependencies if d.file.name == "pyproject.toml"}
    assert groups == {
        "django": "main",
        "django-cacheops": "main",
        "dj-stripe": "main",
        "django-allauth": "main",
        "django-storages": "extra:s3",
        "pytest-django": "test",
        "factory-boy": "test",
        "ruff": "lint",
        "django-debug-toolbar": "dev",
        "ipython": "dev",
    }
    lock = by_name(found, "uv.lock")
    assert (lock["django"].specifier, lock["django"].line, lock["django"].locked) == ("==5.1.4", 15, True)
    assert unparsed(found).keys() == {("pyproject.toml", 16)}


def test_poetry_pyproject_and_poetry_lock():
    found = read(DATA / "poetry")
    assert names_by_file(found) == {
        "pyproject.toml": {
            "django",
            "django-cacheops",
            "wagtail",
            "django-model-utils",
            "local-lib",
            "markdown",
            "pytest-django",
            "factory-boy",
            "mkdocs",
        },
        "poetry.lock": {"asgiref", "django", "django-model-utils", "pytest-django", "sqlparse"},
    }
    declared = by_name(found, "pyproject.toml")
    # Poetry's constraints as PEP 440.
    assert {name: d.specifier for name, d in declared.items()} == {
        "django": ">=4.2,<5",
        "django-cacheops": ">=7.0,<8",
        "wagtail": ">=5.2,<7.0",
        "django-model-utils": "",
        "local-lib": "",
        "markdown": "<3.5 || >=3.5,<4",
        "pytest-django": ">=4.8,<5",
        "factory-boy": "",
        "mkdocs": ">=1.6,<1.7",
    }
    assert (declared["mkdocs"].group, declared["mkdocs"].line) == ("docs", 27)
    assert declared["pytest-django"].group == "dev"
    assert {d.name: d.group for d in found.dependencies if d.locked}["pytest-django"] == "dev"
    assert unparsed(found) == {("pyproject.toml", 28): "'latest' is not a version constraint"}


def test_pipfile_lock():
    found = read(DATA / "pipenv" / "Pipfile.lock")
    assert [found.where(f) for f in found.files] == ["Pipfile.lock"]
    assert {(d.name, d.group, d.specifier) for d in found.dependencies} == {
        ("asgiref", "main", "==3.8.1"),
        ("django", "main", "==4.2.16"),
        ("django-hijack", "main", ""),
        ("django-push-notifications", "main", "==3.1.0"),
        ("sqlparse", "main", "==0.5.3"),
        ("pytest-django", "dev", "==4.9.0"),
    }
    assert by_name(found, "Pipfile.lock")["django"].line == 26


def test_one_file_reads_that_file_and_its_includes_only():
    found = read(DATA / "requirements" / "requirements-dev.txt")
    assert found.root == (DATA / "requirements").resolve()
    assert len(found.files) == 4
    found = read(DATA / "requirements" / "requirements" / "base.txt")
    assert names_by_file(found) == {"base.txt": {"psycopg", "django-push-notifications"}}


def test_an_include_cycle_is_refused_naming_the_chain(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("django\n-r requirements/dev.txt\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "dev.txt").write_text("pytest\n\n--requirement ../requirements.txt\n")
    with pytest.raises(DeclarationError) as err:
        read(tmp_path)
    assert str(err.value) == (
        "requirements/dev.txt:3: -r ../requirements.txt is an include cycle "
        "(requirements.txt -> requirements/dev.txt -> requirements.txt)"
    )


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ('a = [{include-group = "b"}]\nb = [{include-group = "a"}]', "include each other (a -> b -> a)"),
        ('a = [{include-group = "nope"}]', "group 'a' includes 'nope', which is not a group"),
    ],
)
def test_dependency_group_includes_must_name_a_group_without_a_loop(tmp_path: Path, groups, message):
    (tmp_path / "pyproject.toml").write_text(f"[dependency-groups]\n{groups}\n")
    with pytest.raises(DeclarationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(tmp_path)


def test_bad_input_is_a_clear_error(tmp_path: Path):
    with pytest.raises(DeclarationError, match="no dependency declarations in .*: looked for requirements"):
        read(tmp_path)
    (tmp_path / "setup.cfg").write_text("[metadata]\n")
    with pytest.raises(DeclarationError, match="setup.cfg: not a kind of file dpw reads"):
        read(tmp_path / "setup.cfg")
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(DeclarationError, match=r"pyproject.toml: not valid TOML: .*line 1"):
        read(tmp_path)
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "Pipfile.lock").write_text('{"default": {,}}')
    with pytest.raises(DeclarationError, match=r"Pipfile.lock:1: not valid JSON"):
        read(tmp_path)
    with pytest.raises(DeclarationError, match="no such file or directory"):
        read(tmp_path / "absent")


def test_an_invalid_name_is_reported_not_dropped(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("-e git+https://git.example/x.git#egg=-bad-\n\nok-name\n")
    found = read(tmp_path)
    assert found.names() == ["ok-name"]
    assert [(u.line, u.reason.startswith("#egg=-bad-")) for u in found.unparsed] == [(1, True)]


@pytest.mark.parametrize(
    ("project", "version", "source"),
    [
        ("uv", "5.1", "django==5.1.4 in uv.lock:15"),  # the lock wins over the range in pyproject
        ("poetry", "4.2", "django==4.2.16 in poetry.lock:19"),
        ("pipenv", "4.2", "django==4.2.16 in Pipfile.lock:26"),
        (
            "requirements",
            "5.0",
            "the newest that django<5.1,>=4.2 in requirements.txt:8 allows",
        ),
    ],
)
def test_django_version_from_the_files(project, version, source):
    assert django_version(read(DATA / project).dependencies, KNOWN) == (version, source)


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("Django==4.2.11", "4.2"),
        ("Django===5.0rc1", "5.0"),
        ("django~=4.2.5", "4.2"),
        ("django>=4.2.20", "5.2"),
        ("django<5.1.3", "5.1"),
        ("django==4.*", "4.2"),
        ("django!=5.2.*,<6", "5.1"),
        ("django", "5.2"),
        ("django>=6", None),
    ],
)
def test_django_version_from_a_pin_or_range(tmp_path: Path, line, version):
    (tmp_path / "requirements.txt").write_text(f"{line}\n")
    found, source = django_version(read(tmp_path).dependencies, KNOWN)
    assert found == version
    if version is None:
        assert (
            source == "django>=6 in requirements.txt:1 allows none of the Django versions the warehouse knows"
        )


def test_no_django_declared_says_so(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("celery\n")
    assert django_version(read(tmp_path).dependencies, KNOWN) == (None, "no django declared")
