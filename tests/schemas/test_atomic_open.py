"""schemas.files.atomic_open, the one temp-file-and-rename writer: the target holds the whole new file or what it
held before, never a part, and no temp file is left behind either way."""

import stat

import pytest

from schemas.files import atomic_open


def test_the_file_appears_whole_under_its_name_once_the_block_ends(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_open(target, "wb") as handle:
        handle.write(b"first half ")
        assert not target.exists()  # nothing under the name while the file is being written
        handle.write(b"second half")
    assert target.read_bytes() == b"first half second half"
    assert sorted(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("fsync", [False, True])
def test_an_exception_inside_leaves_the_old_file_and_no_temp_file(tmp_path, fsync):
    target = tmp_path / "scores.jsonl"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="stopped"):
        with atomic_open(target, "w", fsync=fsync, encoding="utf-8") as handle:
            handle.write("new, part-way")
            raise RuntimeError("stopped")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(tmp_path.iterdir()) == [target]


def test_a_keyboard_interrupt_inside_removes_the_temp_file_too(tmp_path):
    target = tmp_path / "card.md"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target, "wb") as handle:
            handle.write(b"part")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_text_mode_writes_in_the_given_encoding(tmp_path):
    target = tmp_path / "x.jsonl"
    with atomic_open(target, "w", encoding="utf-8") as handle:
        handle.write("é\n")
    assert target.read_bytes() == "é\n".encode("utf-8")


def test_the_file_gets_the_mode_open_gives_not_mkstemps(tmp_path):
    plain, atomic = tmp_path / "plain", tmp_path / "atomic"
    plain.write_bytes(b"")
    with atomic_open(atomic, "wb", fsync=True) as handle:
        handle.write(b"x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_publish_as_and_temp_name(tmp_path):
    """A name chosen once the file is written (a pack's digest), and a temp name carrying a writer tag."""
    seen = []
    with atomic_open(tmp_path / "pack-", "wb", temp_name="pack--TAG-",
                     publish_as=lambda: tmp_path / "pack-abc.parquet") as handle:
        seen = [entry.name for entry in tmp_path.iterdir()]
        handle.write(b"rows")
    assert len(seen) == 1 and seen[0].startswith(".pack--TAG-.") and seen[0].endswith(".tmp"), seen
    assert [entry.name for entry in tmp_path.iterdir()] == ["pack-abc.parquet"]


@pytest.mark.parametrize("mode", ["a", "ab", "r+", "x"])
def test_only_whole_file_modes_are_taken(tmp_path, mode):
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"):
        with atomic_open(tmp_path / "x", mode):
            pass
    assert list(tmp_path.iterdir()) == []
