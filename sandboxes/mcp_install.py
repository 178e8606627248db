"""The shipped MCP servers, pinned, and their installation into WORLDLINE_HOME (schemas.home): the PyPI servers in a
venv of their own (.venv-mcp/: their dependencies may clash with worldline's), the npm reference servers under
.mcp-servers/, and the JavaScript packages mcp-server-fetch's readabilipy would otherwise `npm install` at first use,
which fails inside the read-only sandbox.

The one list of pins: `worldline setup mcp-servers` runs install(), and scripts/setup.d/40-mcp-servers.sh (a
checkout's `make setup`) runs that command. Each part is installed only when its stamp says it is missing, so a
second run, or the tests after CI's setup, installs nothing. The command also leaves apt's answer for the
search-packages server in WORLDLINE_HOME/.cache (fill_apt_cache), which its sandbox can read but not write.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sandboxes.mcp_server_spec import ServerFileError, ServerSpec, host_folders
from sandboxes.search.apt_served import apt_state
from schemas.home import HOME_VARIABLE, worldline_home

SETUP_COMMAND = "worldline setup mcp-servers"
PY_SERVERS = ("mcp-server-git==2026.10.19", "mcp-server-time==2026.10.19", "mcp-server-fetch==2026.10.24")
NPM_SCOPE = "@modelcontextprotocol"
NPM_VERSION = "2026.8.31"
NPM_SERVERS = ("server-filesystem", "server-memory", "server-everything")
READABILITY_PACKAGES = ("@mozilla/readability@0.6.0", "jsdom@29.1.1", "minimist@1.2.8")
NPM_FLAGS = ("--no-audit", "--no-fund", "--silent")
# What the servers need at run time, not to be installed: the command says what is missing, as pip cannot install
# them (the checkout's setup script apt-installs them first).
RUNTIME_TOOLS = {"bwrap": "bubblewrap", "git": "git"}


class InstallError(RuntimeError):
    pass


@dataclass(frozen=True)
class Step:
    """One command of the installation, and the stamp written once it succeeds (None: its own output is the
    stamp)."""

    what: str
    argv: tuple[str, ...]
    cwd: Path | None = None
    stamp: Path | None = None


def venv_stamp_name() -> str:
    # The name 40-mcp-servers.sh wrote before this module existed (sha1 of the pins, one a line): a machine set up
    # by it is not installed again.
    return ".installed-" + hashlib.sha1("".join(f"{pin}\n" for pin in PY_SERVERS).encode()).hexdigest()[:12]


def npm_packages() -> list[str]:
    return [f"{NPM_SCOPE}/{name}@{NPM_VERSION}" for name in NPM_SERVERS]


def _npm_version(node_modules: Path, name: str) -> str | None:
    try:
        return json.loads((node_modules / NPM_SCOPE / name / "package.json").read_text()).get("version")
    except (OSError, ValueError, AttributeError):
        return None


def readability_folder(venv: Path) -> Path:
    """readabilipy's JavaScript folder in the venv `venv`, made by this interpreter's `-m venv`, so of its version."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / version / "site-packages" / "readabilipy" / "javascript"


def plan(home: Path, python: str = sys.executable) -> list[Step]:
    """The commands that install what is missing under `home` (all of them for an empty one), in order.
    `python -m venv` run from a venv makes one from its base installation: the servers' venv and worldline's come
    from the same Python, which is the one the sandbox shows at /opt/worldline/python."""
    folders = {name: Path(path) for name, path in host_folders(home).items()}
    venv, node_modules = folders["mcp_venv"], folders["node_modules"]
    prefix = node_modules.parent
    steps = []
    venv_missing = not (venv / venv_stamp_name()).is_file()
    if venv_missing:
        pip = str(venv / "bin" / "pip")
        steps += [Step("the PyPI servers' venv", (python, "-m", "venv", str(venv))),
                  Step("pip", (pip, "install", "-q", "-U", "pip")),
                  Step("the PyPI servers", (pip, "install", "-q", *PY_SERVERS), stamp=venv / venv_stamp_name())]
    if any(_npm_version(node_modules, name) != NPM_VERSION for name in NPM_SERVERS):
        steps.append(Step("the npm servers", ("npm", "install", "--prefix", str(prefix), *NPM_FLAGS,
                                              *npm_packages())))
    javascript = readability_folder(venv)
    # Known only once the venv holds readabilipy: for a venv about to be made, its pinned fetch server brings it.
    if not (javascript / "node_modules").is_dir() and (venv_missing or (javascript / "package.json").is_file()):
        steps.append(Step("mcp-server-fetch's readabilipy JavaScript",
                          ("npm", "install", *NPM_FLAGS, "--no-save", *READABILITY_PACKAGES), cwd=javascript))
    return steps


