"""What a server reports about itself (its environment, its interpreter's paths, its command line) names fixed
in-sandbox places, never this machine's checkout or home, so a transition reads the same on every machine; no
server sees the checkout's .git; a venv's console script is refused with the way to run it; a server that spins
the CPU is stopped by its CPU-time cap."""

import json
import os
import re
import shutil
import time

import pytest

from sandboxes import mcp_sandbox, mcp_server_spec, mcp_servers
from sandboxes.bwrap import process_tree
from sandboxes.mcp_sandbox import ServerStartError
from sandboxes.mcp_server_spec import PROJECT_ROOT, SANDBOX_WORKDIR, ServerFileError, server_from_dict
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

PROBE = ROOT / "tests" / "mcp" / "probe_server.py"
# The host paths a leak would show: the checkout (and its venvs) and the home folder (pyenv's Python lives there).
HOST_PATHS = (str(PROJECT_ROOT), str(os.path.expanduser("~")) + "/")


def leaks(text: str) -> list[str]:
    return [path for path in HOST_PATHS if path in text]


def text(exchange) -> str:
    return result_of(exchange)["content"][0]["text"]


@pytest.fixture
def activated_venv(monkeypatch):
    """The collector's PATH as with an activated venv (CI and `source .venv/bin/activate`): a host path a server
    inheriting the environment would report."""
    monkeypatch.setenv("PATH", f"{PROJECT_ROOT}/.venv/bin:{os.environ['PATH']}")
    monkeypatch.setenv("VIRTUAL_ENV", f"{PROJECT_ROOT}/.venv")


def probe_in_workdir(**extra) -> ServerConnection:
    """The probe run from a copy in the working directory (at /tmp/workspace in the sandbox), so its own script
    path names no host folder either."""
    spec = server_from_dict("probe", {"command": "{python}", "args": [f"{SANDBOX_WORKDIR}/probe_server.py"],
                                      **extra}, "test")
    conn = ServerConnection(spec, call_timeout_s=30)
    shutil.copy(PROBE, conn.workdir / "probe_server.py")
    return conn


def test_the_everything_servers_environment_names_no_host_path(servers, activated_venv):
    with ServerConnection(servers["everything"], call_timeout_s=30) as conn:
        exchange, error = conn.request("tools/call", {"name": "get-env", "arguments": {}})
    assert error is None
    reported = text(exchange)
    assert not leaks(reported), reported
    # (PWD is bwrap's, from its --chdir.)
    assert json.loads(reported) == {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp/workspace",
                                    "PWD": "/tmp/workspace", "USER": "mcp-server", "LOGNAME": "mcp-server",
                                    "LANG": "C.UTF-8", "NODE_PATH": "/opt/worldline/node_modules"}


def test_a_python_servers_interpreter_and_environment_name_no_host_path(activated_venv):
    with probe_in_workdir() as conn:
        exchange, error = conn.request("tools/call", {"name": "environment", "arguments": {}})
    assert error is None
    reported = text(exchange)
    assert not leaks(reported), reported
    seen = json.loads(reported)
    assert seen["executable"] == "/opt/worldline/venv/bin/python" and seen["prefix"] == "/opt/worldline/venv"
    assert seen["environ"]["VIRTUAL_ENV"] == "/opt/worldline/venv"
    assert seen["environ"]["PYTHONPATH"] == "/opt/worldline/src" and "/opt/worldline/src" in seen["path"]
    assert seen["environ"]["PATH"] == "/opt/worldline/venv/bin:/usr/local/bin:/usr/bin:/bin"


@pytest.mark.parametrize("name", ["time", "git", "fetch", "memory", "search-world"])
def test_shipped_servers_run_from_fixed_places(servers, activated_venv, name):
    """Seen from the host: the server process's command line and environment (what any tool of it could echo)."""
    with ServerConnection(servers[name], call_timeout_s=30) as conn:
        inner = [pid for pid in process_tree(conn.server_pid()) if not _cmdline(pid).startswith("bwrap")]
        assert inner, "the server process runs inside the sandbox"
        for pid in inner:
            seen = _cmdline(pid) + "\n" + open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
            assert not leaks(seen), seen
            assert "/opt/worldline/" in seen


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_no_server_sees_the_checkout_or_its_git_folder():
    # Every placeholder that shows a server a folder of this machine, at once.
    folders = {f"P_{name.upper()}": "{" + name + "}" for name in mcp_server_spec.FOLDER_PLACEHOLDERS}
    with probe_in_workdir(env=folders) as conn:
        found, error = conn.request("tools/call", {"name": "find", "arguments": {"root": "/", "name": ".git"}})
        assert error is None and result_of(found)["structuredContent"]["result"] == []
        checkout, _ = conn.request("tools/call", {"name": "listdir", "arguments": {"path": str(PROJECT_ROOT)}})
        assert result_of(checkout)["isError"] is True
        shown, _ = conn.request("tools/call", {"name": "listdir", "arguments": {"path": "/opt/worldline"}})
        assert {"venv", "src"} <= set(result_of(shown)["structuredContent"]["result"])


def test_the_root_placeholder_is_refused_at_load():
    with pytest.raises(ServerFileError, match=r"test: bad placeholder in '\{root\}/x.py'.*no checkout"):
        server_from_dict("old", {"command": "node", "args": ["{root}/x.py"]}, "test")


def test_a_venv_console_script_is_refused_with_the_way_to_run_it():
    # Its #! line names the host venv's python, which the sandbox shows at /opt/worldline/mcp-venv instead.
    spec = server_from_dict("script", {"command": "{mcp_venv}/bin/mcp-server-time"}, "test")
    # python3 or python3.11: what the venv's pip wrote depends on which python made the venv.
    with pytest.raises(ServerStartError, match=r"server 'script': '\{mcp_venv\}/bin/mcp-server-time' is a script "
                                               r"whose #! line names /.*/bin/python[0-9.]*, a host path the sandbox "
                                               r"does not show; .*-m MODULE"):
        ServerConnection(spec).__enter__()


def test_a_server_that_spins_the_cpu_is_stopped(monkeypatch):
    # A low cap so the test is quick; a Python server spends about a second of CPU importing before it answers.
    monkeypatch.setattr(mcp_sandbox, "CPU_TIME_LIMIT_S", 5)
    with probe_in_workdir() as conn:
        limits, _ = conn.request("tools/call", {"name": "read", "arguments": {"path": "/proc/self/limits"}})
        assert re.search(r"Max cpu time\s+5\s+5\s", text(limits)), text(limits)
        started = time.monotonic()
        _, error = conn.request("tools/call", {"name": "burn", "arguments": {"seconds": 60}})
        assert error is not None and not isinstance(error, mcp_servers.CallTimeout), error
        # Stopped by the 5 s CPU cap, long before the 60 s burn would end: a wall-clock bound loose enough for a loaded
        # machine (under a load of ~15 on 2 cores the 5 CPU-seconds took 18 s of wall time in one CI run).
        assert time.monotonic() - started < 45
