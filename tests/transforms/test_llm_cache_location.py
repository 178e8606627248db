"""Where `--reasoning llm` keeps its cache when --llm-cache is not given, and the one line a run prints when that place
cannot hold it: a home folder on a read-only disk, or no home folder at all. Both lines say to pass --llm-cache or set
WORLDLINE_CACHE_DIR. No call reaches an endpoint: the cache is opened before the first."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipelines.curation_raw_collection import write_raw_collection
from transforms.reasoning.llm import LLMCacheError, LLMSynthesizer, default_cache

ROOT = Path(__file__).resolve().parents[2]
DEAD_ENDPOINT = "http://127.0.0.1:9/v1"
ADVICE = "pass --llm-cache PATH or set WORLDLINE_CACHE_DIR"
LLM_RUN = ["--reasoning", "llm", "--llm-model", "m", "--llm-endpoint", DEAD_ENDPOINT, "--no-llm-check"]
_ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a uid without a passwd entry, a mount)")


def _worldline() -> list[str]:
    script = Path(sys.executable).parent / "worldline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipelines.cli"]


def _env(**changes) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "WORLDLINE_CACHE_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(changes)
    return env


def test_the_default_is_under_worldline_cache_dir_else_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLDLINE_CACHE_DIR", str(tmp_path))
    assert default_cache() == tmp_path / "reasoning.sqlite"
    monkeypatch.setenv("WORLDLINE_CACHE_DIR", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache() == tmp_path / "home" / ".cache" / "worldline" / "reasoning.sqlite"


def test_a_cache_that_cannot_be_made_names_the_file_and_where_else_it_may_go(tmp_path):
    (tmp_path / "a-file").write_text("")
    cache = tmp_path / "a-file" / "reasoning.sqlite"
    with pytest.raises(LLMCacheError) as caught:
        LLMSynthesizer(model="m", base_url=DEAD_ENDPOINT, cache_path=cache).traces([{"id": "r1"}])
    assert str(caught.value) == f"cannot write the LLM cache {cache}: [Errno 17] File exists: {ADVICE} to a " \
                                "folder worldline may write"


@_ROOT_ONLY
@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv")
def test_with_no_home_the_module_imports_and_a_run_says_to_pass_llm_cache(tmp_path):
    """No $HOME and a uid with no passwd entry (`docker run --user 4242`): importing the module raised RuntimeError
    (its default was computed at import), and a run stopped in a 44-line traceback."""
    as_nobody = ["setpriv", "--reuid", "4242", "--regid", "4242", "--clear-groups"]
    probe = ("from transforms.reasoning.llm import LLMCacheError, LLMSynthesizer\n"
             "try:\n"
             "    LLMSynthesizer(model='m', base_url='http://127.0.0.1:9/v1').traces([{'id': 'r1'}])\n"
             "except LLMCacheError as exc:\n"
             "    print(exc)\n")
    imported = subprocess.run([*as_nobody, sys.executable, "-c", probe], env=_env(), cwd="/", capture_output=True,
                              text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert "with no home folder there is no default place for it" in imported.stdout and ADVICE in imported.stdout

    out = tmp_path / "out"
    result = subprocess.run([*as_nobody, *_worldline(), "curate", "--input", str(tmp_path / "raw"), "--output",
                             str(out), *LLM_RUN], env=_env(), cwd="/", capture_output=True, text=True, timeout=120)
    # Refused before any work: the input is not read (this user could not), nothing is made.
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines() == [
        "Error: --reasoning llm caches its traces in a file, and with no home folder there is no default place for "
        f"it: {ADVICE} to a folder worldline may write"]
    assert not out.exists()


@_ROOT_ONLY
@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare for a private read-only mount")
@pytest.mark.parametrize("cache_folder_made", [False, True], ids=["no-cache-folder", "cache-folder-made"])
def test_a_read_only_home_says_where_else_the_cache_may_go(tmp_path, cache_folder_made):
    """A home folder on a read-only disk: the run stopped with the disk's own advice ("remount that disk
    read-write") where it could not make ~/.cache, and in a 205-line traceback (sqlite's "unable to open database
    file") where ~/.cache/worldline was there already."""
    home, raw, out = tmp_path / "home", tmp_path / "raw", tmp_path / "out"
    (home / ".cache" / "worldline" if cache_folder_made else home).mkdir(parents=True)
    write_raw_collection(raw)
    command = " ".join(_worldline() + ["curate", "--input", str(raw), "--output", str(out), *LLM_RUN])
    mounted = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind -o ro {home} {home} && exec {command}"],
                             env=_env(HOME=str(home)), cwd=ROOT, capture_output=True, text=True, timeout=300)
    if "mount:" in mounted.stderr or "unshare:" in mounted.stderr:
        pytest.skip(f"no private read-only mount here: {mounted.stderr.strip()}")
    reason = "unable to open database file" if cache_folder_made else "Read-only file system"
    cache = home / ".cache" / "worldline" / "reasoning.sqlite"
    assert mounted.returncode == 1, mounted.stderr[-3000:]
    assert mounted.stderr.splitlines()[1:] == [
        f"Error: cannot write the LLM cache {cache}: {reason}: {ADVICE} to a folder worldline may write; nothing "
        "was published."], mounted.stderr[-3000:]