def describe(steps: Iterable[Step]) -> list[str]:
    """One line a step, `(cd FOLDER && ...)` where it runs elsewhere: what a dry run prints."""
    lines = []
    for step in steps:
        command = " ".join(step.argv)
        lines.append(f"(cd {step.cwd} && {command})" if step.cwd else command)
    return lines


def _run(step: Step) -> None:
    try:
        done = subprocess.run(step.argv, cwd=step.cwd, capture_output=True, text=True)
    except OSError as exc:
        raise InstallError(f"installing {step.what}: {step.argv[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise InstallError(f"installing {step.what}: `{' '.join(step.argv)}` exited with {done.returncode}:\n{tail}")
    if step.stamp is not None:
        step.stamp.touch()


def install(home: Path, echo: Callable[[str], None] = print, python: str = sys.executable) -> list[Step]:
    """Installs what `plan` finds missing under `home`, one step after the other; the steps it ran."""
    steps = plan(home, python)
    if any(step.argv[0] == "npm" for step in steps):
        absent = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
        if absent:
            raise InstallError(f"{' and '.join(absent)} not found on PATH: the npm servers need Node.js and npm "
                               f"(apt-get install -y nodejs npm)")
    if steps:
        (home / ".mcp-servers").mkdir(parents=True, exist_ok=True)
        package = home / ".mcp-servers" / "package.json"
        if not package.exists():  # npm would otherwise look for one in the folders above
            package.write_text('{"name": "worldline-mcp-servers", "private": true}\n')
    for step in steps:
        echo(f"installing {step.what}")
        _run(step)
    return steps


# The Debian part of the packages corpus, built as search-packages builds it at each start, with its cache folder
# where the entry points it ({cache}: WORLDLINE_CACHE_DIR), in a process of its own so this one's environment stays
# as it was; it prints where the cache file is.
APT_CACHE_BUILD = ("from sandboxes.search.apt_served import default_cache_file\n"
                   "from sandboxes.search.corpora import debian_doc_pages\n"
                   "sum(1 for _ in debian_doc_pages())\n"
                   "print(default_cache_file())")


def fill_apt_cache(home: Path, python: str = sys.executable) -> tuple[Path | None, str]:
    """Leaves apt's answer for the search-packages server in `home`'s {cache}, which its sandbox shows read-only:
    without it each start asks apt again (0.4-0.9 s). apt is asked only when the file is not for the current apt
    and dpkg state (sandboxes.search.apt_served's own check), so a second run costs a dpkg query. Returns the file
    when it is for the current state, else None, and the tail of what the build logged (why: no dpkg, no lists)."""
    done = subprocess.run([python, "-c", APT_CACHE_BUILD], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "WORLDLINE_CACHE_DIR": host_folders(home)["cache"]})
    said = "\n".join((done.stderr or "").strip().splitlines()[-5:])
    if done.returncode != 0 or not done.stdout.strip():
        return None, said
    cache = Path(done.stdout.strip().splitlines()[-1])
    try:
        current = json.loads(cache.read_bytes()).get("state") == apt_state()
    except (OSError, ValueError, AttributeError):
        current = False
    return (cache if current else None), said


def missing_runtime_tools() -> dict[str, str]:
    """The tools the servers need at run time that are not on PATH, with the Debian package of each."""
    return {tool: package for tool, package in RUNTIME_TOOLS.items() if shutil.which(tool) is None}


def uninstalled(specs: Iterable[ServerSpec], home: Path) -> dict[str, str]:
    """For the entries of `specs` that name {mcp_venv} or {node_modules}: server -> the folder of `home` it needs
    and that was never installed (a venv without its pyvenv.cfg, a node_modules that is not there)."""
    folders = host_folders(home)
    missing = {}
    for spec in specs:
        texts = [spec.command, *spec.args]
        for name in ("mcp_venv", "node_modules"):
            needed = Path(folders[name]) / ("pyvenv.cfg" if name == "mcp_venv" else "")
            if any("{" + name + "}" in text for text in texts) and not needed.exists():
                missing.setdefault(spec.name, folders[name])
    return missing


class ServersNotInstalled(ServerFileError):
    """Servers whose folders under WORLDLINE_HOME were never installed: one line before any episode, naming the
    command that installs them (an input error: the run cannot start, and a rerun would meet the same)."""


def require_installed(specs: Iterable[ServerSpec], home: Path | None = None) -> None:
    """Raises ServersNotInstalled for the entries of `specs` whose folders under `home` (WORLDLINE_HOME by default)
    were never installed."""
    home = worldline_home() if home is None else home
    missing = uninstalled(specs, home)
    if missing:
        servers = ", ".join(f"{name!r} ({folder})" for name, folder in sorted(missing.items()))
        raise ServersNotInstalled(f"MCP servers not installed in {HOME_VARIABLE}={home}: {servers}; run "
                                  f"`{SETUP_COMMAND}` (or set {HOME_VARIABLE} to where they are installed)")

