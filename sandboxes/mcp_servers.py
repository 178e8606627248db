"""Real MCP server processes: the servers file, starting one in its own temporary working directory (sandboxed by
bubblewrap: only the system's paths and what the entry needs, read-only, the placeholders' folders at fixed places
under /opt/worldline; an environment of its own; private /tmp; no network unless the entry asks for it, the local
pages served on its own loopback at a fixed address; a user id of its own with process and CPU-time caps), a client
session to it through the perturbing proxy, a restart when a call times out while the server is still on it, and
teardown that always runs.

The official SDK is async; collectors are sync. Each connection owns an event loop in the calling thread: one
long-lived task holds the transport and session open (anyio scopes must be left by the task that entered them),
and `request()` runs one call on that loop until it completes. Between calls nothing needs to run, and no thread
hand-off is paid per call (a blocking portal cost more than the whole collector overhead budget).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpcore2
import httpx2
from httpcore2._backends.anyio import AnyIOStream

from sandboxes import bwrap, cgroup, leftovers, proc_view
from sandboxes.bwrap import (SYSTEM_PATHS, bind_args, covered, parent_dirs, process_tree, release_sandbox_uid,
                             take_sandbox_uid)
from sandboxes.mcp_proxy import Exchange, PerturbingProxy, Rule
from sandboxes.swe_git import GIT_DATE
from schemas.processes import alive
from schemas.yaml_file import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER_KEYS = {"command", "args", "env", "transport", "url", "domain", "prepare", "network", "description",
               "startup_timeout_s", "hints", "read_only"}
# Where the working directory appears inside the sandbox: a fixed path, so observations that name files do not
# carry a random temporary name. (Under /tmp because bubblewrap can only create mount points on its tmpfs.)
SANDBOX_WORKDIR = "/tmp/workspace"
# Where the sandbox shows what a server needs from this machine: fixed paths, not the host's, so what a server
# reports (its environment, its interpreter's paths, a stack trace) reads the same on every machine and names
# neither the checkout nor the home folder.
SANDBOX_OPT = "/opt/worldline"
SANDBOX_PYTHON = f"{SANDBOX_OPT}/python"  # the Python installation the venvs were made from (pyenv's, here)
SANDBOX_VENV = f"{SANDBOX_OPT}/venv"  # worldline's venv, for {python}
SANDBOX_SRC = f"{SANDBOX_OPT}/src"  # worldline's packages, on PYTHONPATH
SANDBOX_FOLDERS = {"mcp_venv": f"{SANDBOX_OPT}/mcp-venv", "node_modules": f"{SANDBOX_OPT}/node_modules",
                   "cache": f"{SANDBOX_OPT}/cache"}
# The whole environment a server gets (plus what its placeholders and its entry's env add): nothing of the
# collector's, whose PATH names its venv and whose variables may hold credentials.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
# {git_date}: the commit clock swe pins too, for an entry that commits (git reads GIT_AUTHOR_DATE/GIT_COMMITTER_DATE):
# with it a commit id is the same in every run and replay, not a function of the wall-clock second.
PLACEHOLDERS = ("mcp_venv", "node_modules", "python", "cache", "workdir", "port", "pages", "git_date")
# Placeholders a task's call arguments may carry, replaced literally (arguments may hold braces of their own).
ARGUMENT_PLACEHOLDERS = ("workdir", "pages")

# {pages}: a small static site (sandboxes/mcp_pages/) for servers that fetch URLs (mcp-server-fetch). It is served
# inside the server's own sandbox, on the loopback of its private network namespace, at this fixed address: the
# URLs in recorded actions and observations are the same on every machine and in every run, a stored episode
# replays against the same address, and the server needs no network.
PAGES_HOST, PAGES_PORT = "127.0.0.1", 8000
PAGES_URL = f"http://{PAGES_HOST}:{PAGES_PORT}"
PAGES_FOLDER = PROJECT_ROOT / "sandboxes" / "mcp_pages"
PAGES_LAUNCHER = PROJECT_ROOT / "sandboxes" / "serve_pages.py"
SANDBOX_PAGES = f"{SANDBOX_OPT}/pages"
SANDBOX_PAGES_LAUNCHER = f"{SANDBOX_OPT}/serve_pages.py"

# The http transport: the server listens on its own sandbox's loopback (no host network) and the client reaches it
# through a unix socket that sandboxes/mcp_forward.py forwards to that port. The collector makes the listening
# socket in a folder of its own and hands the forwarder its descriptor: the sandbox sees no folder of the host's,
# so it can neither fill one (host disk, outside the recorded caps) nor swap the socket for a symlink to a host
# socket the collector would then connect to.
FORWARD_LAUNCHER = PROJECT_ROOT / "sandboxes" / "mcp_forward.py"
SANDBOX_FORWARD_LAUNCHER = f"{SANDBOX_OPT}/mcp_forward.py"
SOCKET_NAME = "mcp.sock"


class ServerFileError(ValueError):
    pass


class ServerStartError(RuntimeError):
    pass


class CallTimeout(TimeoutError):
    """The client gave up waiting: the observation an agent gets is this error, not a result. `restart_s` is set
    when the server was still working on the call and was restarted (how long the restart took)."""

    restart_s: float | None = None


def _leaf_errors(exc: BaseException) -> str:
    """The real causes inside (nested) exception groups, which anyio task groups wrap errors in."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_leaf_errors(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class ServerSpec:
    """One servers-file entry. `prepare` holds shell commands run in the working directory before the start
    (e.g. creating the git repository a git server works on), in the server's sandbox with the network on.
    `read_only` names extra host paths the sandbox shows (read-only) beyond those found from the entry itself."""

    name: str
    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    transport: str = "stdio"
    url: str = "http://127.0.0.1:{port}/mcp"
    domain: str = "mcp"
    prepare: list[str] = field(default_factory=list)
    network: bool = False
    description: str = ""
    startup_timeout_s: float = 30.0
    # Argument values exploration should try for a property name (e.g. repo_path: ["{workdir}/repo"]).
    hints: dict[str, list[str]] = field(default_factory=dict)
    read_only: list[str] = field(default_factory=list)


