"""The host's environment (time zone, locale, umask, home folder, hash seed, working folder) does not reach what
worldline writes, and where it keeps a command from working the command says why in one line."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.host_locale import ERRORS
from tests.pipelines.curation_raw_collection import write_raw_collection

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("transitions", "stage1", "stage2", "stage3", "dead_letter", "dedupe")
# The one value meant to differ between runs is stats.json's settings.run_id, which also names the part files and
# the card's data_files paths.


def _worldline() -> list[str]:
    script = Path(sys.executable).parent / "worldline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipelines.cli"]


def _run(args, env_changes: dict, cwd=ROOT, umask: int | None = None, unset=()) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update(env_changes)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(_worldline() + args, env=env, cwd=cwd, capture_output=True, timeout=300,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def _rows(folder: Path, table: str) -> list[str]:
    files = sorted((folder / table).glob("*.parquet"))
    return sorted(json.dumps(row, default=str, sort_keys=True) for f in files for row in pq.read_table(f).to_pylist())


def _run_neutral(text: str, run_id: str) -> str:
    return text.replace(run_id, "RUN")


def _modes(folder: Path) -> dict:
    return {str(path.relative_to(folder)).split("part-")[0]: stat.S_IMODE(path.stat().st_mode)
            for path in folder.rglob("*")}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    write_raw_collection(root)
    return root


@pytest.fixture(scope="module")
def baseline(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "out"
    result = _run(["curate", "--input", str(raw), "--output", str(out)], {"TZ": "UTC", "LANG": "C.UTF-8"})
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return out


def _assert_same_output(baseline: Path, other: Path):
    for table in TABLES:
        assert _rows(other, table) == _rows(baseline, table), table
    stats = [json.loads((folder / "stats.json").read_text()) for folder in (baseline, other)]
    ids = [each["settings"].pop("run_id") for each in stats]
    assert stats[1] == stats[0]
    cards = [_run_neutral((folder / "README.md").read_text(), run_id) for folder, run_id in zip((baseline, other), ids)]
    assert cards[1] == cards[0]


def test_tokyo_c_locale_umask_077_no_home_elsewhere(raw, baseline, tmp_path):
    """TZ, LANG=C, umask 077, no $HOME, another hash seed, a relative --output from another folder: the same rows,
    stats and card, files with the modes open() gives under that umask, and a summary that prints."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"TZ": "Asia/Tokyo", "LANG": "C", "LC_ALL": "C", "PYTHONHASHSEED": "1"}
    result = _run(["curate", "--input", str(raw), "--output", "../out"], env, cwd=elsewhere, umask=0o077,
                  unset=("HOME", "XDG_CACHE_HOME", "PYTHONIOENCODING"))
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    out = tmp_path / "out"
    _assert_same_output(baseline, out)
    assert set(_modes(out).values()) == {0o600, 0o700}
    assert b"curated -> " in result.stdout and b"Traceback" not in result.stderr
    exports = []
    for folder, mask, cwd in ((baseline, None, ROOT), (out, 0o077, elsewhere)):
        target = tmp_path / f"awb-{len(exports)}"
        done = _run(["export", "agentworldbench", "--input", str(folder), "--out", str(target)], env, cwd=cwd,
                    umask=mask, unset=("HOME",))
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        exports.append({p.name: p.read_bytes() for p in sorted(target.iterdir())})
    assert exports[1] == exports[0] and exports[0]


def test_an_ascii_console_prints_the_summary_of_a_non_ascii_output(raw, baseline, tmp_path):
    """PYTHONIOENCODING=ascii (or any console encoding that lacks a character): the run finished and published,
    then printing its output folder's name raised UnicodeEncodeError: a traceback and exit 1."""
    out = tmp_path / "sortie-é"
    env = {"TZ": "America/Los_Angeles", "PYTHONIOENCODING": "ascii", "PYTHONHASHSEED": "2"}
    result = _run(["curate", "--input", str(raw), "--output", str(out)], env)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert b"\\xe9" in result.stdout and b"Traceback" not in result.stderr  # é escaped, the table after it
    _assert_same_output(baseline, out)


def test_an_argument_the_locale_cannot_decode_is_refused_before_any_work(raw, tmp_path):
    """LC_ALL=C with PYTHONUTF8=0: the path's UTF-8 bytes arrive as lone surrogates, which Beam's coder refused in
    a worker (a traceback, exit 1, a staging folder left in the output)."""
    out = tmp_path / "sortie-é"
    result = _run(["curate", "--input", str(raw), "--output", str(out)],
                  {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}, unset=("PYTHONIOENCODING",))
    assert result.returncode == 2
    lines = result.stderr.decode("utf-8", "replace").splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: the argument ") and "PYTHONUTF8=1" in lines[0], lines
    assert "sortie-\\xc3\\xa9" in lines[0]
    assert not out.exists()


