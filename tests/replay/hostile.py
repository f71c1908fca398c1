"""A hostile bundle: records and documents as a careless or malicious upstream could send them.

Every entry is a JSON line written as text, so that numbers keep their spelling (`1e308`) and escapes
stay escapes (a lone surrogate is `\\ud800` in the file, as an API sends it). `served` says whether the
replay server must serve the record (an older snapshot of an id is not), `evolves` whether it is sound
enough for the server to move it with the clock; every other served record must come back as received.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FETCHED = "2026-03-01T10:00:00-05:00"
AS_OF = "2026-03-02"  # the day after the newest believable fetch: the 2099 ones are not
RAW = "__raw__"  # a field whose JSON text is spliced in as written
EVOLVED_FIELDS = {
    "last_fetched",
    "repo_watchers",
    "repo_forks",
    "commits_over_52",
    "last_updated",
    "pypi_version",
}


_DROP = object()  # a field left out


@dataclass(frozen=True)
class Entry:
    label: str
    line: str
    served: bool = True
    evolves: bool = False

    @property
    def value(self) -> Any:
        return json.loads(self.line)


def base(pid: object, **changes: object) -> dict[str, Any]:
    """A sound record: it evolves, and GitHub and PyPI documents derive from it."""
    name = f"hostile-{pid}" if isinstance(pid, int) and 0 < pid < 10**6 else "hostile-odd"
    record = {
        "category": "https://djangopackages.org/api/v4/categories/1/",
        "grids": ["https://djangopackages.org/api/v4/grids/5/"],
        "id": pid,
        "title": name,
        "slug": name,
        "last_updated": "2026-02-27T12:00:00-05:00",
        "last_fetched": FETCHED,
        "repo_url": f"https://github.com/acme/{name}",
        "pypi_version": "1.0.0",
        "created": "2020-01-01T00:00:00-05:00",
        "modified": "2026-02-01T00:00:00-05:00",
        "repo_forks": 3,
        "repo_description": "a package",
        "pypi_url": f"https://pypi.example/project/{name}/",
        "documentation_url": None,
        "repo_watchers": 30,
        "commits_over_52": [1] * 52,
        "participants": ["ann"],
    }
    for key, value in {"id": pid, **changes}.items():
        if value is _DROP:
            record.pop(key)
        else:
            record[key] = value
    return record


def line(record: object, **raw: str) -> str:
    """`record` as one JSON line; `raw` fields (set to RAW in the record) are spliced in as written."""
    text = json.dumps(record)
    for key, spelling in raw.items():
        text = text.replace(f'"{key}": "{RAW}"', f'"{key}": {spelling}', 1)
    return text


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _packages() -> list[Entry]:
    e: list[Entry] = []

    def add(label: str, record: object, *, served: bool = True, evolves: bool = False, **raw: str) -> None:
        e.append(Entry(label, line(record, **raw), served, evolves))

    def add_text(label: str, text: str) -> None:
        e.append(Entry(label, text))

    add("a sound record", base(8000), evolves=True)
    # ids
    add("id 2**70", base(2**70), evolves=True)
    add("id 1e308", base(RAW), id="1e308")
    add("id 1.5", base(1.5))
    add("id -5", base(-5), evolves=True)
    add("id true", base(True))
    add("id null", base(None))
    add("id null again (not a snapshot of the first)", base(None, title="second null id"))
    add("id missing", base(_DROP))
    add("id missing again", base(_DROP, title="second missing id"))
    add("id 'abc'", base("abc"))
    add("id [1, 2]", base([1, 2]))
    add("id {'n': 1}", base({"n": 1}))
    add("id '8001', the string form of an integer id", base("8001"))
    add("id 8001.0, the float form", base(RAW), id="8001.0")
    add("id 8001, older snapshot", base(8001, last_fetched="2026-02-01T10:00:00-05:00"), served=False)
    add("id 8001, newest snapshot", base(8001, title="newest 8001"), evolves=True)
    add("id 8002, readable fetch", base(8002, title="readable 8002"), evolves=True)
    add("id 8002, unreadable fetch loses", base(8002, last_fetched="yesterday"), served=False)
    # text
    add("lone high surrogate in the title", base(8010, title="\ud800"), evolves=True)
    add("lone low surrogate and a reversed pair", base(8011, title="a\udfffb\udc00\ud800c"), evolves=True)
    add("surrogate in a key and the slug", base(8012, slug="s\ud800g", **{"k\udc00": 1}), evolves=True)
    add(
        "NUL and control bytes",
        base(8013, title="a\u0000b\u0007\u001b[31mred\u001b[0m\r\n\t\u007f"),
        evolves=True,
    )
    add("rich markup", base(8014, title="[/]", repo_description="[bold red]x[/bold red]"), evolves=True)
    add(
        "line and paragraph separators, BOM, RTL override, ZWJ, combining marks, astral",
        base(8015, title="\u2028\u2029\ufeff\u202egnp.exe\u200d e\u0301\U0001f9d1\U0001f3fd\u200d\U0001f680"),
        evolves=True,
    )
    add("a 1 MB title", base(8016, title="x" * 1_000_000), evolves=True)
    add("a 1 MB multibyte description", base(8017, repo_description="é" * 500_000), evolves=True)
    add("title as a list", base(8018, title=["a", "b"]), evolves=True)
    add("title as an object", base(8019, title={"en": "x"}), evolves=True)
    add("title as a number", base(8020, title=1e308), evolves=True)
    add("slug with slashes and dots", base(8021, slug="../../etc/passwd"), evolves=True)
    add("slug with a space and unicode", base(8022, slug="ü n ï"), evolves=True)
    add("slug of digits", base(8023, slug="8000"), evolves=True)
    add("slug shared with a newer id", base(8024, slug="shared-slug"), evolves=True)
    add("slug shared with an older id", base(8025, slug="shared-slug", title="loses the slug"), evolves=True)
    add("slug as a list", base(8026, slug=["x"]), evolves=True)
    # links
    add(
        "pypi_url as a list",
        base(8030, pypi_url=["https://pypi.example/project/hostile-8030/"]),
        evolves=True,
    )
    add(
        "pypi_url as an object", base(8031, pypi_url={"url": "https://pypi.example/project/x/"}), evolves=True
    )
    add("pypi_url as a number", base(8032, pypi_url=5), evolves=True)
    add("pypi_url urlsplit refuses", base(8033, pypi_url="https://pypi.example/project///[x/"), evolves=True)
    add(
        "pypi_url of 1 MB",
        base(8034, pypi_url="https://pypi.example/project/" + "p" * 1_000_000),
        evolves=True,
    )
    add("pypi_url on another host and scheme", base(8035, pypi_url="file:///pypi/hostile-8035"), evolves=True)
    add("repo_url as a list", base(8040, repo_url=["https://github.com/acme/x"]), evolves=True)
    add("repo_url as an object", base(8041, repo_url={"href": "https://github.com/acme/x"}), evolves=True)
    add("repo_url urlsplit refuses", base(8042, repo_url="https://[github.com/acme/x"), evolves=True)
    add("repo_url of 1 MB", base(8043, repo_url="https://github.com/acme/" + "r" * 1_000_000), evolves=True)
    add("repo_url over ssh", base(8044, repo_url="git@github.com:acme/hostile-8044.git"), evolves=True)
    add("repo_url javascript:", base(8045, repo_url="javascript:alert(1)//github.com/a/b"), evolves=True)
    # the weekly array
    add("commits_over_52 as a string", base(8050, commits_over_52="lots"))
    add("commits_over_52 as an object", base(8051, commits_over_52={"w": 1}))
    add("commits_over_52 of 10**30", base(8052, commits_over_52=[10**30] * 52))
    add("commits_over_52 of 2**70", base(8053, commits_over_52=[2**70] * 52))
    add("commits_over_52 of floats", base(8054, commits_over_52=[1.5] * 52))
    add(
        "commits_over_52 of 1e308",
        base(8055, commits_over_52=RAW),
        commits_over_52="[" + ",".join(["1e308"] * 52) + "]",
    )
    add("commits_over_52 of 51 weeks", base(8056, commits_over_52=[1] * 51))
    add("commits_over_52 negative", base(8057, commits_over_52=[-1] * 52))
    add("commits_over_52 of booleans", base(8058, commits_over_52=[True] * 52))
    add("commits_over_52 of nulls", base(8059, commits_over_52=[None] * 52))
    add("commits_over_52 of lists", base(8060, commits_over_52=[[1]] * 52))
    add("commits_over_52 missing", base(8061, commits_over_52=_DROP))
    # counts
    add("repo_watchers 2**70", base(8070, repo_watchers=2**70))
    add("repo_watchers 1e308", base(8071, repo_watchers=RAW), repo_watchers="1e308")
    add("repo_watchers 'many'", base(8072, repo_watchers="many"))
    add("repo_watchers -1", base(8073, repo_watchers=-1))
    add("repo_watchers 10**100", base(8074, repo_watchers=10**100))
    add("repo_watchers 2**53, the largest evolved", base(8075, repo_watchers=2**53), evolves=True)
    add("repo_forks true", base(8076, repo_forks=True))
    add("repo_forks null", base(8077, repo_forks=None))
    # times
    add("last_fetched in 2099", base(8080, last_fetched="2099-01-01T00:00:00-05:00"))
    add("last_fetched unparseable", base(8081, last_fetched="not a time"))
    add("last_fetched 9999-12-31 west of UTC", base(8082, last_fetched="9999-12-31T23:59:59-05:00"))
    add("last_fetched 0001-01-01 east of UTC", base(8083, last_fetched="0001-01-01T00:00:00+05:00"))
    add("last_fetched as epoch seconds", base(8084, last_fetched=1_700_000_000))
    add("last_fetched null", base(8085, last_fetched=None))
    add("last_updated in 2099", base(8086, last_updated="2099-06-01T00:00:00-04:00"))
    add("last_updated unparseable", base(8087, last_updated="soon"))
    add("created in year 1, naive", base(8088, created="0001-01-01T00:00:00"))
    add("created unparseable (only unknown)", base(8089, created="long ago"), evolves=True)
    add("modified as a list", base(8090, modified=["2026"]), evolves=True)
    # versions
    add("pypi_version of 5,000 digits", base(8100, pypi_version="9" * 5000))
    add("pypi_version of 1 MB alternating", base(8101, pypi_version="1a" * 500_000))
    add("pypi_version as a list", base(8102, pypi_version=["1.0"]))
    add("pypi_version as a number", base(8103, pypi_version=1.0))
    add("pypi_version empty", base(8104, pypi_version=""), evolves=True)
    add("pypi_version with NUL and a surrogate", base(8105, pypi_version="1.0\u0000\ud800"), evolves=True)
    # groups
    add(
        "category link with 5,000 digits",
        base(8110, category="https://djangopackages.org/api/v4/categories/" + "9" * 5000 + "/"),
        evolves=True,
    )
    add("category urlsplit refuses", base(8111, category="https://[bad/api/v4/categories/1/"), evolves=True)
    add(
        "category as a list",
        base(8112, category=["https://djangopackages.org/api/v4/categories/2/"]),
        evolves=True,
    )
    add("grids as a string", base(8113, grids="https://djangopackages.org/api/v4/grids/6/"), evolves=True)
    add("grids of odd things", base(8114, grids=[{"x": 1}, 5, None, ["y"]]), evolves=True)
    add(
        "a grid only this record links",
        base(8115, grids=["https://djangopackages.org/api/v4/grids/77/"]),
        evolves=True,
    )
    # shapes
    add("participants nested 300 deep", base(8120, participants=_deep(300)), evolves=True)
    add("participants as a string", base(8121, participants="ann,bob"), evolves=True)
    add(
        "unknown and provenance keys",
        base(8122, **{"": "empty key", "__proto__": {"x": 1}, "_source": "gone"}),
        evolves=True,
    )
    add("only an id", {"id": 8130})
    add("only an id and a slug", {"id": 8131, "slug": "only-a-slug"})
    add("an empty object", {})
    # not objects at all
    add("a bare number", 42)
    add_text("a bare huge number", "1e308")
    add("a bare string", "just a string")
    add("a bare null", None)
    add("a bare true", True)
    add("an empty list", [])
    add("a list", [1, "two", {"three": 3}])
    return e


PACKAGES = _packages()

# Lines that are not JSON (or not representable once parsed): the loader skips them with a warning.
NOT_JSON = [
    b"this is not json",
    b'{"id": 1e400, "title": "beyond a double"}',
    b'{"id": NaN}',
    b'{"id": Infinity}',
    b'{"id": 1',
    b'{"id": 1}{"id": 2}',
    b"\xff\xfe{}",
    b'{"id": ' + b"1" * 5000 + b"}",
    b"[" * 5000 + b"]" * 5000,
]

GITHUB = [
    Entry(
        "a shipped document overriding a derived one",
        line(
            {
                "full_name": "acme/hostile-8000",
                "id": 2**70,
                "stargazers_count": "lots",
                "topics": {"a": 1},
                "license": "MIT",
                "description": "\ud800",
                "open_issues_count": 10**400,
                "_source": "gone",
            }
        ),
    ),
    Entry(
        "ids and topics of the wrong type", line({"full_name": "acme/odd-doc", "id": "abc", "topics": "abc"})
    ),
    Entry("no full_name", line({"id": 5}), served=False),
    Entry("full_name as a list", line({"full_name": ["acme/x"]}), served=False),
    Entry("not an object", line(5), served=False),
]

PYPI = [
    Entry(
        "a serial that would inject a header",
        line(
            {
                "info": {"name": "hostile-serial", "version": ["x"]},
                "last_serial": "1\r\nX-Evil: 1",
                "releases": "no",
            }
        ),
    ),
    Entry("a serial of 2**70", line({"info": {"name": "Hostile_Big"}, "last_serial": 2**70})),
    Entry("info as a list", line({"info": [1]}), served=False),
    Entry("name as a number", line({"info": {"name": 5}}), served=False),
    Entry("an empty object", line({}), served=False),
]

CATEGORIES = [
    Entry("title with a lone surrogate", line({"id": 1, "title": "\ud800", "slug": "apps"})),
    Entry("id as a list", line({"id": [1], "title": "list id"})),
    Entry("id 2**70", line({"id": 2**70, "title": "huge"})),
    Entry("a bare list", line([1, 2])),
    Entry("a bare number", line(7)),
]

GRIDS = [
    Entry("slug as a list", line({"id": 5, "slug": ["x"], "title": "five"})),
    Entry("a shared slug, newer", line({"id": 7, "slug": "dup", "title": "seven"})),
    Entry("a shared slug, older", line({"id": 6, "slug": "dup", "title": "six"})),
    Entry("a bare string", line("grid")),
    Entry("null", line(None)),
]


def public(value: Any) -> Any:
    """What the API serves of a record: keys starting with `_` are provenance."""
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if not k.startswith("_")}


def served_packages() -> list[tuple[Entry, Any]]:
    return [(entry, public(entry.value)) for entry in PACKAGES if entry.served]


def write_bundle(directory: Path) -> tuple[Path, list[int]]:
    """The bundle (packages gzipped, not-JSON lines mixed in) and the line numbers of those lines."""
    directory.mkdir(parents=True, exist_ok=True)
    lines: list[bytes] = []
    skipped = []
    for i, entry in enumerate(PACKAGES):
        lines.append(entry.line.encode())
        if i < len(NOT_JSON):
            lines.append(NOT_JSON[i])
            skipped.append(len(lines))
        if i == 3:
            lines.append(b"   ")  # blank lines are nothing, not an error
    with gzip.open(directory / "packages.jsonl.gz", "wb") as out:
        out.write(b"\n".join(lines) + b"\n")
    for stem, entries in (("github", GITHUB), ("pypi", PYPI), ("categories", CATEGORIES), ("grids", GRIDS)):
        (directory / f"{stem}.jsonl").write_text("".join(x.line + "\n" for x in entries))
    return directory, skipped


def expected_github() -> dict[str, Any]:
    return {x.value["full_name"]: public(x.value) for x in GITHUB if x.served}


def expected_pypi() -> dict[str, Any]:
    return {x.value["info"]["name"]: public(x.value) for x in PYPI if x.served}
