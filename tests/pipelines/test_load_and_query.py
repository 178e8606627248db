"""The curated folder loads with `datasets` offline and answers SQL through the query views."""

import os
import shutil
import subprocess
import sys

import pytest

from pipelines.views import connect, view_sources


def test_load_dataset_offline_per_stage(curated):
    out, _, _ = curated
    code = ("import sys, datasets\n"
            "for name in ('stage1', 'stage2', 'stage3'):\n"
            "    print(name, datasets.load_dataset(sys.argv[1], name)['train'].num_rows)\n")
    # A fresh process: the offline switches are read when `datasets` is imported.
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(out.parent / "hf-home")}
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    kept = connect(out).execute("SELECT count(*) FROM transitions").fetchone()[0]
    assert result.stdout.split() == ["stage1", str(kept), "stage2", str(kept), "stage3", str(kept)]


def test_a_recurated_folder_loads_its_new_rows_not_the_cached_ones(raw_collection, tmp_path):
    """`datasets` caches a local folder by its config's file patterns: the card names each run's shards, so the
    second load after re-curating into the same folder reads the new rows."""
    import shutil

    from pipelines.curate import run_curation

    raw, _ = raw_collection
    smaller = tmp_path / "raw"
    shutil.copytree(raw, smaller)
    for path in (smaller / "transitions" / "terminal").glob("term-[bc].parquet"):
        path.unlink()
    out = tmp_path / "out"
    code = "import sys, datasets\nprint(datasets.load_dataset(sys.argv[1], 'stage2')['train'].num_rows)\n"
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}
    counts = []
    for source in (raw, smaller):
        stats = run_curation(str(source), str(out), overwrite=True)
        result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env,
                                timeout=180)
        assert result.returncode == 0, result.stderr[-2000:]
        counts.append((int(result.stdout.split()[-1]), stats["out"]))
    assert counts[0][0] == counts[0][1] and counts[1][0] == counts[1][1] and counts[0][0] != counts[1][0]


def test_curated_views(curated):
    out, expected, _ = curated
    assert set(view_sources(out)) == {"transitions", "stage1", "stage2", "stage3", "dedupe", "dead_letter"}
    connection = connect(out)
    joined = connection.execute("SELECT d.id, t.id FROM dedupe d JOIN transitions t ON d.duplicate_of = t.id "
                                "ORDER BY d.id").fetchall()
    assert dict(joined) == {**expected["exact"], **expected["near"]}
    assert connection.execute("SELECT stage FROM dead_letter WHERE record_id = ?",
                              [expected["wrong_field"]]).fetchone() == ("validate",)


def test_raw_views(raw_collection):
    raw, _ = raw_collection
    connection = connect(raw)
    assert set(view_sources(raw)) == {"raw_transitions", "episodes"}
    assert connection.execute("SELECT count(*) FROM raw_transitions").fetchone() == (12,)
    assert connection.execute("SELECT count(*), sum(steps) FROM episodes").fetchone() == (5, 12)


def test_query_command_prints_a_table(curated):
    out, _, _ = curated
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(out),
                             "SELECT domain, count(*) AS n FROM transitions GROUP BY domain ORDER BY domain"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "domain" in result.stdout and "terminal" in result.stdout and "│ 2 " in result.stdout


def test_query_errors_are_one_line_not_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(tmp_path), "SELECT 1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "neither curated shards" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_query_naming_no_view_lists_the_folders_views(raw_collection):
    raw, _ = raw_collection
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(raw), "SELECT * FROM transitions"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Views in {raw}: raw_transitions, episodes" in result.stderr


def test_a_broken_episode_file_costs_its_view_only(raw_collection, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(raw_collection[0], raw)
    (raw / "episodes" / "terminal" / "broken.json").write_text('{"episode_id": ')
    query = [sys.executable, "-m", "pipelines.cli", "query", str(raw)]
    counted = subprocess.run([*query, "SELECT count(*) AS n FROM raw_transitions"], capture_output=True, text=True,
                             timeout=120)
    assert counted.returncode == 0 and "│ 12 " in counted.stdout, counted.stderr
    assert "Warning: no view episodes: " in counted.stderr and "broken.json" in counted.stderr
    missing = subprocess.run([*query, "SELECT * FROM episodes"], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and f"Views in {raw}: raw_transitions\n" in missing.stderr


def test_a_folder_without_stats_json_is_read_with_a_warning(curated, tmp_path):
    killed = tmp_path / "killed"
    shutil.copytree(curated[0], killed)
    query = [sys.executable, "-m", "pipelines.cli", "query", str(killed), "SELECT count(*) FROM stage1"]
    export = [sys.executable, "-m", "pipelines.cli", "export", "atif", "--input", str(killed), "--out",
              str(tmp_path / "atif"), "--overwrite"]  # the second run replaces the first one's export
    for command in (query, export):
        finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0 and "Warning" not in finished.stderr, finished.stderr
    (killed / "stats.json").unlink()
    for command in (query, export):
        unfinished = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert unfinished.returncode == 0 and "has no stats.json: the curation run that wrote it did not finish" in \
            unfinished.stderr, unfinished.stderr


def test_connect_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        connect(tmp_path / "nope")


def test_curate_refuses_bad_options_before_running(raw_collection, tmp_path):
    raw, _ = raw_collection
    cases = [(["--reasoning", "llm"], "--llm-model"),
             (["--reasoning", "gpt"], "'gpt' is not one of 'grounded', 'llm'"),
             (["--reasoning", "llm", "--llm-model", "m", "--llm-endpoint", "http://127.0.0.1:9/v1"],
              "cannot reach http://127.0.0.1:9/v1"),
             (["--lsh-bands", "100", "--lsh-rows", "4"], "bands x rows"),
             ([], "not a raw collection")]
    for extra, message in cases:
        source = str(tmp_path / "missing") if not extra else str(raw)
        result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", source,
                                 "--output", str(tmp_path / "out"), *extra], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode != 0 and message in result.stderr, (extra, result.stderr[-500:])
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "out" / "stage1").exists()