def test_the_console_handler_passes_escaped_bytes_and_escapes_the_rest():
    assert "é\udcc3\udca9…".encode("ascii", ERRORS) == b"\\xe9\xc3\xa9\\u2026"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to run as a uid without "
                    "a passwd entry")
def test_a_user_with_no_home_collects_and_names_a_cache(tmp_path):
    """No $HOME and a uid with no passwd entry (`docker run --user 4242`): Path.home() raises RuntimeError. The
    machine key falls back to a key of the run's own, as a key that cannot be made does, the search corpus asks apt
    with no cache, and the LLM cache module imports when WORLDLINE_CACHE_DIR says where the cache goes; all three
    raised before."""
    probe = ("import os, collectors.host_id as h\n"
             "print(h.machine_id(), h.keyed_id('serial', 'device-'))\n"
             "from sandboxes.search.apt_served import default_cache_file\n"
             "assert default_cache_file() is None\n"
             "os.environ['WORLDLINE_CACHE_DIR'] = '/tmp/wl-cache'\n"
             "from transforms.reasoning.llm import default_cache\n"
             "print(default_cache())\n")
    env = {key: value for key, value in os.environ.items() if key not in ("HOME", "XDG_CONFIG_HOME")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(["setpriv", "--reuid", "4242", "--regid", "4242", "--clear-groups", sys.executable,
                             "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    machine, device, cache = result.stdout.split()
    assert machine.startswith("host-") and device.startswith("device-") and cache == "/tmp/wl-cache/reasoning.sqlite"
    assert "no home folder" in result.stderr and "no other run's will match" in result.stderr


def test_query_reads_times_in_utc_on_every_host(baseline):
    """duckdb used the host's zone for TIMESTAMP WITH TIME ZONE: in Tokyo the same row read 21:00+09:00 and its
    hour, day and date_trunc moved with it."""
    sql = ("SELECT min(action_started_at) AS t, hour(min(action_started_at)) AS h, "
           "CAST(date_trunc('day', min(action_started_at) + INTERVAL 13 HOUR) AS VARCHAR) AS d FROM transitions")
    answers = []
    for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
        result = _run(["query", str(baseline), sql, "--format", "jsonl"], {"TZ": zone})
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        answers.append(json.loads(result.stdout))
    assert answers[0] == {"t": "2026-11-25T12:00:00+00:00", "h": 12, "d": "2026-11-26 00:00:00+00"}
    assert answers[1] == answers[0] and answers[2] == answers[0]


NON_UTF8_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}  # open()'s default encoding: ascii
READ_UTF8_FILES = """
import json, sys
from pathlib import Path
from collectors.store import EpisodeStore
from collectors.tasks import load_tasks
from sandboxes.mcp_server_spec import load_servers
from sandboxes.swe_repos import load_repo_specs
from tests.pipelines.curation_raw_collection import write_episode

folder = Path(sys.argv[1])
tasks = load_tasks(folder / "tasks.yaml")
repos = load_repo_specs(folder / "repos.yaml")
store = EpisodeStore(folder / "raw")
write_episode(store, "ep-1", "t-1", [("ls", "x")], instruction=tasks[0].instruction)
servers = load_servers(folder / "servers.yaml")
print(json.dumps([tasks[0].instruction, repos[0].mutate, store.episodes()[0]["task"]["instruction"],
                  servers["cafe"].description]))
"""


def test_files_worldline_reads_are_utf8_whatever_the_locale(tmp_path):
    """Under a locale whose encoding is not UTF-8 (LANG=ja_JP.eucJP, en_US.ISO-8859-1, C without UTF-8 mode) a task
    file with an 'é' was refused ("not a text file", or ISO-8859-1's "not valid YAML: unacceptable character
    #x0080"), as was a repos file, and the episode JSON the store writes as UTF-8 read back wrong or not at all."""
    instruction = "Affiche le café — 日本語"
    (tmp_path / "tasks.yaml").write_text(
        f'tasks:\n  - id: t\n    instruction: "{instruction}"\n    actions:\n      - [{{keystrokes: "ls\\n"}}]\n',
        encoding="utf-8")
    (tmp_path / "repos.yaml").write_text("repos:\n  - name: cafe\n    path: .\n    mutate: [café.py]\n",
                                         encoding="utf-8")
    (tmp_path / "servers.yaml").write_text(
        f'servers:\n  cafe:\n    description: "{instruction}"\n    command: node\n    args: [server.js]\n',
        encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONIOENCODING"}
    env.update(NON_UTF8_LOCALE, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", READ_UTF8_FILES, str(tmp_path)], env=env, cwd=ROOT,
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == [instruction, ["café.py"], instruction, instruction]
