"""The servers file's hidden-path check (tests/mcp/test_hidden_paths.py) also reads an entry's env values, the
interpreter its command's `#!` line names, and the words of its `sh -c` script and prepare commands: a path there
under /tmp or /dev/shm that exists on this machine is refused when the file is read, naming the file, the entry and
the path. An env value or a script word counts only as a regular file or a folder with something in it (a scratch
folder the server makes for itself, or an empty one, is no loss); nothing that does not exist here is refused."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sandboxes.mcp_sandbox import ServerStartError
from sandboxes.mcp_server_spec import ServerFileError, ServerSpec, load_servers
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT

# A standard-library MCP server, so that a bare venv (no packages) runs it.
SERVER = ROOT / "tests" / "mcp" / "broken_bytes_stdio_server.py"


def load(tmp_path: Path, entry: dict):
    path = tmp_path / "servers.yaml"
    path.write_text(json.dumps({"servers": {"probe": entry}}))
    return path, load_servers(path)["probe"]


def refusal(tmp_path: Path, entry: dict) -> tuple[Path, str]:
    path = tmp_path / "servers.yaml"
    path.write_text(json.dumps({"servers": {"probe": entry}}))
    with pytest.raises(ServerFileError) as error:
        load_servers(path)
    return path, str(error.value)


def script_with_interpreter(folder: Path, interpreter: str) -> Path:
    script = folder / "server"
    script.write_text(f"#!{interpreter}\n" + SERVER.read_text())
    script.chmod(0o755)
    return script


def venv_in(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")], check=True, timeout=120)
    return folder / "venv" / "bin" / "python"


def tools_of(spec: ServerSpec) -> list[str]:
    with ServerConnection(spec, call_timeout_s=30) as conn:
        exchange, error = conn.request("tools/list", {})
    assert error is None, error
    return [tool["name"] for tool in json.loads(exchange.raw(exchange.delivered))["tools"]]


# (a) env values

@pytest.mark.parametrize("base", ["/tmp", "/dev/shm"])
@pytest.mark.parametrize("kind", ["file", "filled folder"])
def test_an_env_value_naming_a_hidden_file_or_filled_folder_is_refused(folder_in, tmp_path, base, kind):
    folder = folder_in(base)
    (folder / "data.json").write_text("{}")
    named = folder / "data.json" if kind == "file" else folder
    path, message = refusal(tmp_path, {"command": "python3", "args": ["-m", "x"], "env": {"DATA": str(named)}})
    assert message.startswith(f"{path} server 'probe': env DATA names {named}, which is on this machine but not in "
                              f"the server's sandbox "), message
    assert f"move it out of {base} " in message and "`read_only`" in message, message


def test_env_values_the_server_may_make_for_itself_are_not_refused(folder_in, tmp_path):
    """A scratch place: an empty folder, a socket, a path not there. What the server writes in its private /tmp
    never reaches the host's, so none of these holds anything it would miss."""
    folder = folder_in("/tmp")
    (folder / "empty").mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "server.sock"))
    try:
        env = {"TMPDIR": str(folder / "empty"), "SOCKET": str(folder / "server.sock"),
               "CACHE": str(folder / "not-there"), "PYTHONPATH": f"{folder}:/usr/lib", "HOME": "/tmp/workspace",
               "NOTES": "{workdir}/notes"}
        _, spec = load(tmp_path, {"command": "python3", "args": ["-m", "x"], "env": env})
    finally:
        listener.close()
    assert spec.env == env


# (b) the interpreter a command's #! line names

