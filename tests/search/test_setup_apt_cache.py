"""`worldline setup mcp-servers` leaves apt's answer for the search-packages server in WORLDLINE_HOME/.cache, the
{cache} its sandbox shows read-only, so a sandboxed start builds its corpus without running apt-cache (about 0.9 s
a start). apt-cache's runs are counted through a wrapper script first on PATH, on the host as in
tests/search/test_served_cache.py and, for the server, in its own working directory (the one place it writes).
Each test has a WORLDLINE_HOME of its own: what CI's setup left in the checkout plays no part, whatever ran first."""

import dataclasses
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from sandboxes import mcp_install
from sandboxes.mcp_server_spec import load_servers
from sandboxes.mcp_servers import ServerConnection
from sandboxes.search import apt_served
from tests.mcp.mcp_helpers import SERVERS_FILE, result_of

APT_README = "debian/apt/README.md"  # a Debian page: it needs apt's answer (tests/search/test_packages_server_sandbox.py)
CALLS = "apt-cache.calls"

pytestmark = [
    pytest.mark.skipif(not (shutil.which("apt-cache") and any(apt_served.APT_LISTS.glob("*Packages*"))),
                       reason="needs apt-cache and apt lists (apt-get update; CI runs it)"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (CI's setup installs it)"),
]


def installed_home(home):
    """A WORLDLINE_HOME whose stamps say the servers are installed (as mcp_install.plan reads them): the command
    then installs nothing and goes on to the cache. search-packages runs worldline's own Python, none of these."""
    venv = home / ".venv-mcp"
    (mcp_install.readability_folder(venv) / "node_modules").mkdir(parents=True)
    (venv / mcp_install.venv_stamp_name()).touch()
    for name in mcp_install.NPM_SERVERS:
        package = home / ".mcp-servers" / "node_modules" / mcp_install.NPM_SCOPE / name / "package.json"
        package.parent.mkdir(parents=True)
        package.write_text(json.dumps({"version": mcp_install.NPM_VERSION}))
    assert mcp_install.plan(home) == []
    return home


@pytest.fixture
def host_apt_calls(tmp_path):
    """PATH with apt-cache wrapped, and the number of its runs so far."""
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / CALLS
    log.write_text("")
    wrapper = shim / "apt-cache"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {shutil.which("apt-cache")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return f"{shim}:{os.environ['PATH']}", lambda: len(log.read_text().splitlines())


def setup_command(home, path):
    env = {**os.environ, "WORLDLINE_HOME": str(home), "PATH": path}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "setup", "mcp-servers"], env=env,
                          capture_output=True, text=True, timeout=300)


def sandboxed_start(home, monkeypatch):
    """The shipped search-packages entry started as the collector starts it, under WORLDLINE_HOME=`home`, with
    apt-cache wrapped inside its sandbox: its apt-cache runs, and the pages a search for apt's tools finds."""
    monkeypatch.setenv("WORLDLINE_HOME", str(home))
    shipped = load_servers(SERVERS_FILE)["search-packages"]
    apt_cache = shutil.which("apt-cache", path="/usr/local/bin:/usr/bin:/bin")
    wrapper = f'#!/bin/sh\\necho "$*" >> {{workdir}}/{CALLS}\\nexec {apt_cache} "$@"\\n'
    spec = dataclasses.replace(
        shipped, env={**shipped.env, "PATH": "{workdir}/shim:/usr/local/bin:/usr/bin:/bin"},
        prepare=[*shipped.prepare, f"mkdir {{workdir}}/shim && printf '{wrapper}' > {{workdir}}/shim/apt-cache "
                                   f"&& chmod +x {{workdir}}/shim/apt-cache && : > {{workdir}}/{CALLS}"])
    with ServerConnection(spec, call_timeout_s=30) as conn:
        found, error = conn.request("tools/call", {"name": "search", "arguments": {
            "query": "apt-ftparchive apt-sortpkgs apt-extracttemplates", "limit": 5}})
        assert error is None, error
        # The corpus is built before the server answers: every apt-cache run of the start is logged by now.
        calls = (conn.workdir / CALLS).read_text().splitlines()
        return calls, [hit["page_id"] for hit in result_of(found)["structuredContent"]["results"]], conn.stderr()


def test_the_setup_command_caches_apt_for_the_current_state_and_asks_apt_once(tmp_path, host_apt_calls):
    home = installed_home(tmp_path / "home")
    path, calls = host_apt_calls
    done = setup_command(home, path)
    assert done.returncode == 0, done.stderr[-2000:]
    cache = home / ".cache" / "apt-served.json"
    assert f"cached in {cache}" in done.stderr, done.stderr[-2000:]
    data = json.loads(cache.read_text())
    assert data["state"] == apt_served.apt_state() and any(data["answers"].values()), data
    assert calls() == 1
    # Run again with apt as it was: the cache's own key check answers, apt is not asked.
    done = setup_command(home, path)
    assert done.returncode == 0 and "already installed" in done.stderr, done.stderr[-2000:]
    assert calls() == 1


def test_a_sandboxed_start_reads_the_cache_the_setup_left_and_runs_no_apt_cache(tmp_path, monkeypatch):
    # Without the cache (a home the setup never filled) the server asks apt: the wrapper is the one it runs.
    calls, hits, stderr = sandboxed_start(tmp_path / "bare", monkeypatch)
    assert len(calls) == 1 and calls[0].startswith("policy "), (calls, stderr[-1500:])
    assert APT_README in hits, (hits, stderr[-1500:])

    home = tmp_path / "home"
    cache, said = mcp_install.fill_apt_cache(home)
    assert cache == home / ".cache" / "apt-served.json", said
    calls, hits, stderr = sandboxed_start(home, monkeypatch)
    assert calls == [], f"search-packages ran apt-cache {calls} with {cache} filled: {stderr[-1500:]}"
    assert APT_README in hits, (hits, stderr[-1500:])  # the Debian pages, from the cached answer
