"""Resume reads each stored episode file whole: a flipped byte in a data page (footer intact) makes the episode
damaged, named and collected again. Only the footer was read before, so the episode was taken as complete and the
damage found only later, by pack or curate."""

import pyarrow.parquet as pq

from collectors.api import Task
from tests.collectors.test_user_errors_resume import paths, run


def flip_a_page_byte(path, marker: bytes) -> None:
    """Change one byte of `marker`, which only the data pages hold (no statistics are written), to another letter."""
    data = bytearray(path.read_bytes())
    at = data.index(marker)
    assert at < len(data) - int.from_bytes(data[-8:-4], "little") - 8, "the marker is in the footer"
    data[at] = ord("Q")
    path.write_bytes(bytes(data))


def test_an_episode_whose_page_fails_its_checksum_is_collected_again(tmp_path, caplog):
    tasks = [Task(id=f"t{i}", instruction="echo", actions=[f"echo MARK{i}", "echo again"]) for i in range(2)]
    out = tmp_path / "out"
    run(tmp_path, out, tasks)
    _, flipped = paths(out, tasks[0])
    flip_a_page_byte(flipped, b"MARK0")
    # The footer still reads, and without the checksum the page still decodes, to what was not recorded.
    assert pq.read_metadata(flipped).num_rows == 2
    states = pq.read_table(flipped, page_checksum_verification=False).column("state").to_pylist()
    assert states[1]["text"] == "QARK0\n"  # the second step's state: the first one's output

    report = run(tmp_path, out, tasks)
    assert (report.completed, report.skipped_complete, len(report.recollected_damaged)) == (1, 1, 1)
    named = " ".join(caplog.messages)
    assert f"collecting {flipped.stem} again: {flipped} is not readable Parquet (" in named, named
    assert "CRC" in named, named
    assert pq.read_table(flipped, page_checksum_verification=True).column("state").to_pylist()[1]["text"] == \
        "MARK0\n"
    assert run(tmp_path, out, tasks).skipped_complete == 2
