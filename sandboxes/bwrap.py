"""What MCP servers (sandboxes/mcp_servers.py) and Chromium (sandboxes/browser.py) share to run sandboxed: the system
paths a sandbox shows read-only, bubblewrap's bind arguments, user ids of their own while the collector is root,
and the `prlimit ... bwrap ... [setpriv ...]` command line around a program."""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

# What every sandbox sees read-only: the system's programs and libraries, and the few files under /etc that
# programs read (dynamic linker, name resolution, users and groups, time zone, TLS roots, alternatives links).
# Not the rest of /etc (/etc/shadow, credential helpers in /etc/gitconfig, /etc/ssl/private), not /root, /home,
# /work, /opt, /var or the project's checkout. /etc/hosts is SANDBOX_HOSTS: the host's names the machine (and what
# runs it), which observations would carry into training data.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/resolv.conf",
                "/etc/host.conf", "/etc/gai.conf", "/etc/nsswitch.conf", "/etc/services",
                "/etc/protocols", "/etc/passwd", "/etc/group", "/etc/localtime", "/etc/timezone", "/etc/ssl/certs",
                "/etc/ssl/openssl.cnf", "/etc/mime.types")
# Every sandbox's host name (its own uts namespace), as the Docker terminal's, and the hosts file naming it.
SANDBOX_HOSTNAME = "sandbox"
SANDBOX_HOSTS = Path(__file__).with_name("sandbox_hosts.txt")
SANDBOX_UID_BASE = 2_000_000_000
# A file per user id, locked (flock) by the process whose sandbox holds the id: the kernel frees it when that process
# ends, killed or not, so no stale claim outlives a collector.
SANDBOX_UID_LOCKS = Path("/run/worldline/sandbox-uids")
_uid_locks: dict[int, int] = {}  # the ids this process holds, and the descriptor of each one's lock
_uids_lock = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """prlimit caps for every process of a sandbox. `processes` (RLIMIT_NPROC, threads included) counts per real
    user id and root is exempt from it, so it applies only when the sandbox runs as a user id of its own."""

    data_bytes: int  # private writable memory (RLIMIT_DATA)
    file_size_bytes: int  # largest file written
    open_files: int
    processes: int
    cpu_s: int | None = None  # per process; SIGKILL when spent

    def prlimit(self, cap_processes: bool) -> list[str]:
        return ["prlimit", f"--data={self.data_bytes}", f"--fsize={self.file_size_bytes}",
                f"--nofile={self.open_files}", *([f"--cpu={self.cpu_s}"] if self.cpu_s is not None else []),
                *([f"--nproc={self.processes}"] if cap_processes else []), "--"]


def covered(path: str, binds: list[str]) -> bool:
    return any(path == b or path.startswith(b.rstrip("/") + "/") for b in binds)


def parent_dirs(path: str, made: set[str]) -> list[str]:
    """bwrap arguments making the folders above `path`, each once, with mode 0755 (bwrap's default, 0700, would
    shut out the sandbox's non-root user)."""
    args = []
    for parent in reversed(Path(path).parents[:-1]):  # /root, /root/.pyenv, ... (not / itself)
        if str(parent) not in made:
            args += ["--perms", "0755", "--dir", str(parent)]
            made.add(str(parent))
    return args


def bind_args(paths: list[str], made: set[str]) -> list[str]:
    """bwrap arguments that show `paths` read-only at their own place: parents before children, a path inside
    another bound one skipped, and a symlink whose target is bound kept as a symlink (/bin -> usr/bin,
    /etc/localtime -> the zone file), any other symlink bound as what it points to."""
    wanted = sorted({os.path.normpath(p) for p in paths if os.path.lexists(p)})
    real_dirs = [p for p in wanted if not os.path.islink(p)]
    args, bound = [], []
    for path in wanted:
        if covered(path, bound):
            continue
        symlink = False
        if os.path.islink(path):
            target = os.path.realpath(path)
            symlink = covered(target, real_dirs)
            if not symlink and not os.path.exists(target):
                continue
        args += parent_dirs(path, made)
        args += ["--symlink", os.readlink(path), path] if symlink else ["--ro-bind", path, path]
        bound.append(path)
    return args


def take_sandbox_uid() -> int:
    """A user id no account uses, for one sandbox while it lives, so RLIMIT_NPROC counts each sandbox's processes
    apart: the lowest one no other live sandbox holds, of this collector process or of another one, so a run's
    observations see the same ids."""
    SANDBOX_UID_LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _uids_lock:
        for uid in itertools.count(SANDBOX_UID_BASE):
            if uid in _uid_locks:
                continue
            lock = os.open(SANDBOX_UID_LOCKS / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)
                continue
            _uid_locks[uid] = lock
            return uid


def release_sandbox_uid(uid: int | None) -> None:
    with _uids_lock:
        lock = _uid_locks.pop(uid, None)
    if lock is not None:
        os.close(lock)


def account_files(folder: Path, uid: int, user: str, home: str, gecos: str) -> list[str]:
    """The host's passwd and group with an account `user` for `uid` added (so `getpwuid` works in the sandbox),
    written into `folder`; `command` mounts them over the host's."""
    written = []
    for name, line in (("passwd", f"{user}:x:{uid}:{uid}:{gecos}:{home}:/usr/sbin/nologin"),
                       ("group", f"{user}:x:{uid}:")):
        try:
            host = Path("/etc", name).read_text()
        except OSError:
            host = ""
        (folder / name).write_text(host + ("" if host.endswith("\n") or not host else "\n") + line + "\n")
        written.append(str(folder / name))
    return written


def require(error: type[Exception], setup_script: str) -> None:
    if shutil.which("bwrap") is None:
        raise error(f"bubblewrap (bwrap) is not installed; run {setup_script}")


def command(argv: list[str], mounts: list[str], limits: Limits, network: bool, uid: int | None = None,
            accounts: list[str] = ()) -> list[str]:
    """`argv` under prlimit's `limits` and bubblewrap: a root holding only what `mounts` (bwrap arguments) show;
    own pid/ipc/uts (and net unless `network`) namespaces, named SANDBOX_HOSTNAME; killed when bwrap's parent dies. When the collector
    is root, `argv` runs as `uid` with no capabilities (setpriv, from inside the sandbox: bwrap itself needs root
    to mount), so the process cap holds; `accounts` are passwd and group files naming it, mounted over /etc's.
    File descriptors the caller leaves open pass through (prlimit, bwrap and setpriv keep them)."""
    switch_user = os.geteuid() == 0 and uid is not None
    if switch_user:
        # No user namespace (--unshare-all would try one): setpriv needs a real uid to switch to.
        options = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try",
                   *([] if network else ["--unshare-net"]), "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--", *argv]
        for source in accounts:
            options += ["--ro-bind", source, f"/etc/{Path(source).name}"]
    else:
        # Not root: the program keeps the collector's user, whose other processes RLIMIT_NPROC would count too.
        options = ["--unshare-all", *(["--share-net"] if network else [])]
    names = ["--hostname", SANDBOX_HOSTNAME, "--ro-bind", str(SANDBOX_HOSTS), "/etc/hosts"]
    return [*limits.prlimit(switch_user), "bwrap", *mounts, *names, *options, "--die-with-parent", "--", *argv]


def process_tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree
