"""An end-to-end curation run over a raw collection written by collectors.store.EpisodeStore."""

import json
import os
import subprocess
import sys

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.curate import OUTPUT_SCHEMAS, run_curation
from pipelines.output_folder import OutputExistsError
from schemas.stages import STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from transforms.curate import CurateOptions
from transforms.dedupe import NearDupOptions


def rows(folder, name):
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}/*.parquet')").to_arrow_table().to_pylist()


def test_totals_add_up_overall_and_per_domain(curated, raw_collection):
    out, expected, _ = curated
    stats = json.loads((out / "stats.json").read_text())
    assert stats["in"] == expected["records_in"]
    assert stats["in"] == stats["out"] + stats["dead_lettered"] + stats["deduped"]
    assert stats["settings"]["near_dup"]["partitions"] == 5  # --dedupe-partitions reaches the pipeline
    # The card is published with the shards: it names the input by its folder only, not where it was on disk.
    raw = raw_collection[0]
    assert stats["settings"]["input"] == raw.name
    assert str(raw.parent) not in (out / "stats.json").read_text() + (out / "README.md").read_text()
    assert stats["balanced"] and all(d["balanced"] for d in stats["domains"].values())
    # The counters agree with what is on disk.
    assert stats["out"] == len(rows(out, "transitions"))
    assert stats["dead_lettered"] == len(rows(out, "dead_letter"))
    assert stats["deduped"] == len(rows(out, "dedupe"))
    assert stats["domains"]["web"] == {"in": 2, "out": 2, "dead_lettered": 0, "deduped": 0, "deduped_exact": 0,
                                       "deduped_near": 0, "balanced": True}


def test_wrong_field_is_dead_lettered_with_its_reason(curated):
    out, expected, _ = curated
    letters = {row["record_id"]: row for row in rows(out, "dead_letter")}
    wrong = letters[expected["wrong_field"]]
    assert wrong["stage"] == "validate" and "step" in wrong["reason"] and "'three'" in wrong["reason"]
    assert json.loads(wrong["record_json"])["episode_id"] == "json-b"
    assert letters[expected["bad_line"]]["stage"] == "read"
    failed = letters[expected["normalize_failure"]]
    assert failed["stage"] == "normalize" and "no-such-format" in failed["reason"]
    assert set(letters) == {expected["wrong_field"], expected["bad_line"], expected["normalize_failure"]}


def test_duplicates_are_listed_with_the_id_they_duplicate(curated):
    out, expected, _ = curated
    listed = {row["id"]: (row["kind"], row["duplicate_of"]) for row in rows(out, "dedupe")}
    assert listed == {**{k: ("exact", v) for k, v in expected["exact"].items()},
                      **{k: ("near", v) for k, v in expected["near"].items()}}
    kept = {row["id"] for row in rows(out, "transitions")}
    assert not kept & set(listed) and {v for _, v in listed.values()} <= kept
    assert "term-c:2" in kept  # same screen as term-a:2 but another command


def test_observation_is_kept_and_volatile_spans_point_into_it(curated):
    out, _, _ = curated
    row = next(r for r in rows(out, "transitions") if r["id"] == "term-a:0")
    assert row["next_text"] == "Wed Nov 25 12:00:01 UTC 2026\npid 4312"
    assert [(row["next_text"][s["start"]:s["end"]], s["kind"]) for s in row["next_volatile_spans"]] == [
        ("Wed Nov 25 12:00:01 UTC 2026", "timestamp"), ("4312", "pid")]
    assert len(row["content_hash"]) == 16


def test_three_stages_cover_every_kept_transition(curated):
    out, _, _ = curated
    kept = sorted(row["id"] for row in rows(out, "transitions"))
    for name, schema in (("stage1", STAGE1_SCHEMA), ("stage2", STAGE2_SCHEMA), ("stage3", STAGE3_SCHEMA)):
        shards = sorted((out / name).glob("*.parquet"))
        assert shards and all(pq.read_schema(s).names == schema.names for s in shards)
        assert pq.ParquetFile(shards[0]).metadata.row_group(0).column(0).compression == "ZSTD"
        assert sorted(row["id"] for row in rows(out, name)) == kept
    second = next(r for r in rows(out, "stage2") if r["id"] == "web-a:1")
    assert "[a1] link 'Home'" in json.dumps(second["messages"])  # history window from the same episode


def test_command_prints_counts_and_card_has_configs(curated):
    out, expected, stdout = curated
    assert "terminal" in stdout and str(expected["records_in"]) in stdout
    card = (out / "README.md").read_text()
    for name in ("stage1", "stage2", "stage3"):
        run_id = json.loads((out / "stats.json").read_text())["settings"]["run_id"]
        assert f"config_name: {name}" in card and f"path: {name}/part-{run_id}-*.parquet" in card
        assert list((out / name).glob(f"part-{run_id}-*.parquet"))


def test_existing_output_is_not_mixed_with_a_new_run(curated, raw_collection):
    out, _, _ = curated
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run_curation(str(raw_collection[0]), str(out))
    assert set(OUTPUT_SCHEMAS) <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize("mode", ["multi_processing", "multi_threading"])
def test_parallel_workers_give_the_same_result(curated, raw_collection, tmp_path, mode):
    """Two FnApiRunner workers, as processes (the default for big inputs) or threads: counts merge across workers
    and the kept rows do not depend on which worker saw which record."""
    out, _, _ = curated
    stats = run_curation(str(raw_collection[0]), str(tmp_path / mode),
                         beam_args=["--direct_num_workers=2", f"--direct_running_mode={mode}"])
    assert stats == {k: v for k, v in json.loads((out / "stats.json").read_text()).items() if k != "settings"}
    by_id = lambda table: sorted(table, key=lambda row: row["id"])  # noqa: E731
    assert by_id(rows(tmp_path / mode, "transitions")) == by_id(rows(out, "transitions"))


def test_big_local_inputs_get_a_worker_process_per_core_unless_workers_are_chosen():
    from apache_beam.options.pipeline_options import DirectOptions

    from pipelines.curate import MULTIPROCESS_INPUT_BYTES, local_workers, pipeline_options, usable_cores

    def direct(beam_args, input_bytes):
        options = pipeline_options(beam_args, input_bytes).view_as(DirectOptions)
        return options.direct_num_workers, options.direct_running_mode

    assert local_workers(MULTIPROCESS_INPUT_BYTES - 1, 8) == (1, "in_memory")
    assert local_workers(MULTIPROCESS_INPUT_BYTES, 8) == (8, "multi_processing")
    assert local_workers(MULTIPROCESS_INPUT_BYTES, 1) == (1, "in_memory")
    default = direct([], 0)
    assert direct([], MULTIPROCESS_INPUT_BYTES - 1) == default and default[1] != "multi_processing"
    chosen = direct(["--direct_num_workers=1"], MULTIPROCESS_INPUT_BYTES)
    assert chosen[0] == 1 and chosen[1] != "multi_processing"
    cores = usable_cores()
    assert direct([], MULTIPROCESS_INPUT_BYTES) == ((cores, "multi_processing") if cores > 1 else default)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a process allowed on two cores or more")
def test_a_process_allowed_on_one_core_gets_one_in_process_worker_whatever_the_machine_has():
    # In a child, so that the test process keeps its cores; the machine's own core count (os.cpu_count) is 2+.
    script = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
              "from apache_beam.options.pipeline_options import DirectOptions; "
              "from pipelines.curate import MULTIPROCESS_INPUT_BYTES, pipeline_options; "
              "direct = pipeline_options([], MULTIPROCESS_INPUT_BYTES).view_as(DirectOptions); "
              "print(direct.direct_num_workers, direct.direct_running_mode)")
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert child.stdout.split()[-2:] == ["1", "in_memory"]


def test_worker_threads_are_warned_against(caplog):
    from pipelines.curate import pipeline_options

    pipeline_options(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    pipeline_options(["--direct_num_workers=1", "--direct_running_mode=multi_threading"])
    assert "multi_threading" not in caplog.text
    pipeline_options(["--direct_num_workers=2", "--direct_running_mode=multi_threading"])
    assert "apache/beam#23944" in caplog.text and "multi_processing" in caplog.text


def test_construction_keeps_beams_type_checking():
    """Turning it off saved ~0.15 CPU s a run, but two-thread runs of 100k transitions then failed 3 times in 23
    (decoding shuffled data), against 32 of 32 passing with it on (docs/performance.md)."""
    from apache_beam.options.pipeline_options import TypeOptions

    from pipelines.curate import pipeline_options

    for beam_args in ([], ["--runner=DataflowRunner"], ["--direct_num_workers=2"]):
        assert pipeline_options(beam_args).view_as(TypeOptions).pipeline_type_check is True


def test_dedupe_partitions_grow_with_the_input_so_one_partition_stays_bounded():
    from pipelines.curate import MAX_PARTITIONS, PARTITION_INPUT_BYTES, scaled_partitions

    default = CurateOptions()
    assert scaled_partitions(default, 0) is default
    assert scaled_partitions(default, 16 * PARTITION_INPUT_BYTES) is default
    assert scaled_partitions(default, 40 * PARTITION_INPUT_BYTES + 1).near_dup.partitions == 41
    assert scaled_partitions(default, 10**9 * PARTITION_INPUT_BYTES).near_dup.partitions == MAX_PARTITIONS
    chosen = CurateOptions(near_dup=NearDupOptions(partitions=100))
    assert scaled_partitions(chosen, 40 * PARTITION_INPUT_BYTES).near_dup.partitions == 100


def test_a_packed_collection_curates_to_the_same_result(curated, raw_collection, tmp_path):
    """After `worldline pack` (several episodes per file and per row group), and with the dedupe keys split over
    another number of partitions, every count, every kept id and every dedupe decision is what the per-episode
    files gave."""
    import shutil

    from collectors.pack import pack_collection

    out, _, _ = curated
    packed = tmp_path / "raw"
    shutil.copytree(raw_collection[0], packed)
    assert pack_collection(packed, rows_per_group=4).episodes_packed == 5
    options = CurateOptions(near_dup=NearDupOptions(partitions=3))
    stats = run_curation(str(packed), str(tmp_path / "out"), options)
    assert stats == {k: v for k, v in json.loads((out / "stats.json").read_text()).items() if k != "settings"}
    for name, key in (("transitions", "id"), ("dedupe", "id"), ("dead_letter", "record_id"), ("stage2", "id")):
        # An unreadable line is named by its file's path, which differs between the two copies.
        def names(folder):
            return sorted(r[key].rsplit("/", 1)[-1] for r in rows(folder, name))
        assert names(tmp_path / "out") == names(out), name
    assert rows(tmp_path / "out", "dedupe") and sorted(
        (r["id"], r["duplicate_of"]) for r in rows(tmp_path / "out", "dedupe")) == sorted(
        (r["id"], r["duplicate_of"]) for r in rows(out, "dedupe"))


def test_raw_files_of_both_formats_are_listed_and_hidden_ones_left_out(tmp_path):
    from pathlib import Path

    from transforms.curate import raw_file_paths

    folder = tmp_path / "transitions" / "terminal" / "2026-11-25"
    folder.mkdir(parents=True)
    for name in ("a.parquet", "b.jsonl", ".c.parquet", ".d.jsonl.tmp", "e.txt"):
        (folder / name).write_bytes(b"")
    (tmp_path / "transitions" / "top.parquet").write_bytes(b"")
    listed = raw_file_paths(b"", str(tmp_path))
    assert sorted(Path(path).name for path in listed) == ["a.parquet", "b.jsonl", "top.parquet"]


def test_an_empty_collection_still_gets_every_table_and_zero_counts(tmp_path):
    """Parts are committed once the run ends even when no step wrote any: every output folder has its table."""
    (tmp_path / "raw" / "transitions").mkdir(parents=True)
    stats = run_curation(str(tmp_path / "raw"), str(tmp_path / "out"))
    assert (stats["in"], stats["out"]) == (0, 0)
    for name, schema in OUTPUT_SCHEMAS.items():
        [shard] = (tmp_path / "out" / name).glob("*.parquet")
        table = pq.read_table(shard)
        assert table.num_rows == 0 and table.schema.names == schema.names, name
