"""WORLDLINE_HOME: where the MCP servers are installed and found. From a checkout it is the checkout (what `make setup`
has always filled), installed it is the XDG data folder, $WORLDLINE_HOME overrides both; `worldline setup
mcp-servers` and scripts/setup.d/40-mcp-servers.sh install the same pins, and neither installs again what a stamp
says is there (nothing here installs anything: CI's setup has run the script already)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from collectors.mcp import SETUP_SCRIPT, start_failure_headline
from sandboxes import mcp_install
from sandboxes.mcp_server_spec import load_servers, placeholder_values
from schemas.home import PACKAGES_ROOT, is_checkout, worldline_home
from tests.mcp.mcp_helpers import SERVERS_FILE

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "setup.d" / "40-mcp-servers.sh"
# Installed name: checkout folder (pyproject.toml installs the task files as the package worldline_tasks).
INSTALLED = {"schemas": "schemas", "sandboxes": "sandboxes", "collectors": "collectors", "transforms": "transforms",
             "pipelines": "pipelines", "worldline_tasks": "tasks"}


def test_home_is_the_checkout_when_run_from_one():
    assert PACKAGES_ROOT == ROOT and is_checkout(ROOT)
    assert worldline_home({}) == ROOT
    assert worldline_home({"XDG_DATA_HOME": "/elsewhere"}) == ROOT  # make/CI users: nothing moves


def test_home_once_installed_is_the_xdg_data_folder(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    (site / "sandboxes").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert worldline_home({}, root=site) == tmp_path / "user" / ".local" / "share" / "worldline"
    assert worldline_home({"XDG_DATA_HOME": "/data"}, root=site) == Path("/data/worldline")
    # A relative XDG_DATA_HOME is invalid (the XDG spec): ignored, not resolved against the working directory.
    assert worldline_home({"XDG_DATA_HOME": "data"}, root=site) == tmp_path / "user" / ".local" / "share" / "worldline"
    # Another project's source tree that holds worldline's packages is not worldline's checkout.
    (site / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    assert not is_checkout(site)


def test_the_variable_wins_and_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert worldline_home({"WORLDLINE_HOME": "wl"}) == tmp_path / "wl"
    assert worldline_home({"WORLDLINE_HOME": "~/wl"}, root=tmp_path) == tmp_path / "user" / "wl"
    assert worldline_home({"WORLDLINE_HOME": "  "}) == ROOT  # blank is unset


def test_the_host_folders_follow_worldline_home(tmp_path, monkeypatch):
    assert placeholder_values("/w", 0, host=True)["mcp_venv"] == str(ROOT / ".venv-mcp")
    monkeypatch.setenv("WORLDLINE_HOME", str(tmp_path))
    values = placeholder_values("/w", 0, host=True)
    assert (values["mcp_venv"], values["node_modules"], values["cache"]) == (
        str(tmp_path / ".venv-mcp"), str(tmp_path / ".mcp-servers" / "node_modules"), str(tmp_path / ".cache"))
    assert placeholder_values("/w", 0)["mcp_venv"] == "/opt/worldline/mcp-venv"  # the sandbox's side stays


def installed_layout(tmp_path: Path) -> Path:
    """worldline's packages and task files in a folder of their own, without the checkout around them: where
    PROJECT_ROOT points once pip has installed them (site-packages)."""
    site = tmp_path / "site-packages"
    for name, folder in INSTALLED.items():
        shutil.copytree(ROOT / folder, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    return site


def run_installed(site: Path, args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k != "WORLDLINE_HOME"}, "PYTHONPATH": str(site), **env}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_installed_collect_names_the_setup_command_before_any_episode(tmp_path):
    site = installed_layout(tmp_path)
    probe = run_installed(site, ["-c", "from sandboxes.mcp_server_spec import placeholder_values as p; "
                                       "print(p('/w', 0, host=True)['mcp_venv'])"],
                          tmp_path, {"XDG_DATA_HOME": str(tmp_path / "data")})
    assert probe.stdout.strip() == str(tmp_path / "data" / "worldline" / ".venv-mcp"), probe.stderr[-2000:]
    out = tmp_path / "out"
    done = run_installed(site, ["-m", "pipelines.cli", "collect", "mcp", "--server", "time", "--limit", "1",
                                "--out", str(out)], tmp_path, {"XDG_DATA_HOME": str(tmp_path / "data")})
    flat = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr[-3000:]
    assert (f"MCP servers not installed in WORLDLINE_HOME={tmp_path / 'data' / 'worldline'}: 'time' "
            f"({tmp_path / 'data' / 'worldline' / '.venv-mcp'}); run `worldline setup mcp-servers`") in flat, flat
    assert not list(out.glob("episodes/*/*.json"))
    # Pointed at the checkout's servers it starts them: the check looks where the servers are, nothing else.
    done = run_installed(site, ["-m", "pipelines.cli", "collect", "mcp", "--server", "time", "--limit", "1",
                                "--out", str(tmp_path / "out2")], tmp_path, {"WORLDLINE_HOME": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((tmp_path / "out2").glob("episodes/mcp/*.json"))) == 1


def test_a_users_server_on_its_own_paths_needs_no_setup(tmp_path):
    servers = load_servers(SERVERS_FILE)
    empty = tmp_path / "home"
    assert mcp_install.uninstalled([servers["time"], servers["filesystem"]], empty) == {
        "time": str(empty / ".venv-mcp"), "filesystem": str(empty / ".mcp-servers" / "node_modules")}
    own = load_servers(write_servers(tmp_path, {"own": {"command": "/bin/cat"}}))
    assert mcp_install.uninstalled(own.values(), empty) == {}


def write_servers(tmp_path: Path, entries: dict) -> Path:
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump({"servers": entries}))
    return path


def dry_run(argv: list[str], home: Path) -> list[str]:
    env = {**os.environ, "WORLDLINE_HOME": str(home), "VENV": sys.prefix}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def test_the_setup_script_and_the_command_install_the_same_pins(tmp_path):
    home = tmp_path / "home"
    by_script = dry_run(["bash", str(SCRIPT), "--dry-run"], home)
    # The venv's `python`, as the script runs it: the dry run prints the interpreter it makes the venv with.
    by_command = dry_run([str(Path(sys.prefix, "bin", "python")), "-m", "pipelines.cli", "setup", "mcp-servers",
                          "--dry-run"], home)
    assert by_script == by_command
    text = "\n".join(by_command)
    pins = [*mcp_install.PY_SERVERS, *mcp_install.npm_packages(), *mcp_install.READABILITY_PACKAGES]
    assert all(f" {pin}" in text for pin in pins), text
    assert f"{home}/.venv-mcp/bin/pip install" in text and f"--prefix {home}/.mcp-servers" in text
    # The script keeps no version of its own: one written there would install beside the command's, not instead.
    script = SCRIPT.read_text()
    assert not re.search(r"==\d|@\d|\bpip\b|npm install", script), script


def test_what_the_stamps_say_is_installed_is_not_installed_again(tmp_path):
    # The checkout as CI's setup (the script, before this module existed too) left it: nothing to do.
    assert mcp_install.plan(ROOT) == []
    home = tmp_path / "home"
    venv = home / ".venv-mcp"
    javascript = mcp_install.readability_folder(venv)
    (javascript / "node_modules").mkdir(parents=True)
    (javascript / "package.json").write_text("{}")
    (venv / mcp_install.venv_stamp_name()).touch()
    for name in mcp_install.NPM_SERVERS:
        package = home / ".mcp-servers" / "node_modules" / "@modelcontextprotocol" / name / "package.json"
        package.parent.mkdir(parents=True)
        package.write_text(json.dumps({"version": mcp_install.NPM_VERSION}))
    assert mcp_install.plan(home) == []
    package.write_text(json.dumps({"version": "2025.1.1"}))  # one npm server at another version
    (javascript / "node_modules").rmdir()
    assert [step.what for step in mcp_install.plan(home)] == ["the npm servers",
                                                               "mcp-server-fetch's readabilipy JavaScript"]
    (venv / mcp_install.venv_stamp_name()).unlink()  # the PyPI pins changed: a new stamp name
    assert [step.what for step in mcp_install.plan(home)][:3] == ["the PyPI servers' venv", "pip", "the PyPI servers"]


def test_a_start_failure_of_a_shipped_server_names_the_command():
    message = "server 'time' did not start: MCPError: Connection closed; stderr: ModuleNotFoundError: No module x"
    headline = start_failure_headline(message, shipped=True)
    assert "`worldline setup mcp-servers`" in headline and SETUP_SCRIPT in headline
