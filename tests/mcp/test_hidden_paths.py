"""A servers-file entry naming a host path that the server's sandbox does not show (under /tmp, /dev/shm or
/opt/worldline, which the sandbox mounts afresh) is refused when the file is read, naming the file, the entry and the
path: the server used to fail at its start with python's "can't open file". The same script anywhere else the
entry names it (/var/tmp, /run) is shown to the server at that path."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sandboxes.mcp_sandbox import SandboxLayout, ServerStartError
from sandboxes.mcp_server_spec import HIDDEN_FOLDERS, ServerFileError, ServerSpec, load_servers
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

PROBE = ROOT / "tests" / "mcp" / "probe_server.py"


@pytest.fixture
def probe_in(folder_in):
    """A copy of the probe server in a fresh folder under the given host folder: its path."""
    def make(base: str) -> Path:
        folder = folder_in(base)
        shutil.copy(PROBE, folder / "probe_server.py")
        return folder / "probe_server.py"

    return make


def servers_file(folder: Path, entry: dict) -> Path:
    path = folder / "servers.yaml"
    path.write_text(json.dumps({"servers": {"probe": entry}}))
    return path


def entry_naming(key: str, script: Path) -> dict:
    if key == "command":
        return {"command": str(script)}
    if key == "read_only":
        return {"command": "{python}", "args": [str(PROBE)], "read_only": [str(script.parent)]}
    return {"command": "{python}", "args": [str(script)]}


@pytest.mark.parametrize("base", ["/tmp", "/dev/shm"])
@pytest.mark.parametrize("key", ["args", "command", "read_only"])
def test_an_entry_naming_a_hidden_host_path_is_refused_at_load(probe_in, tmp_path, base, key):
    script = probe_in(base)
    named = script.parent if key == "read_only" else script
    path = servers_file(tmp_path, entry_naming(key, script))
    with pytest.raises(ServerFileError) as error:
        load_servers(path)
    message = str(error.value)
    assert message.startswith(f"{path} server 'probe': {key} names {named}, "), message
    assert f"move it out of {base} " in message and "`read_only`" in message, message


def test_what_is_refused_would_not_start(probe_in):
    """The refusal is not over-cautious: built without the load's check, the entry fails at its start, far from
    the cause."""
    script = probe_in("/tmp")
    spec = ServerSpec(name="probe", command="{python}", args=[str(script)])
    with pytest.raises(ServerStartError, match="can't open file"):
        ServerConnection(spec, call_timeout_s=30).__enter__()


def test_collect_stops_before_any_episode_with_one_line(probe_in, tmp_path):
    script = probe_in("/tmp")
    servers = servers_file(tmp_path, entry_naming("args", script))
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(json.dumps([{"id": "who", "instruction": "Who?", "options": {"server": "probe"},
                                  "actions": [{"tool": "whoami", "arguments": {}}]}]))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "mcp", "--servers", str(servers),
                           "--tasks", str(tasks), "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"Error: {servers} server 'probe': args names {script}, "), done.stderr[-2000:]
    assert not list(out.rglob("*.parquet")) and not list(out.rglob("*.jsonl"))


@pytest.mark.parametrize("base", ["/var/tmp", "/run"])
def test_the_same_script_in_a_shown_folder_is_accepted_and_runs(probe_in, tmp_path, base):
    script = probe_in(base)
    spec = load_servers(servers_file(tmp_path, entry_naming("args", script)))["probe"]
    with ServerConnection(spec, call_timeout_s=30) as conn:
        exchange, error = conn.request("tools/call", {"name": "read", "arguments": {"path": str(script)}})
    assert error is None
    assert result_of(exchange)["content"][0]["text"] == PROBE.read_text()


def test_things_that_only_look_like_paths_are_not_refused(folder_in, tmp_path):
    folder = folder_in("/tmp")
    args = ["-m", "mcp_server_time", f"--root={folder}", f"http://127.0.0.1:8000{folder}", "/tmp", "/dev/shm",
            "/tmp/workspace/probe_server.py", "{workdir}/notes", f"{folder}/not-there.py", "/dev/null"]
    spec = load_servers(servers_file(tmp_path, {"command": "python3", "args": args}))["probe"]
    assert spec.args == args


@pytest.mark.parametrize("base", ["/tmp", "/dev/shm", "/var/tmp", "/run"])
def test_the_hidden_folders_are_those_the_sandbox_builder_leaves_out(base):
    """HIDDEN_FOLDERS matches the bwrap arguments: a host file the entry names under one of them is not bound, one
    elsewhere is, at its own place. (/opt/worldline is left out here: this test makes no folder there.)"""
    if not os.access(base, os.W_OK):
        pytest.skip(f"{base} is not writable here")
    with tempfile.NamedTemporaryFile(prefix="wl-hidden-", dir=base) as handle:
        args = SandboxLayout(in_place=[handle.name]).bwrap_args()
    bound = ["--ro-bind", handle.name, handle.name]
    shown = any(args[at:at + 3] == bound for at in range(len(args)))
    assert shown == (base not in HIDDEN_FOLDERS), args