def test_a_server_whose_interpreter_is_a_venv_in_tmp_is_refused_at_load_not_at_start(folder_in, tmp_path):
    """End to end: the venv under /tmp is real and runs the server on the host; in the sandbox the kernel finds no
    interpreter. The same script with its venv under /var/tmp loads and answers."""
    interpreter = venv_in(folder_in("/tmp"))
    script = script_with_interpreter(folder_in("/var/tmp"), str(interpreter))
    done = subprocess.run([str(script)], input="", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # it runs here, outside the sandbox
    path, message = refusal(tmp_path, {"command": str(script)})
    assert message.startswith(f"{path} server 'probe': the `#!` line of {script} names {interpreter}, which is on "
                              f"this machine but not in the server's sandbox (the sandbox has a private /tmp of its "
                              f"own), so the server would not find it; move it out of /tmp "), message
    assert "a venv cannot be moved, so make it again there" in message, message
    with pytest.raises(ServerStartError, match="No such file or directory"):
        tools_of(ServerSpec(name="probe", command=str(script)))  # what the entry did before: failed at its start

    moved = script_with_interpreter(folder_in("/var/tmp"), str(venv_in(folder_in("/var/tmp"))))
    _, spec = load(tmp_path, {"command": str(moved)})
    assert "cut" in tools_of(spec)


@pytest.mark.parametrize("line", ["#!{interpreter}", "#! {interpreter} -u", "#!/usr/bin/env {interpreter}",
                                  "#!/usr/bin/env -S {interpreter} -u"])
def test_each_form_of_a_hidden_interpreter_is_refused(folder_in, tmp_path, line):
    hidden = folder_in("/dev/shm") / "python"
    hidden.symlink_to(sys.executable)
    script = folder_in("/var/tmp") / "server"
    script.write_text(line.format(interpreter=hidden) + "\nprint()\n")
    script.chmod(0o755)
    path, message = refusal(tmp_path, {"command": str(script)})
    assert message.startswith(f"{path} server 'probe': the `#!` line of {script} names {hidden}, "), message
    assert "move it out of /dev/shm " in message, message


def test_a_hidden_interpreter_two_scripts_down_is_refused(folder_in, tmp_path):
    hidden = folder_in("/tmp") / "python"
    hidden.symlink_to(sys.executable)
    middle = script_with_interpreter(folder_in("/var/tmp"), str(hidden))
    script = script_with_interpreter(folder_in("/var/tmp"), str(middle))
    path, message = refusal(tmp_path, {"command": str(script)})
    assert message.startswith(f"{path} server 'probe': the `#!` line of {middle} names {hidden}, "), message


def test_interpreters_the_sandbox_finds_are_not_refused(folder_in, tmp_path):
    """An interpreter named by its name (env looks it up on the sandbox's PATH), a system one, or one not there."""
    folder = folder_in("/var/tmp")
    for name, line in (("by-name", "#!/usr/bin/env python3"), ("system", "#!/usr/bin/python3 -u"),
                       ("gone", f"#!{folder_in('/tmp')}/venv/bin/python"), ("plain", "print()")):
        script = folder / name
        script.write_text(line + "\n")
        script.chmod(0o755)
        _, spec = load(tmp_path, {"command": str(script)})
        assert spec.command == str(script)


# (c) shell script text: `sh -c` and prepare commands

@pytest.mark.parametrize("shell,option,script", [
    ("sh", "-c", "exec python3 {path}"),
    ("/bin/bash", "-ec", "cd /srv && python3 '{path}' --quiet | tee out.log"),
    ("bash", "-c", "python3 -m server < {path}"),
])
def test_a_shell_script_naming_a_hidden_file_is_refused(folder_in, tmp_path, shell, option, script):
    data = folder_in("/tmp") / "server.py"
    data.write_text(SERVER.read_text())
    path, message = refusal(tmp_path, {"command": shell, "args": [option, script.format(path=data)]})
    assert message.startswith(f"{path} server 'probe': the {shell} -c script names {data}, which is on this "
                              f"machine but not in the server's sandbox "), message
    assert "name it (or its folder) in `read_only` too" in message, message


def test_a_prepare_command_naming_a_hidden_folder_with_contents_is_refused(folder_in, tmp_path):
    folder = folder_in("/dev/shm")
    (folder / "repo.bundle").write_bytes(b"x")
    path, message = refusal(tmp_path, {"command": "python3", "args": ["-m", "x"],
                                       "prepare": [f"git clone {folder} {{workdir}}/repo"]})
    assert message.startswith(f"{path} server 'probe': prepare names {folder}, "), message


def test_the_shell_remedy_works_and_is_needed(folder_in, tmp_path):
    """The message's remedy: moved to /var/tmp, a script that only the shell text names is not shown until
    `read_only` names it too."""
    script = folder_in("/var/tmp") / "server.py"
    script.write_text(SERVER.read_text())
    entry = {"command": "sh", "args": ["-c", f"exec python3 {script}"]}
    with pytest.raises(ServerStartError, match="can't open file"):
        tools_of(load(tmp_path, entry)[1])
    assert "cut" in tools_of(load(tmp_path, {**entry, "read_only": [str(script)]})[1])


def test_shell_words_that_do_not_name_a_hidden_file_are_not_refused(folder_in, tmp_path):
    folder = folder_in("/tmp")
    (folder / "log").write_text("old")
    (folder / "empty").mkdir()
    script = (f"mkdir -p {folder}/empty && python3 -m server --root={folder} > {folder}/log 2>>{folder}/log; "
              f"echo {folder}/not-there /tmp/workspace/x {{workdir}}/y")
    _, spec = load(tmp_path, {"command": "bash", "args": ["-c", script],
                              "prepare": [f"echo new >| {folder}/log", f"echo 'unclosed {folder}/log"]})
    assert spec.args == ["-c", script]
    # Not a shell's -c: a path in a word of an arg is not looked for (a whole arg naming it is, as before).
    _, spec = load(tmp_path, {"command": "python3", "args": ["-c", f"open('{folder}/log')"]})
    assert spec.command == "python3"
