"""What an MCP server's bubblewrap sandbox is made of: what it shows of this machine (SandboxLayout, found from the
server's entry: the placeholders' folders at their fixed places under SANDBOX_OPT, worldline's venv and packages,
the page server and socket forwarder launchers) and the environment it runs with; its caps (prlimit per process,
a cgroup for them all, tmpfs sizes for its writable places) and the record an episode keeps of them; the working
directory's capped tmpfs; and the bwrap command line around a server's command."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sandboxes import bwrap, cgroup, proc_view
from sandboxes.bwrap import SYSTEM_PATHS, bind_args, covered, parent_dirs
from sandboxes.mcp_install import RUNTIME_TOOLS, SETUP_COMMAND
from sandboxes.mcp_server_spec import (PAGES_HOST, PAGES_PORT, PLACEHOLDERS, PROJECT_ROOT, SANDBOX_FOLDERS,
                                       SANDBOX_OPT, SANDBOX_PYTHON, SANDBOX_SRC, SANDBOX_VENV, SANDBOX_WORKDIR,
                                       ServerSpec, expand, python_home, sandbox_base_python, serves_pages)
from schemas.home import HOME_VARIABLE

# The whole environment a server gets (plus what its placeholders and its entry's env add): nothing of the
# collector's, whose PATH names its venv and whose variables may hold credentials.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"

PAGES_FOLDER = PROJECT_ROOT / "sandboxes" / "mcp_pages"
PAGES_LAUNCHER = PROJECT_ROOT / "sandboxes" / "serve_pages.py"
SANDBOX_PAGES = f"{SANDBOX_OPT}/pages"
SANDBOX_PAGES_LAUNCHER = f"{SANDBOX_OPT}/serve_pages.py"

# The http transport: the server listens on its own sandbox's loopback (no host network) and the client reaches it
# through a unix socket that sandboxes/mcp_forward.py forwards to that port (sandboxes/mcp_servers.py makes the
# socket).
FORWARD_LAUNCHER = PROJECT_ROOT / "sandboxes" / "mcp_forward.py"
SANDBOX_FORWARD_LAUNCHER = f"{SANDBOX_OPT}/mcp_forward.py"

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
# The working directory's tmpfs, mounted in a mount namespace of its own (unshare) by a process that lives until its
# stdin closes: when the connection closes it, or when the collector dies however it dies (the kernel closes the
# pipe). The mount then goes with the namespace's last process, so a SIGKILLed collector leaves no mount behind,
# and it lasts across restarts and prepare commands, which each start a sandbox of their own inside that namespace.
WORKSPACE_MOUNT = ('mount -t tmpfs -o "size=$2,mode=0700,uid=$3,gid=$3,nosuid,nodev" wl-workspace "$1" '
                   '&& echo ready && read -r _')

# Besides bwrap.SYSTEM_PATHS (the system's programs and libraries), what an entry needs from /root, /home, /work,
# /opt, /var or the project's checkout is shown at SANDBOX_OPT.

# worldline's top-level packages (pyproject.toml's [tool.setuptools.packages.find]).
WORLDLINE_PACKAGES = ("collectors", "pipelines", "sandboxes", "schemas", "transforms")


class ServerStartError(RuntimeError):
    pass


def pages_launcher() -> list[str]:
    """The command that starts the page server in the sandbox and then execs the server's own command after `--`:
    the bare Python installation (shown at SANDBOX_PYTHON, or /usr), isolated from the entry's environment (-I),
    since it needs the standard library only."""
    return [sandbox_base_python(), "-I", SANDBOX_PAGES_LAUNCHER, PAGES_HOST, str(PAGES_PORT), SANDBOX_PAGES, "--"]


def forward_launcher(port: int, listener: int, ready: int) -> list[str]:
    """The command that starts the socket forwarder in the sandbox and then execs the server's own command after
    `--` (stdlib only, like the page server's): it accepts on the inherited descriptor `listener` and writes a byte
    to `ready` once the port accepts."""
    return [sandbox_base_python(), "-I", SANDBOX_FORWARD_LAUNCHER, str(listener), str(ready), str(port), "--"]


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


def server_layout(spec: ServerSpec, values: dict[str, str], host_values: dict[str, str], folder: Path,
                  forwarded: bool) -> SandboxLayout:
    """What the sandbox of the server `spec` shows besides the system paths, found from its entry: the folders of
    the placeholders it uses at their fixed places under SANDBOX_OPT ({python} brings worldline's venv and
    packages, a venv its Python installation), the host paths the entry names itself, and the environment: a
    fixed base, what the placeholders add (VIRTUAL_ENV, PYTHONPATH, NODE_PATH...) and the entry's `env`.
    `values` and `host_values` are the placeholders' values in the sandbox and on this machine, `folder` the
    connection's own (for the pyvenv.cfg files written), `forwarded` whether the socket forwarder runs (http)."""
    where = f"server {spec.name!r}"
    texts = [spec.command, *spec.args, *spec.env.values(), *spec.prepare, spec.url, *spec.read_only]
    used = {name for name in PLACEHOLDERS if any("{" + name + "}" in t for t in texts)}
    layout = SandboxLayout(in_place=_named_paths(spec, values), env=_base_env())
    for name in ("node_modules", "cache"):
        if name in used:
            layout.moved[SANDBOX_FOLDERS[name]] = host_values[name]
    if "node_modules" in used:
        layout.env["NODE_PATH"] = SANDBOX_FOLDERS["node_modules"]
    if "mcp_venv" in used:
        _add_venv(layout, Path(host_values["mcp_venv"]), SANDBOX_FOLDERS["mcp_venv"], folder)
    if "python" in used:
        _add_worldline(layout, folder)
    if serves_pages(spec):
        _add_python_home(layout, Path(sys.base_prefix))
        layout.moved |= {SANDBOX_PAGES: str(PAGES_FOLDER), SANDBOX_PAGES_LAUNCHER: str(PAGES_LAUNCHER)}
    if forwarded:
        _add_python_home(layout, Path(sys.base_prefix))
        layout.moved[SANDBOX_FORWARD_LAUNCHER] = str(FORWARD_LAUNCHER)
    layout.env |= {k: expand(v, values, where) for k, v in spec.env.items()}
    return layout


def _named_paths(spec: ServerSpec, values: dict[str, str]) -> list[str]:
    """Host paths the entry names itself, shown at that same path since that is how the entry names them: its
    program (with the interpreter and venv behind it) unless a placeholder's folder holds it, absolute paths
    in its args and env (a script file, a data folder), and its `read_only` list."""
    where = f"server {spec.name!r}"
    command = expand(spec.command, values, where)
    paths = [] if covered(command, [SANDBOX_OPT]) else _program_paths(shutil.which(command) or "")
    for text in [*spec.args, *spec.env.values()]:
        value = expand(text, values, where)
        if value.startswith("/") and not covered(value, [SANDBOX_WORKDIR, SANDBOX_OPT]) and os.path.exists(value):
            paths.append(value)
    paths += [expand(p, values, where) for p in spec.read_only]
    return [p for p in paths if p and os.path.normpath(p) != "/"]


def _base_env() -> dict[str, str]:
    return {"PATH": SANDBOX_PATH, "HOME": SANDBOX_WORKDIR, "USER": SANDBOX_USER, "LOGNAME": SANDBOX_USER,
            "LANG": "C.UTF-8"}


def _add_python_home(layout: SandboxLayout, base: Path) -> str:
    home = python_home(base)
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
        raise ServerStartError(f"{venv} is not a venv ({config}: {exc.strerror}); run `{SETUP_COMMAND}` (or set "
                               f"{HOME_VARIABLE} to where the servers are installed)") from exc
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


def describe_sandbox(network: bool, processes_capped: bool, total: dict, workspace_capped: bool,
                   output_tail_bytes: int) -> dict:
    """What an episode records of a server's sandbox (env details): its caps, and whether it has a network.
    `output_tail_bytes` is what the collector keeps of the server's output, in its memory, none on disk."""
    # Read at each call, not once: tests lower WORKSPACE_BYTES and TMP_BYTES on this module.
    return {"kind": "bwrap", "limits": asdict(sandbox_limits()),
            "processes_capped": processes_capped, "total": total,
            "network": network, "proc_view": proc_view.bwrap_view(),
            "seccomp_denied": list(bwrap.DENIED_SYSCALLS),
            "disk": {"workspace_bytes": WORKSPACE_BYTES if workspace_capped else None,
                     "tmp_bytes": TMP_BYTES,
                     "output_tail_bytes": output_tail_bytes}}


def sandboxed(argv: list[str], workdir: str, network: bool, layout: SandboxLayout,
              uid: int | None = None, accounts: list[str] = (), group: cgroup.Group | None = None,
              namespace: list[str] = ()) -> list[str]:
    """bubblewrap (bwrap.command): a root of its own holding only the system paths and what `layout` shows
    (read-only), the working directory (read-write) at SANDBOX_WORKDIR, and `layout`'s environment only; a private
    /tmp of TMP_BYTES; own pid/ipc/uts (and net unless asked); prlimit caps on memory, file size, open files, CPU time and
    processes; as `uid` (named in the `accounts` files) when the collector is root; inside `group`, which caps
    the memory and processes of all of them together; entered through `namespace` (nsenter into the mount
    namespace where `workdir` is a capped tmpfs)."""
    # The setup command cannot install bubblewrap (apt can): it only notes it missing.
    bwrap.require(ServerStartError, f"`apt-get install -y {RUNTIME_TOOLS['bwrap']}`, then `{SETUP_COMMAND}`")
    limits = sandbox_limits()
    mounts = [*layout.bwrap_args(), "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--size", str(TMP_BYTES),
              "--tmpfs", "/tmp", "--bind", workdir, SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR]
    argv = [*namespace, *bwrap.command(argv, mounts, limits, network, uid, accounts)]
    return group.wrap(argv) if group is not None else argv


@functools.cache
def _warn_once(message: str) -> None:
    logging.getLogger(__name__).warning(message)


def hold_workspace(folder: Path, uid: int, server: str) -> subprocess.Popen:
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


def release_workspace(holder: subprocess.Popen | None) -> None:
    if holder is not None:
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()


def total_caps(server: str) -> tuple[cgroup.Group | None, dict]:
    """A cgroup for one server's sandbox, and what the data records of it: its caps, or why there is none."""
    try:
        group = cgroup.make_group(f"mcp-{server}", TOTAL_MEMORY_BYTES, PROCESS_LIMIT, TOTAL_CPUS)
    except cgroup.Unavailable as exc:
        _warn_once(f"MCP servers run with per-process caps only: {exc}")
        return None, cgroup.unavailable_record(str(exc))
    return group, group.record()
