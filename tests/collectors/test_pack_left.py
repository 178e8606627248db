"""`worldline pack` names the files it leaves as they are, with why: the first 10 and a count, or all of them."""

from click.testing import CliRunner

from collectors.pack import pack_collection
from collectors.store import EpisodeStore
from pipelines.cli import build_cli
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_pack import collection, write_episode


def test_report_says_why_each_file_is_left(tmp_path):
    collection(tmp_path)
    foreign = transitions_path(tmp_path, "terminal", "foreign")
    foreign.write_bytes(b"not parquet")
    episode_path(tmp_path, "terminal", "foreign").write_text('{"outcome": "success"}')
    report = pack_collection(tmp_path)
    assert report.left_unpacked == 3
    left = dict(report.left)
    assert left["transitions/terminal/broken.parquet"].startswith("episode ended in an environment error")
    assert left["transitions/terminal/unfinished.parquet"].startswith("episode not finished")
    assert left["transitions/terminal/foreign.parquet"].startswith("not readable Parquet")


def test_command_lists_the_first_ten_and_a_count(tmp_path):
    store = EpisodeStore(tmp_path)
    for number in range(13):
        write_episode(store, f"bad{number:02}", 1, outcome="error")
    result = CliRunner().invoke(build_cli(), ["pack", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "left 13 unfinished or foreign files" in result.stdout
    named = [line for line in result.stdout.splitlines() if line.startswith("  left ")]
    assert len(named) == 10 and named[0].startswith("  left transitions/terminal/bad00.parquet: episode ended in")
    assert "... and 3 more (pass --show-left to list them all)" in result.stdout
    result = CliRunner().invoke(build_cli(), ["pack", str(tmp_path), "--show-left"])
    assert len([line for line in result.stdout.splitlines() if line.startswith("  left ")]) == 13
    assert "more" not in result.stdout
