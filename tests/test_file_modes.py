"""Files written through a temporary name and a rename get the mode a plain open() gives a new file under the
current umask (0644 under 0022), not tempfile.mkstemp's 0600."""

import os
import stat
from contextlib import contextmanager

import pytest

from collectors.store import atomic_write
from pipelines.commands.export import atomic_text
from sandboxes.search.index import Page, SearchIndex
from schemas.files import temp_file
from transforms.io import write_bytes, write_text


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _open_mode(folder) -> int:
    """The mode open() gives a new file in `folder` now."""
    probe = folder / "probe-by-open"
    with open(probe, "w"):
        pass
    try:
        return _mode(probe)
    finally:
        probe.unlink()


def _write_with_every_helper(folder) -> list:
    atomic_write(folder / "store.json", lambda handle: handle.write(b"{}"))
    write_bytes(str(folder / "io.bin"), b"\x00")
    write_text(str(folder / "io.md"), "# card\n")
    with atomic_text(folder / "export" / "x_test.jsonl") as handle:
        handle.write("{}\n")
    SearchIndex.build([Page("p1", "Title", "https://example.test/", "some words")], folder / "index.sqlite").db.close()
    fd, path = temp_file(folder, "bare")
    os.close(fd)
    return [folder / "store.json", folder / "io.bin", folder / "io.md", folder / "export" / "x_test.jsonl",
            folder / "index.sqlite", path]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002, 0o077])
def test_atomic_writers_give_the_mode_open_gives(tmp_path, mask):
    with umask(mask):
        expected = _open_mode(tmp_path)
        assert expected == 0o666 & ~mask
        written = _write_with_every_helper(tmp_path)
    assert {str(path): oct(_mode(path)) for path in written} == {str(path): oct(expected) for path in written}
    # Nothing left behind but the temporary file made here on purpose.
    assert [p.name for p in tmp_path.rglob(".*")] == [os.path.basename(written[-1])]


def test_temp_file_names_never_repeat_and_hide_from_globs(tmp_path):
    names = set()
    for _ in range(50):
        fd, path = temp_file(tmp_path, "part-0.parquet")
        os.close(fd)
        names.add(os.path.basename(path))
    assert len(names) == 50
    assert all(name.startswith(".part-0.parquet.") and name.endswith(".tmp") for name in names)
    assert not list(tmp_path.glob("*.parquet"))

