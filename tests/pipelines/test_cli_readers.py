"""Readers against a real writer in another process: one line when it holds on too long, an answer when it
lets go in time; and Ctrl-C on a real `dpw` ends it with one line and exit code 130."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from warehouse import store
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
DPW = Path(sys.executable).parent / "dpw"
WRITER = """
import sys, time
from warehouse.store import Warehouse
with Warehouse(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextmanager
def writer(path: Path, seconds: float):
    """A process holding the warehouse read-write for ``seconds``, from the moment this enters."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "holding\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    path = tmp_path_factory.mktemp("readers") / "warehouse.duckdb"
    with Warehouse(path) as wh:
        wh.conn.execute(
            "INSERT INTO rejected_records VALUES ('2026-05-01', 'pypi/project', 'x', ['version'], "
            "'version: missing', '{}')"
        )
    return path


@pytest.fixture
def held(path):
    # Per test: a writer left holding would make the next test's own writer wait for it.
    with writer(path, 60):
        yield path


@pytest.mark.parametrize(
    "args",
    [
        ["sql", "select 1"],
        ["query", "biggest_movers"],
        ["explain", "django-debug-toolbar"],
        ["rejects"],
    ],
    ids=lambda args: args[0],
)
def test_a_reader_says_in_one_line_that_a_run_is_writing(held, monkeypatch, args):
    monkeypatch.setattr(store, "READER_WAIT", 1.0)
    started = time.monotonic()
    result = CliRunner().invoke(app, [*args, "--warehouse", str(held)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {held} is being written by another process (a run publishing a date); waited 1 s, "
        "try again in a moment\n"
    )
    assert 1.0 <= elapsed < 5.0


def test_a_reader_waits_out_a_short_write(path):
    with writer(path, 1.5):
        started = time.monotonic()
        result = CliRunner().invoke(
            app,
            [
                "sql",
                "select count(*) as n from rejected_records",
                "--format",
                "csv",
                "--warehouse",
                str(path),
            ],
        )
        elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert result.stdout == "n\n1\n"
    assert 0.5 < elapsed < store.READER_WAIT


def _waiting_on_the_lock(pid: int) -> bool:
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith(".duckdb.lock"):
                return True
        except FileNotFoundError:  # closed between the listing and the look
            continue
    return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="finds the reader's lock file through /proc")
def test_ctrl_c_prints_one_line_and_exits_130(held):
    reader = subprocess.Popen(
        [str(DPW), "sql", "select 1", "--warehouse", str(held)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts children with SIGINT ignored; Python then never raises it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 8
        while not _waiting_on_the_lock(reader.pid):
            assert reader.poll() is None and time.monotonic() < deadline, "the reader never waited"
            time.sleep(0.02)
        reader.send_signal(signal.SIGINT)
        out, err = reader.communicate(timeout=5)
    finally:
        reader.kill()
    assert (reader.returncode, out, err) == (130, "", "interrupted\n")
