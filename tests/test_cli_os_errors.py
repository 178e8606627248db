"""A full disk (ENOSPC) or a read-only filesystem (EROFS) under a command's output ends collect, pack, curate and
export with one line `Error: ...` naming the path and the reason, and exit code 1, not a 39-154 line traceback.
Real filesystems: small tmpfs mounts (root only), filled or remounted read-only, unmounted after each test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.collectors.test_pack import collection
from tests.pipelines.curation_raw_collection import write_raw_collection

REPO = Path(__file__).resolve().parents[1]
TERMINAL_TASKS = REPO / "tasks" / "terminal.yaml"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"),
                                reason="mounts a tmpfs: needs root")


def worldline(*args, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def disk(tmp_path):
    """A 3 MB tmpfs; yields its mount point and unmounts it (lazily, should a process still hold it)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(mount_point: Path, leave_kib: int = 0) -> None:
    """Leave about `leave_kib` KiB free on the tmpfs."""
    free = shutil.disk_usage(mount_point).free
    with open(mount_point / "filler", "wb") as handle:
        try:
            handle.write(b"\0" * max(free - leave_kib * 1024, 0))
        except OSError:
            pass


def read_only(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """The error is one line (other lines are the command's usual progress notes), with the path and the reason."""
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    write_raw_collection(raw)
    out = tmp_path_factory.mktemp("curated") / "out"
    done = worldline("curate", "--input", raw, "--output", out)
    assert done.returncode == 0, done.stderr[-3000:]
    return raw, out


def test_pack_on_a_full_disk(disk):
    collection(disk / "raw")
    fill(disk)
    line = assert_one_error_line(worldline("pack", disk / "raw"), "No space left on device", str(disk / "raw"))
    assert line.startswith(f"Error: could not write {disk / 'raw'}"), line


def test_pack_on_a_read_only_disk(disk):
    collection(disk / "raw")
    read_only(disk)
    line = assert_one_error_line(worldline("pack", disk / "raw"), "Read-only file system",
                                 str(disk / "raw" / "transitions" / "terminal" / ".pack-"))
    assert "copy it to a writable disk" in line, line


@pytest.mark.parametrize("beam_args", [[], ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]],
                         ids=["in-process", "worker-processes"])
def test_curate_on_a_full_disk(curated, disk, beam_args):
    """Beam raises the OSError inside its own RuntimeError (from a worker process, as text only). A worker process
    printed its traceback to the terminal before the line (79 lines in all); it imports a filter first now."""
    raw, _ = curated
    fill(disk, leave_kib=40)  # room to start the run, not to finish it
    result = worldline("curate", "--input", raw, "--output", disk / "shards", *beam_args)
    assert_one_error_line(result, f"could not write {disk / 'shards'}", "No space left on device",
                          "choose another --output")
    assert "[while running" not in result.stderr.splitlines()[-1]


def test_curate_on_a_read_only_disk(curated, disk):
    raw, _ = curated
    read_only(disk)
    assert_one_error_line(worldline("curate", "--input", raw, "--output", disk / "shards"),
                          f"could not write {disk / 'shards'}: Read-only file system", "choose another --output")


@pytest.mark.parametrize("kind", ["atif", "agentworldbench"])
def test_export_on_a_full_disk(curated, disk, kind):
    _, shards = curated
    fill(disk)
    assert_one_error_line(worldline("export", kind, "--input", shards, "--out", disk / "ex"),
                          str(disk), "No space left on device", "choose another --out")


def test_export_on_a_read_only_disk(curated, disk):
    _, shards = curated
    read_only(disk)
    line = assert_one_error_line(worldline("export", "atif", "--input", shards, "--out", disk / "ex"),
                                 "Read-only file system", f"(made for --out {disk / 'ex'})")
    assert line.startswith(f"Error: could not write {disk}/."), line  # the staging folder beside --out


def test_collect_refuses_a_read_only_out_before_any_environment_starts(disk, base_image, prefix):
    read_only(disk)
    for out in (disk, disk / "new" / "raw"):
        result = worldline("collect", "terminal", "--tasks", TERMINAL_TASKS, "--out", out, "--limit", "1",
                           "--image", base_image, "--container-prefix", prefix)
        # Exit code 2, as the other --out refusals: nothing was run.
        assert result.returncode == 2, result.stderr[-3000:]
        assert result.stderr.strip() == (
            f"Error: --out {out} is not writable: {'it' if out == disk else f'{disk}, where it would be made,'} "
            "refused a new file (Read-only file system): choose another --out, or one this user may write")
        assert "collect terminal" not in result.stderr  # the progress bar: no episode was started


def test_collect_on_a_full_disk(disk, base_image, prefix):
    fill(disk, leave_kib=8)  # the folders can be made, the first episode cannot be stored
    result = worldline("collect", "terminal", "--tasks", TERMINAL_TASKS, "--out", disk / "raw", "--limit", "1",
                       "--image", base_image, "--container-prefix", prefix)
    assert_one_error_line(result, f"could not write {disk / 'raw'}", "No space left on device",
                          "choose another --out")
