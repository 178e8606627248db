"""Replays unmask the byte sizes they reproduce (du of fixed files, the free space of an untouched tmpfs), as they do
drawn ids, and count them apart; time-like and usage spans, and rates, stay masked however well a replay agrees."""

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.curate import run_curation
from schemas.transition import TRANSITION_SCHEMA
from transforms import masking
from transforms.card import dataset_card
from transforms.curate import CurateOptions
from transforms.replay import replay_spans, without_reproduced_values

from tests.transforms.test_replay import _prepared, _with_random_token
from tests.transforms.test_prepare import _two_episodes


def _values(text: str, spans: list[dict]) -> list[str]:
    return [text[span["start"]:span["end"]] for span in spans]


def test_sizes_every_replay_shows_again_are_unmasked_and_a_size_that_moved_is_not():
    text = "52K\tbuild\n296K\tcache\n4.0K\tlogs\n"
    replays = ["52K\tbuild\n296K\tcache\n8.0K\tlogs\n", "52K\tbuild\n296K\tcache\n4.0K\tlogs\n"]
    spans = masking.volatile_spans(text)
    assert _values(text, spans) == ["52K", "296K", "4.0K"]
    kept = without_reproduced_values(spans, text, replay_spans(text, replays))
    assert _values(text, kept) == ["4.0K"]  # one replay of two moved it


def test_time_like_usage_and_rate_spans_stay_masked_when_every_replay_reproduced_them():
    # A replay seconds later reads the same minute, date, load and idle CPU by chance; a rate moves with timing.
    text = ("-rw-r--r-- 1 root root 10 Nov 27 14:54 vault.txt\n2026-11-27\nin 0.50s\n"
            " 14:53:55 up 0 min,  0 users,  load average: 0.00, 0.00, 0.00\n12.0 MiB 1.2 MB/s\n")
    spans = masking.volatile_spans(text)
    assert {span["kind"] for span in spans} == {"timestamp", "date", "duration", "usage", "byte_size"}
    kept = without_reproduced_values(spans, text, replay_spans(text, [text]))
    assert _values(text, kept) == [value for value in _values(text, spans) if value != "12.0 MiB"]


def test_a_replayed_row_unmasks_the_sizes_its_replay_reproduced():
    base = _two_episodes()[:20]
    recorded = _with_random_token(base, b"52K build 4.0K logs")
    for row, again in zip(recorded, _with_random_token(base, b"52K build 8.0K logs")):
        row["replay_observations"] = [again["next_observation"]]
    row = _prepared(recorded).rows[3]
    sizes = [s for s in row["next_volatile_spans"] if s["kind"] == "byte_size"]
    assert _values(row["next_text"], sizes) == ["4.0K"]
    unreplayed = _prepared(_with_random_token(base, b"52K build 4.0K logs")).rows[3]
    assert {"52K", "4.0K"} <= set(_values(unreplayed["next_text"], unreplayed["next_volatile_spans"]))


def test_the_card_names_the_kinds_it_unmasked():
    stats = {"in": 4, "out": 4, "replayed": {"rows": 3, "differs_within_rule_spans": 1, "differs_beyond_rules": 0,
                                             "diverged": 0, "constant_ids_unmasked": 5, "constant_sizes_unmasked": 2}}
    counts = dataset_card(stats, {}, "run").split("## Counts")[1]
    assert "5 id spans (hex_id, uuid) and 2 size spans (byte_size)" in counts


def test_a_curate_run_counts_unmasked_sizes_apart_from_ids(tmp_path):
    base = _two_episodes()[:20]
    recorded = _with_random_token(base, b"52K build 4.0K logs blob 814f4a41")
    for row, again in zip(recorded, _with_random_token(base, b"52K build 8.0K logs blob 814f4a41")):
        row["replay_observations"] = [again["next_observation"]]
    folder = tmp_path / "raw" / "transitions" / "terminal"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(recorded, schema=TRANSITION_SCHEMA), folder / "part-0.parquet")
    stats = run_curation(str(tmp_path / "raw"), str(tmp_path / "out"), CurateOptions(keep_stand_ins=True))
    assert stats["replayed"]["constant_sizes_unmasked"] == 1 and stats["replayed"]["constant_ids_unmasked"] == 1