def load_servers(path: str | Path) -> dict[str, ServerSpec]:
    path = Path(path)
    if not path.exists():
        raise ServerFileError(f"servers file {path} does not exist")
    if path.is_dir():
        raise ServerFileError(f"servers file {path} is a folder, not a file")
    data = load_yaml(path, path.read_text(), ServerFileError)
    entries = data.get("servers") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ServerFileError(f"{path}: expected a mapping with a non-empty 'servers' mapping of name -> entry")
    return {name: server_from_dict(name, entry, f"{path} server {name!r}") for name, entry in entries.items()}


def server_from_dict(name: str, entry: Any, where: str) -> ServerSpec:
    if not isinstance(entry, dict):
        raise ServerFileError(f"{where}: an entry must be a mapping, got {type(entry).__name__}")
    unknown = set(entry) - SERVER_KEYS
    if unknown:
        raise ServerFileError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(SERVER_KEYS)}")
    if not entry.get("command"):
        raise ServerFileError(f"{where}: 'command' is missing")
    if entry.get("transport", "stdio") not in ("stdio", "http"):
        raise ServerFileError(f"{where}: transport must be 'stdio' or 'http', got {entry['transport']!r}")
    for key, kind in (("args", list), ("prepare", list), ("env", dict), ("hints", dict), ("read_only", list)):
        if key in entry and not isinstance(entry[key], kind):
            raise ServerFileError(f"{where}: '{key}' must be a {kind.__name__}")
    spec = ServerSpec(name=str(name), command=str(entry["command"]),
                      args=[str(a) for a in entry.get("args") or []],
                      env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
                      transport=entry.get("transport", "stdio"), domain=entry.get("domain", "mcp"),
                      prepare=[str(c) for c in entry.get("prepare") or []], network=bool(entry.get("network")),
                      description=str(entry.get("description", "")),
                      startup_timeout_s=float(entry.get("startup_timeout_s", 30.0)),
                      hints={str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
                             for k, vs in (entry.get("hints") or {}).items()},
                      read_only=[str(p) for p in entry.get("read_only") or []])
    if "url" in entry:
        spec.url = str(entry["url"])
    hinted = [v for values in spec.hints.values() for v in values]
    for text in [spec.command, *spec.args, *spec.env.values(), *spec.prepare, spec.url, *hinted, *spec.read_only]:
        _expand(text, _placeholder_values("/w", 0), where)  # a typo in a placeholder fails at load, not mid-run
    # An http server keeps a loopback of its own too (the client reaches it through mcp_forward's socket).
    if serves_pages(spec) and spec.network:
        raise ServerFileError(f"{where}: uses {{pages}}, which is served on the sandbox's own loopback at "
                              f"{PAGES_URL}; with the host's network (network: true) it would meet the host's port "
                              f"{PAGES_PORT} and every other such server's")
    if any("{pages}" in command for command in spec.prepare):
        raise ServerFileError(f"{where}: prepare commands cannot use {{pages}}: the pages are served only next "
                              f"to the server itself")
    return spec


def serves_pages(spec: ServerSpec) -> bool:
    """Whether a server gets the local pages in its sandbox: its entry names {pages} (in its hints, say), so the
    tasks written for it may fetch them."""
    texts = [spec.command, *spec.args, *spec.env.values(), *(v for vs in spec.hints.values() for v in vs)]
    return any("{pages}" in text for text in texts)


def _pages_launcher() -> list[str]:
    """The command that starts the page server in the sandbox and then execs the server's own command after `--`:
    the bare Python installation (shown at SANDBOX_PYTHON, or /usr), isolated from the entry's environment (-I),
    since it needs the standard library only."""
    return [_sandbox_base_python(), "-I", SANDBOX_PAGES_LAUNCHER, PAGES_HOST, str(PAGES_PORT), SANDBOX_PAGES, "--"]


def _forward_launcher(port: int, listener: int, ready: int) -> list[str]:
    """The command that starts the socket forwarder in the sandbox and then execs the server's own command after
    `--` (stdlib only, like the page server's): it accepts on the inherited descriptor `listener` and writes a byte
    to `ready` once the port accepts."""
    return [_sandbox_base_python(), "-I", SANDBOX_FORWARD_LAUNCHER, str(listener), str(ready), str(port), "--"]


def _host_folders() -> dict[str, str]:
    return {"mcp_venv": str(PROJECT_ROOT / ".venv-mcp"), "cache": str(PROJECT_ROOT / ".cache"),
            "node_modules": str(PROJECT_ROOT / ".mcp-servers" / "node_modules")}


def _placeholder_values(workdir: str, port: int, host: bool = False) -> dict:
    """What the placeholders stand for as the server sees them, or (`host`) where those are on this machine."""
    folders = _host_folders() if host else SANDBOX_FOLDERS
    python = sys.executable if host else _sandbox_python()
    return {"pages": PAGES_URL, **folders, "python": python, "workdir": workdir, "port": str(port),
            "git_date": GIT_DATE}


def _sandbox_python() -> str:
    """{python} in the sandbox: worldline's venv at SANDBOX_VENV, or, run without a venv, its installation's own."""
    if sys.prefix != sys.base_prefix:
        return f"{SANDBOX_VENV}/bin/python"
    return _sandbox_base_python()


def _sandbox_base_python() -> str:
    """The interpreter of worldline's Python installation (not its venv) as the sandbox shows it."""
    return f"{_python_home(Path(sys.base_prefix))}/bin/{Path(os.path.realpath(sys.executable)).name}"


def _expand(text: str, values: dict[str, str], where: str) -> str:
    try:
        return text.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        gone = (" ({root} is gone: a server sees no checkout; name a file it needs in `read_only`)"
                if isinstance(exc, KeyError) and exc.args == ("root",) else "")
        raise ServerFileError(f"{where}: bad placeholder in {text!r} ({exc}){gone}; known: "
                              f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}") from exc


