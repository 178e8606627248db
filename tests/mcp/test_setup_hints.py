"""A shipped server that cannot start because something was never installed says what to run: `worldline setup
mcp-servers` (an installed worldline has no scripts/setup.d), and bubblewrap, which that command cannot install,
by its apt package. The collector's headline then adds no second hint."""

import os
import sys

import pytest

from collectors.mcp import start_failure_headline
from sandboxes.mcp_install import SETUP_COMMAND
from sandboxes.mcp_sandbox import SandboxLayout, ServerStartError, sandboxed
from sandboxes.mcp_server_spec import ServerSpec
from sandboxes.mcp_servers import ServerConnection

TIME_SERVER = ServerSpec(name="time", command="{mcp_venv}/bin/python", args=["-m", "mcp_server_time"], shipped=True)


def start_error(home, monkeypatch) -> str:
    monkeypatch.setenv("WORLDLINE_HOME", str(home))
    with pytest.raises(ServerStartError) as raised:
        with ServerConnection(TIME_SERVER):
            pass
    return str(raised.value)


def test_a_venv_never_installed_names_the_command(tmp_path, monkeypatch):
    message = start_error(tmp_path / "home", monkeypatch)
    assert message.endswith(f"is not an executable on PATH (run `{SETUP_COMMAND}`)"), message
    assert "scripts/setup.d" not in message and start_failure_headline(message).count(SETUP_COMMAND) == 1


def test_a_venv_without_its_pyvenv_cfg_names_the_command(tmp_path, monkeypatch):
    python = tmp_path / "home" / ".venv-mcp" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)  # an executable there, in a folder no venv command made
    message = start_error(tmp_path / "home", monkeypatch)
    assert f"{python.parent.parent} is not a venv" in message and f"run `{SETUP_COMMAND}`" in message, message
    assert "WORLDLINE_HOME" in message and start_failure_headline(message).count(SETUP_COMMAND) == 1


def test_no_bubblewrap_names_its_package_and_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    with pytest.raises(ServerStartError) as raised:
        sandboxed(["true"], str(tmp_path), False, SandboxLayout(env={"PATH": os.defpath}))
    message = str(raised.value)
    assert message == (f"bubblewrap (bwrap) is not installed; run `apt-get install -y bubblewrap`, then "
                       f"`{SETUP_COMMAND}`"), message
    assert start_failure_headline(message).count(SETUP_COMMAND) == 1