def _server_port() -> int:
    """{port} for an http server: a free one, as before, but never the page server's, which shares the server's
    loopback when the entry uses {pages}."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != PAGES_PORT:
            return port


class _UnixSocketBackend(httpcore2.AnyIOBackend):
    """httpcore's anyio backend, but its unix-socket connections read through an asyncio transport, as its TCP ones
    do. anyio's own unix stream (4.16) waits for a read with `loop.add_reader(sock, future.set_result, None)`: when
    the read is cancelled in the loop iteration in which the socket became readable, the reader still fires on the
    cancelled future and asyncio logs `Exception in callback Future.set_result(None) ... InvalidStateError`. An
    http session that ends, or a call that times out, cancels its reads while the server is still writing."""

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options=None) -> httpcore2.AsyncNetworkStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            with anyio.fail_after(timeout):
                await _connect_without_links(sock, path)
                stream = await anyio.abc.SocketStream.from_socket(sock)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise httpcore2.ConnectTimeout(f"{path}: no connection within {timeout:g} s") from exc
            if isinstance(exc, OSError):
                raise httpcore2.ConnectError(f"{path}: {exc}") from exc
            raise
        return AnyIOStream(stream)


async def _connect_without_links(sock: socket.socket, path: str) -> None:
    """Connects `sock` (non-blocking) to the socket at `path`, never through a symlink: a socket swapped for a link
    must not lead the collector to one of the host's (/var/run/docker.sock). The address is /proc/self/fd/N, short
    whatever TMPDIR's length. A full backlog (EAGAIN) is waited out."""
    folder = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        target = os.open(os.path.basename(path), os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    finally:
        os.close(folder)
    try:
        if not stat.S_ISSOCK(os.fstat(target).st_mode):  # a symlink too: O_NOFOLLOW opened the link itself
            raise ConnectionRefusedError(f"{path} is not a socket")
        while True:
            try:
                return sock.connect(f"/proc/self/fd/{target}")
            except BlockingIOError:
                await anyio.sleep(0.01)
    finally:
        os.close(target)


def unix_socket_transport(path: str) -> httpx2.AsyncHTTPTransport:
    """httpx's transport with every connection to the unix socket at `path`, through _UnixSocketBackend. The
    transport takes no network backend, so its pool is replaced by one that has it (with httpx's default limits)."""
    transport = httpx2.AsyncHTTPTransport()
    transport._pool = httpcore2.AsyncConnectionPool(uds=path, network_backend=_UnixSocketBackend(),
                                                    max_connections=100, max_keepalive_connections=20,
                                                    keepalive_expiry=5.0)
    return transport


# Resource caps for every server process (prlimit): data segment (private writable memory; an address-space cap
# would break node, whose WebAssembly reserves tens of GiB it never touches), largest file written, open files.
# A server that tries to fill the disk stops at 1 GiB per file.
MEMORY_LIMIT_BYTES = 4 << 30
FILE_SIZE_LIMIT_BYTES = 1 << 30
OPEN_FILES_LIMIT = 4096
# Processes (threads count: node runs about a dozen, a Python server up to ~50) per server. RLIMIT_NPROC counts
# per real user id and root is exempt from it, so a collector running as root runs each server as a user id of
# its own (bwrap.take_sandbox_uid), which also takes root's privileges away from it.
PROCESS_LIMIT = 256
# CPU seconds per process (RLIMIT_CPU: SIGKILL when spent): a server stuck in a loop stops instead of holding a
# core for the rest of the run. An episode's server spends a few seconds (Python imports, ~1 ms a call), so ten
# minutes is far beyond any episode; a restart after a timeout starts a fresh count.
CPU_TIME_LIMIT_S = 600
# What a server's processes hold together (a cgroup, sandboxes/cgroup.py): the per-process cap above lets a server
# that forks workers hold several times its share.
TOTAL_MEMORY_BYTES = 4 << 30
# CPU time per wall second, all of a server's processes together, in cores: a server that forks busy workers holds
# one core, not every core the collector's other workers need. A server spends ~1 ms a call, so no episode meets it.
TOTAL_CPUS = 1.0
SANDBOX_USER = "mcp-server"
# Disk: what a server's writable places hold at most, all files together (RLIMIT_FSIZE caps one file, not their
# number). Both are tmpfs, whose pages count against the server's memory cgroup: both full leave its processes
# three quarters of TOTAL_MEMORY_BYTES. The working directory holds what prepare made (a small git repository) and
# the episode's files; /tmp a server's scratch files.
WORKSPACE_BYTES = 512 << 20
TMP_BYTES = 512 << 20
# A server's stdout and stderr: the last this many bytes, kept in the collector's memory for start-failure messages
# (they quote 800 characters); nothing on disk. They were a host file, `server.log`: a server could write 1 GiB of
# host disk that `disk` did not show, and a start failure read it whole (900 MiB of stderr: collector RSS +1.8 GiB).
OUTPUT_TAIL_BYTES = 64 << 10
# The working directory's tmpfs, mounted in a mount namespace of its own (unshare) by a process that lives until its
# stdin closes: when the connection closes it, or when the collector dies however it dies (the kernel closes the
# pipe). The mount then goes with the namespace's last process, so a SIGKILLed collector leaves no mount behind,
# and it lasts across restarts and prepare commands, which each start a sandbox of their own inside that namespace.
WORKSPACE_MOUNT = ('mount -t tmpfs -o "size=$2,mode=0700,uid=$3,gid=$3,nosuid,nodev" wl-workspace "$1" '
                   '&& echo ready && read -r _')

# Besides bwrap.SYSTEM_PATHS (the system's programs and libraries), what an entry needs from /root, /home, /work,
# /opt, /var or the project's checkout is shown at SANDBOX_OPT (below).

# Placeholders that name a folder a server needs whole when its entry uses them (a script path inside it is not
# enough: node resolves its packages, Python its site-packages, around it).
FOLDER_PLACEHOLDERS = ("mcp_venv", "node_modules", "cache")
# worldline's top-level packages (pyproject.toml's [tool.setuptools.packages.find]).
WORLDLINE_PACKAGES = ("collectors", "pipelines", "sandboxes", "schemas", "transforms")


def _program_paths(program: str) -> list[str]:
    """Host paths a program needs to run: the file, the interpreter its `#!` line names (recursively), a Python
    venv it belongs to with the Python installation the venv was made from, and the install prefix its symlinks
    lead to (`.venv/bin/python3` -> `~/.pyenv/versions/3.11.7/bin/python3.11` -> that version's folder)."""
    paths, seen, todo = [], set(), [program]
    while todo:
        path = Path(todo.pop())
        if str(path) in seen or not path.is_absolute() or not path.exists():
            continue
        seen.add(str(path))
        paths.append(str(path))
        real = path.resolve()
        if real != path:
            paths.append(str(real.parent.parent if real.parent.name == "bin" else real))
        venv = path.parent.parent
        config = venv / "pyvenv.cfg"
        if path.parent.name == "bin" and config.is_file():
            paths.append(str(venv))
            for line in config.read_text(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home" and value.strip():
                    paths.append(str(Path(value.strip()).resolve().parent))
        try:
            with open(real, "rb") as handle:
                first = handle.readline(256)
        except OSError:
            continue
        if first.startswith(b"#!"):
            words = first[2:].decode(errors="replace").split()
            if words and Path(words[0]).name == "env" and len(words) > 1:
                words = [shutil.which(words[1]) or words[1]]
            if words:
                todo.append(words[0])
    return paths


@dataclass
class SandboxLayout:
    """What a server's sandbox shows besides its working directory, and the environment it runs with."""

    in_place: list[str] = field(default_factory=list)  # host paths shown at their own place (with the system's)
    moved: dict[str, str] = field(default_factory=dict)  # sandbox path -> the host path shown there, read-only
    links: dict[str, str] = field(default_factory=dict)  # sandbox path -> the target of a symlink made there
    env: dict[str, str] = field(default_factory=dict)

    def bwrap_args(self) -> list[str]:
        made: set[str] = set()
        shown = [p for p in self.in_place if not covered(p, [SANDBOX_WORKDIR, SANDBOX_OPT, "/tmp", "/proc", "/dev"])]
        args = bind_args([*SYSTEM_PATHS, *shown], made)
        for path, source in sorted(self.moved.items()):
            if os.path.exists(source):  # a folder never installed: the server says what it misses
                args += parent_dirs(path, made) + ["--ro-bind", source, path]
        for path, target in sorted(self.links.items()):
            args += parent_dirs(path, made) + ["--symlink", target, path]
        # Whatever environment bwrap was started with, the server gets this one only.
        args.append("--clearenv")
        for key, value in self.env.items():
            args += ["--setenv", key, value]
        return args


def _base_env() -> dict[str, str]:
    return {"PATH": SANDBOX_PATH, "HOME": SANDBOX_WORKDIR, "USER": SANDBOX_USER, "LOGNAME": SANDBOX_USER,
            "LANG": "C.UTF-8"}


def _python_home(base: Path) -> str:
    """Where the sandbox shows the Python installation `base`: a system one where it is (/usr, shown anyway and
    the same on every Debian machine), any other (pyenv's ~/.pyenv/versions/X.Y.Z) at SANDBOX_PYTHON."""
    return str(base) if covered(str(base), list(SYSTEM_PATHS)) else SANDBOX_PYTHON


def _add_python_home(layout: SandboxLayout, base: Path) -> str:
    home = _python_home(base)
    if home == SANDBOX_PYTHON:
        shown = layout.moved.setdefault(SANDBOX_PYTHON, str(base))
        if shown != str(base):
            raise ServerStartError(f"the server's venvs come from two Python installations ({shown}, {base}); "
                                   f"the sandbox shows one at {SANDBOX_PYTHON}")
        if any((base / "lib").glob("libpython*.so*")):
            # A shared build finds libpython through a RUNPATH that names its host folder.
            layout.env["LD_LIBRARY_PATH"] = f"{SANDBOX_PYTHON}/lib"
    return home


def _venv_config(venv: Path) -> dict[str, str]:
    config = venv / "pyvenv.cfg"
    try:
        lines = config.read_text().splitlines()
    except OSError as exc:
        raise ServerStartError(f"{venv} is not a venv ({config}: {exc.strerror}); is "
                               f"scripts/setup.d/40-mcp-servers.sh done?") from exc
    values = {key.strip(): value.strip() for key, _, value in (line.partition("=") for line in lines)}
    if not values.get("home"):
        raise ServerStartError(f"{config} names no home (the Python installation the venv was made from)")
    return values


def _add_venv(layout: SandboxLayout, venv: Path, shown_at: str, folder: Path) -> None:
    """Shows the venv `venv` at `shown_at`: its lib/ (site-packages), bin/python linked to its Python installation
    as the sandbox shows it, and a pyvenv.cfg written into `folder` that names that installation (the venv's own
    names the host's). Not its bin/ scripts: their #! lines name the host venv; a server runs `python -m module`."""
    config = _venv_config(venv)
    home = _add_python_home(layout, Path(config["home"]).resolve().parent)
    written = folder / f"pyvenv-{Path(shown_at).name}.cfg"
    system_site = config.get("include-system-site-packages", "false")
    written.write_text(f"home = {home}/bin\ninclude-system-site-packages = {system_site}\n"
                       f"version = {config.get('version', '')}\n")
    layout.moved |= {f"{shown_at}/lib": str(venv / "lib"), f"{shown_at}/pyvenv.cfg": str(written)}
    interpreter = f"{home}/bin/{Path(os.path.realpath(venv / 'bin' / 'python')).name}"
    layout.links |= {f"{shown_at}/bin/python": interpreter, f"{shown_at}/bin/python3": interpreter}
    layout.env["PATH"] = f"{shown_at}/bin:{layout.env['PATH']}"
    layout.env["VIRTUAL_ENV"] = shown_at


def _add_worldline(layout: SandboxLayout, folder: Path) -> None:
    """{python}: worldline's interpreter (its venv at SANDBOX_VENV) and its packages at SANDBOX_SRC, on PYTHONPATH
    (the venv imports them from the checkout, an editable install), without the rest of the checkout."""
    if sys.prefix != sys.base_prefix:
        _add_venv(layout, Path(sys.prefix), SANDBOX_VENV, folder)
    else:
        _add_python_home(layout, Path(sys.base_prefix))
    layout.moved |= {f"{SANDBOX_SRC}/{name}": str(PROJECT_ROOT / name) for name in WORLDLINE_PACKAGES}
    layout.env["PYTHONPATH"] = SANDBOX_SRC


def sandbox_limits() -> bwrap.Limits:
    # Read at each start, not once: tests lower CPU_TIME_LIMIT_S on this module.
    return bwrap.Limits(data_bytes=MEMORY_LIMIT_BYTES, file_size_bytes=FILE_SIZE_LIMIT_BYTES,
                        open_files=OPEN_FILES_LIMIT, processes=PROCESS_LIMIT, cpu_s=CPU_TIME_LIMIT_S)


def _sandboxed(argv: list[str], workdir: str, network: bool, layout: SandboxLayout,
               uid: int | None = None, accounts: list[str] = (), group: cgroup.Group | None = None,
               namespace: list[str] = ()) -> list[str]:
    """bubblewrap (bwrap.command): a root of its own holding only the system paths and what `layout` shows
    (read-only), the working directory (read-write) at SANDBOX_WORKDIR, and `layout`'s environment only; a private
    /tmp of TMP_BYTES; own pid/ipc/uts (and net unless asked); prlimit caps on memory, file size, open files, CPU time and
    processes; as `uid` (named in the `accounts` files) when the collector is root; inside `group`, which caps
    the memory and processes of all of them together; entered through `namespace` (nsenter into the mount
    namespace where `workdir` is a capped tmpfs)."""
    bwrap.require(ServerStartError, "scripts/setup.d/40-mcp-servers.sh")
    limits = sandbox_limits()
    mounts = [*layout.bwrap_args(), "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--size", str(TMP_BYTES),
              "--tmpfs", "/tmp", "--bind", workdir, SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR]
    argv = [*namespace, *bwrap.command(argv, mounts, limits, network, uid, accounts)]
    return group.wrap(argv) if group is not None else argv


@functools.cache
def _warn_once(message: str) -> None:
    logging.getLogger(__name__).warning(message)


def _hold_workspace(folder: Path, uid: int, server: str) -> subprocess.Popen:
    """The process holding the mount namespace where `folder` is a tmpfs of WORKSPACE_BYTES owned by `uid`
    (WORKSPACE_MOUNT), once the mount is made."""
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", WORKSPACE_MOUNT,
                               "sh", str(folder), str(WORKSPACE_BYTES), str(uid)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if holder.stdout.readline() != b"ready\n":
        holder.stdin.close()
        problem = holder.stderr.read().decode(errors="replace").strip()
        holder.wait()
        raise ServerStartError(f"server {server!r}: could not make its {WORKSPACE_BYTES >> 20} MiB working "
                               f"directory (exit {holder.returncode}): {problem[-500:]}")
    return holder


def _release_workspace(holder: subprocess.Popen | None) -> None:
    if holder is not None:
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()


def _total_caps(server: str) -> tuple[cgroup.Group | None, dict]:
    """A cgroup for one server's sandbox, and what the data records of it: its caps, or why there is none."""
    try:
        group = cgroup.make_group(f"mcp-{server}", TOTAL_MEMORY_BYTES, PROCESS_LIMIT, TOTAL_CPUS)
    except cgroup.Unavailable as exc:
        _warn_once(f"MCP servers run with per-process caps only: {exc}")
        return None, cgroup.unavailable_record(str(exc))
    return group, group.record()


class _OutputTail:
    """A pipe for a server's stdout and stderr, which a thread of its own drains into the last OUTPUT_TAIL_BYTES:
    the server never waits on a full pipe (older bytes are dropped instead), and however much it writes costs no
    disk and at most that much memory. Its write end (`file`) serves every restart of the connection."""

    def __init__(self, name: str):
        read, write = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(read, False)  # a read under the lock must not wait for the server
        self.file = open(write, "wb", buffering=0)
        self._read: int | None = read
        self._tail = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._drain, name=f"wl-mcp-output-{name}", daemon=True).start()

    def _drain(self) -> None:
        """Until the pipe's end of file: every write end closed, the collector's at close() and the server's with
        its last process. Only this thread closes the pipe, under the lock, so text() never reads a closed one."""
        read = self._read
        while True:
            select.select([read], [], [])
            with self._lock:
                if self._take_chunk() == b"":
                    os.close(read)
                    self._read = None
                    return

    def _take_chunk(self) -> bytes | None:
        """One read into the tail (the lock held: chunks keep their order); None when the pipe is empty for now."""
        try:
            chunk = os.read(self._read, 1 << 16)
        except BlockingIOError:
            return None
        self._tail += chunk
        del self._tail[:-OUTPUT_TAIL_BYTES]
        return chunk

    def text(self) -> str:
        """The last bytes the server wrote, those still in the pipe included (a server that just failed wrote its
        reason there before it exited, maybe faster than the thread drained it)."""
        with self._lock:
            while self._read is not None and self._take_chunk():
                pass
            return self._tail.decode(errors="replace")

    def close(self) -> None:
        self.file.close()


class ServerConnection:
    """A started server with an initialized client session. Use as a context manager; close() always stops it."""

    def __init__(self, spec: ServerSpec, rules: list[Rule] | None = None, seed: int = 0,
                 call_timeout_s: float = 30.0):
        self.spec = spec
        self.proxy = PerturbingProxy(rules, seed)
        self.call_timeout_s = call_timeout_s
        # Named for this process: making it removes every server's folder that a SIGKILLed collector left.
        self.base = leftovers.make_temp(f"wl-mcp-{spec.name}-", family="wl-mcp-")
        # The working directory as the sandboxes bind it (in the workspace holder's mount namespace, a tmpfs).
        self._bound_workdir = self.base / "work"
        self._bound_workdir.mkdir()
        self._workspace: subprocess.Popen | None = None
        self.workdir = self._bound_workdir  # where this process reads and writes it (below, when it is capped)
        self.port = _server_port() if spec.transport == "http" else 0
        self.socket = self._socket_folder() / SOCKET_NAME if spec.transport == "http" else None
        self.values = _placeholder_values(SANDBOX_WORKDIR, self.port)  # as the server sees them
        self.host_values = _placeholder_values(str(self.workdir), self.port, host=True)
        self._process: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holder: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self.session = None
        self.initialize: Exchange | None = None
        self.restarts = 0
        self._layout: SandboxLayout | None = None
        self.uid = take_sandbox_uid() if os.geteuid() == 0 else None
        self._accounts: list[str] = []
        if self.uid is not None:
            os.chown(self.workdir, self.uid, self.uid)  # the server's own user writes it (prepare too)
            self._accounts = bwrap.account_files(self.base, self.uid, SANDBOX_USER, SANDBOX_WORKDIR, "MCP server")
        self._group, self._total_caps = _total_caps(spec.name)
        self._output = _OutputTail(spec.name)
        if self.uid is not None:  # mounting needs root; the record says when the working directory has no cap
            try:
                self._workspace = _hold_workspace(self._bound_workdir, self.uid, spec.name)
            except BaseException:
                self.close()
                raise
            self.workdir = Path(f"/proc/{self._workspace.pid}/root{self._bound_workdir}")

    def _namespace(self) -> list[str]:
        """nsenter into the workspace holder's mount namespace, where the working directory is its tmpfs."""
        if self._workspace is None:
            return []
        return ["nsenter", f"--mount=/proc/{self._workspace.pid}/ns/mnt", "--"]

    def _socket_folder(self) -> Path:
        """The collector's own folder for the http socket: no sandbox binds it, and no other user enters it."""
        folder = self.base / "socket"
        folder.mkdir(mode=0o700)
        return folder

    def __enter__(self) -> ServerConnection:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _argv(self, forward: tuple[int, int] | None = None) -> list[str]:
        """The sandboxed command; with `forward` (the listening socket's and the ready pipe's descriptors, http),
        started through the forwarder, first, so that the page server (forked next) inherits neither."""
        where = f"server {self.spec.name!r}"
        argv = [_expand(self.spec.command, self.values, where)] + [_expand(a, self.values, where)
                                                                   for a in self.spec.args]
        if serves_pages(self.spec):
            argv = [*_pages_launcher(), *argv]
        if forward is not None:
            argv = [*_forward_launcher(self.port, *forward), *argv]
        return _sandboxed(argv, str(self._bound_workdir), self.spec.network, self.layout(), self.uid,
                          self._accounts, self._group, self._namespace())

    def oom_kills(self) -> int | None:
        """How many of the server's processes the kernel killed at its memory cap since the connection was made
        (restarts included); None without a cgroup."""
        return self._group.oom_kills() if self._group is not None else None

    def sandbox_record(self) -> dict:
        """What an episode records of this server's sandbox (env details): its caps, and whether it has a network."""
        return {"kind": "bwrap", "limits": asdict(sandbox_limits()),
                "processes_capped": self.uid is not None, "total": self._total_caps,
                "network": self.spec.network, "proc_view": proc_view.bwrap_view(),
                "seccomp_denied": list(bwrap.DENIED_SYSCALLS),
                "disk": {"workspace_bytes": WORKSPACE_BYTES if self._workspace is not None else None,
                         "tmp_bytes": TMP_BYTES,
                         "output_tail_bytes": OUTPUT_TAIL_BYTES}}  # in the collector's memory, none on disk

    def layout(self) -> SandboxLayout:
        """What this server's sandbox shows besides the system paths, found from its entry: the folders of the
        placeholders it uses at their fixed places under SANDBOX_OPT ({python} brings worldline's venv and
        packages, a venv its Python installation), the host paths the entry names itself, and the environment:
        a fixed base, what the placeholders add (VIRTUAL_ENV, PYTHONPATH, NODE_PATH...) and the entry's `env`."""
        if self._layout is None:
            where = f"server {self.spec.name!r}"
            texts = [self.spec.command, *self.spec.args, *self.spec.env.values(), *self.spec.prepare,
                     self.spec.url, *self.spec.read_only]
            used = {name for name in PLACEHOLDERS if any("{" + name + "}" in t for t in texts)}
            layout = SandboxLayout(in_place=self._named_paths(), env=_base_env())
            host = self.host_values
            for name in ("node_modules", "cache"):
                if name in used:
                    layout.moved[SANDBOX_FOLDERS[name]] = host[name]
            if "node_modules" in used:
                layout.env["NODE_PATH"] = SANDBOX_FOLDERS["node_modules"]
            if "mcp_venv" in used:
                _add_venv(layout, Path(host["mcp_venv"]), SANDBOX_FOLDERS["mcp_venv"], self.base)
            if "python" in used:
                _add_worldline(layout, self.base)
            if serves_pages(self.spec):
                _add_python_home(layout, Path(sys.base_prefix))
                layout.moved |= {SANDBOX_PAGES: str(PAGES_FOLDER), SANDBOX_PAGES_LAUNCHER: str(PAGES_LAUNCHER)}
            if self.socket is not None:
                _add_python_home(layout, Path(sys.base_prefix))
                layout.moved[SANDBOX_FORWARD_LAUNCHER] = str(FORWARD_LAUNCHER)
            layout.env |= {k: _expand(v, self.values, where) for k, v in self.spec.env.items()}
            self._layout = layout
        return self._layout

    def _named_paths(self) -> list[str]:
        """Host paths the entry names itself, shown at that same path since that is how the entry names them: its
        program (with the interpreter and venv behind it) unless a placeholder's folder holds it, absolute paths
        in its args and env (a script file, a data folder), and its `read_only` list."""
        where = f"server {self.spec.name!r}"
        command = _expand(self.spec.command, self.values, where)
        paths = [] if covered(command, [SANDBOX_OPT]) else _program_paths(shutil.which(command) or "")
        for text in [*self.spec.args, *self.spec.env.values()]:
            value = _expand(text, self.values, where)
            if value.startswith("/") and not covered(value, [SANDBOX_WORKDIR, SANDBOX_OPT]) and os.path.exists(value):
                paths.append(value)
        paths += [_expand(p, self.values, where) for p in self.spec.read_only]
        return [p for p in paths if p and os.path.normpath(p) != "/"]

    def _host_command(self) -> str:
        """The command's executable on this machine, checked before a start: there, and not a script whose `#!`
        line names a host path the sandbox shows elsewhere (a venv's console scripts name the host venv)."""
        where = f"server {self.spec.name!r}"
        command = _expand(self.spec.command, self.host_values, where)
        found = shutil.which(command)
        if found is None:
            raise ServerStartError(f"{where}: command {command!r} is not an executable on PATH "
                                   f"(is scripts/setup.d/40-mcp-servers.sh done?)")
        if covered(_expand(self.spec.command, self.values, where), [SANDBOX_OPT]):
            with open(found, "rb") as handle:
                first = handle.readline(256)
            interpreter = first[2:].decode(errors="replace").split()[:1] if first.startswith(b"#!") else []
            if interpreter and not covered(interpreter[0], list(SYSTEM_PATHS)):
                raise ServerStartError(f"{where}: {self.spec.command!r} is a script whose #! line names "
                                       f"{interpreter[0]}, a host path the sandbox does not show; run its module "
                                       f"with the venv's python instead (\"{{mcp_venv}}/bin/python -m MODULE\")")
        return found

    def start(self) -> None:
        self._prepare()
        self._launch()

    def _prepare(self) -> None:
        """The entry's prepare commands, each in the server's own sandbox (same binds, same working directory at
        the same path) but with the network on, since they may download what the server works on."""
        where = f"server {self.spec.name!r}"
        for command in self.spec.prepare:
            command = _expand(command, self.values, where)
            argv = _sandboxed(["bash", "-c", command], str(self._bound_workdir), True, self.layout(), self.uid,
                              self._accounts, self._group, self._namespace())
            done = subprocess.run(argv, cwd=self.base, env=self.layout().env,
                                  capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise ServerStartError(f"server {self.spec.name!r}: prepare command {command!r} failed "
                                       f"({done.returncode}): {done.stderr.strip()[-500:]}")

    def _launch(self) -> None:
        """Starts the server process and opens an initialized session to it."""
        self._host_command()
        if self.spec.transport == "http":
            self._start_http_process()
        self._loop = asyncio.new_event_loop()
        ready = self._loop.create_future()
        self._holder = self._loop.create_task(self._hold_session(ready))
        try:
            self._loop.run_until_complete(asyncio.wait({ready, self._holder}, return_when=asyncio.FIRST_COMPLETED))
            if not ready.done():
                self._holder.result()  # raises what stopped the session from opening
                raise RuntimeError("the session closed before it was ready")
        except Exception as exc:
            raise ServerStartError(f"server {self.spec.name!r} did not start: {_leaf_errors(exc)}; "
                                   f"stderr: {self.stderr()[-800:]}") from exc

    def restart(self) -> float:
        """Kills the server's whole process tree and starts a fresh process from the same entry, on the same
        working directory (the files the episode made stay, prepare does not run again) and through the same proxy.
        Returns the seconds it took."""
        started = time.monotonic()
        if self._process is not None:
            # http: the client ends its session while the server still listens (a dead one makes the SDK log
            # errors). stdio: killed first, or the SDK's shutdown would wait seconds for a busy server to exit.
            self._close_client(wait_s=2)
        self._kill_server()
        self._stop_session()
        self._launch()
        self.restarts += 1
        return time.monotonic() - started

    def server_pid(self) -> int | None:
        """The pid of the sandbox's outer process (prlimit exec'd into bwrap), which leads its own process group:
        our Popen for http, else the SDK's child (spawned in a new session) whose command line binds this
        connection's working directory."""
        if self._process is not None:
            return self._process.pid if self._process.poll() is None else None
        me, mark = os.getpid(), b"\0" + str(self._bound_workdir).encode() + b"\0"
        holder = str(self._workspace.pid) if self._workspace is not None else None  # names the folder too
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or entry.name == holder:
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
                if parent != me:
                    continue
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if mark in handle.read():
                        return int(entry.name)
            except (OSError, ValueError, IndexError):
                continue
        return None

    def _kill_server(self) -> None:
        """SIGKILL to the sandbox's process group and each process of its tree (the pid namespace's init dying
        would take the rest with it, but not at once), then waits until none of them runs: a fresh server must not
        meet the old one still holding its port or files."""
        pid = self.server_pid()
        if pid is None:
            return
        tree = process_tree(pid)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for member in tree:
            try:
                os.kill(member, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._process is not None:
            self._process.wait()
        deadline = time.monotonic() + 5
        while any(alive(member) for member in tree) and time.monotonic() < deadline:
            time.sleep(0.01)

    async def _hold_session(self, ready: asyncio.Future) -> None:
        self._stop = asyncio.Event()
        async with self._open_session() as session:
            self.session = session
            ready.set_result(True)
            await self._stop.wait()

    def _start_http_process(self) -> None:
        """Starts the sandbox with the listening socket (fresh, so no connection meant for a killed server waits
        in it) and a pipe its forwarder writes to once the server accepts; only the forwarder keeps either."""
        listener = self._listen()
        ready, ready_end = os.pipe()
        try:
            # Not the collector's environment (credentials): bwrap, which clears it for the server anyway, needs none.
            self._process = subprocess.Popen(self._argv((listener.fileno(), ready_end)), cwd=self.base,
                                             env=self.layout().env, stdin=subprocess.DEVNULL,
                                             stdout=self._output.file, stderr=self._output.file,
                                             start_new_session=True,
                                             pass_fds=(listener.fileno(), ready_end))
        finally:
            listener.close()
            os.close(ready_end)
        try:
            self._wait_until_listening(ready)
        finally:
            os.close(ready)

    def _listen(self) -> socket.socket:
        self.socket.unlink(missing_ok=True)  # a killed server's
        folder = os.open(self.socket.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Bound through the folder's descriptor: an address short enough for sun_path (107 bytes) whatever
            # TMPDIR's length.
            listener.bind(f"/proc/self/fd/{folder}/{SOCKET_NAME}")
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        finally:
            os.close(folder)
        return listener

    def _wait_until_listening(self, ready: int) -> None:
        """Waits for the forwarder's byte; the pipe's end of file means the forwarder is gone, and with it (it dies
        with the server) the server, or soon."""
        where = f"server {self.spec.name!r}"
        if not select.select([ready], [], [], self.spec.startup_timeout_s)[0]:
            raise ServerStartError(f"{where} did not listen on port {self.port} (in its sandbox, forwarded to "
                                   f"{self.socket}) within {self.spec.startup_timeout_s:g} s")
        if os.read(ready, 1):
            return
        try:
            code = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            raise ServerStartError(f"{where}: its socket forwarder ended before the server listened: "
                                   f"{self.stderr()[-800:]}") from None
        raise ServerStartError(f"{where} exited with {code} before listening: {self.stderr()[-800:]}")

    @asynccontextmanager
    async def _open_session(self):
        from mcp.client.session import ClientSession

        async with self._transport() as streams:
            async with self.proxy.wrap(streams[0], streams[1]) as (read, write):
                async with ClientSession(read, write) as session:
                    before = len(self.proxy.order)
                    with anyio.fail_after(self.spec.startup_timeout_s):  # a Python server may take seconds to import
                        await session.initialize()
                    self.initialize = self.proxy.take(before)[0]
                    yield session

    def _transport(self):
        if self.spec.transport == "http":
            return self._http_transport()
        from mcp.client.stdio import StdioServerParameters, stdio_client
        argv = self._argv()
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=self.layout().env, cwd=str(self.base))
        return stdio_client(params, errlog=self._output.file)

    @asynccontextmanager
    async def _http_transport(self):
        """The SDK's streamable HTTP client on an httpx2 client whose connections go to the sandbox's socket: the
        URL (its Host header too) stays the entry's, as the server expects it; the SDK's default timeouts."""
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

        url = _expand(self.spec.url, self.values, f"server {self.spec.name!r}")
        async with httpx2.AsyncClient(transport=unix_socket_transport(str(self.socket)),
                                      timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT,
                                                             read=MCP_DEFAULT_SSE_READ_TIMEOUT)) as client:
            async with streamable_http_client(url, http_client=client) as streams:
                yield streams

    def request(self, method: str, params: dict | None = None) -> tuple[Exchange, Exception | None]:
        """Send one request; returns its exchange and what the client raised (JSON-RPC error, timeout, a result
        it could not validate) or None. The exchange holds the raw messages whatever the client made of them."""
        before = len(self.proxy.order)
        error = None
        try:
            self._loop.run_until_complete(self._send_within_timeout(method, params or {}))
        except TimeoutError:
            error = CallTimeout(f"Request {method!r} timed out after {self.call_timeout_s:g} s")
        except Exception as exc:  # the SDK raises on error responses and on results it cannot validate
            error = exc
        sent = self.proxy.take(before)
        if not sent:
            raise RuntimeError(f"server {self.spec.name!r}: {method} was never sent ({error!r})")
        if isinstance(error, CallTimeout) and sent[0].original is None:
            # The server is still working on the call (when the proxy held its answer back, it is not): a fresh
            # process, so the next call does not meet the abandoned one's effects half-way.
            error.restart_s = self.restart()
        return sent[0], error

    async def _send_within_timeout(self, method: str, params: dict):
        with anyio.fail_after(self.call_timeout_s):
            return await self._send(method, params)

    async def _send(self, method: str, params: dict):
        import mcp_types as types

        session = self.session
        if method == "tools/call":
            return await session.call_tool(params["name"], params.get("arguments") or {})
        if method == "resources/read":
            return await session.read_resource(params["uri"])
        if method == "prompts/get":
            return await session.get_prompt(params["name"], params.get("arguments") or {})
        page = types.PaginatedRequestParams(cursor=params["cursor"]) if params.get("cursor") else None
        listing = {"tools/list": session.list_tools, "resources/list": session.list_resources,
                   "prompts/list": session.list_prompts, "resources/templates/list": session.list_resource_templates}
        if method in listing:
            return await listing[method](params=page)
        raise ValueError(f"unsupported MCP method {method!r}; use tools/call, resources/read, prompts/get or a "
                         f"list method")

    def hints(self) -> dict[str, list[str]]:
        where = f"server {self.spec.name!r}"
        return {k: [_expand(v, self.values, where) for v in values] for k, values in self.spec.hints.items()}

    def expand_arguments(self, value: Any) -> Any:
        """A task's call arguments with {workdir} and {pages} filled in."""
        if isinstance(value, str):
            for name in ARGUMENT_PLACEHOLDERS:
                if "{" + name + "}" in value:
                    value = value.replace("{" + name + "}", self.values[name])
            return value
        if isinstance(value, dict):
            return {k: self.expand_arguments(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand_arguments(v) for v in value]
        return value

    def stderr(self) -> str:
        """The last OUTPUT_TAIL_BYTES of the server's stdout and stderr (its forwarder's too), all its starts."""
        return self._output.text()

    def _close_client(self, wait_s: float = 15) -> None:
        """Ends the client session (and with it a stdio server, which the SDK stops) and the event loop."""
        try:
            if self._holder is not None and not self._holder.done():
                self._stop.set()
                try:
                    self._loop.run_until_complete(asyncio.wait_for(self._holder, wait_s))
                except Exception:
                    pass  # a server that is already gone or will not stop; the process is reaped below
            if self._loop is not None:
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
                self._loop.close()
        finally:
            self._holder = self._loop = None
            self.session = None

    def _stop_session(self) -> None:
        try:
            self._close_client()
        finally:
            if self._process is not None and self._process.poll() is None:
                try:
                    os.killpg(self._process.pid, signal.SIGTERM)
                    self._process.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(self._process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self._process.wait()
            self._process = None

    def close(self) -> None:
        try:
            self._stop_session()
        finally:
            self._output.close()
            _release_workspace(self._workspace)
            shutil.rmtree(self.base, ignore_errors=True)
            if self._group is not None:
                self._group.close()
            release_sandbox_uid(self.uid)
