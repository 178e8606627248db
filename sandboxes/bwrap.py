"""What MCP servers (sandboxes/mcp_sandbox.py) and Chromium (sandboxes/browser.py) share to run sandboxed: the system
paths a sandbox shows read-only, bubblewrap's bind arguments, user ids of their own while the collector is root,
the seccomp filter and minimal account files every sandbox gets, lxcfs's /proc files (sandboxes/proc_view.py), and
the `bash ... prlimit ... bwrap ... [setpriv ...]` command line around a program."""

from __future__ import annotations

import errno
import fcntl
import functools
import itertools
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pyseccomp

from sandboxes import proc_view

# What every sandbox sees read-only: the system's programs and libraries, and the few files under /etc that
# programs read (dynamic linker, name resolution, TLS roots, alternatives links). Not the rest of /etc
# (/etc/shadow, credential helpers in /etc/gitconfig, /etc/ssl/private), not /root, /home, /work, /opt, /var or the
# project's checkout. /etc/hosts is SANDBOX_HOSTS: the host's names the machine (and what runs it), which
# observations would carry into training data; /etc/passwd and /etc/group are `command`'s (account_text), as the
# host's list its accounts; so are the time zone (UTC_ZONE) and /etc/resolv.conf (host_file_args), which name the
# collector's zone and name server.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                "/etc/host.conf", "/etc/gai.conf", "/etc/nsswitch.conf", "/etc/services",
                "/etc/protocols", "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/mime.types")
# Every sandbox's time zone: /etc/localtime a link to tzdata's UTC file (under /usr, shown already: a link adds no
# host path), as Debian's own link reads, and /etc/timezone naming it. A link, not TZ=UTC: an environment variable
# would show in every server's environment (the everything server's get-env prints it), a file only to a reader of
# it. Without tzdata installed the link leads nowhere, and glibc, node and Chromium take UTC all the same.
UTC_ZONE = "/usr/share/zoneinfo/Etc/UTC"
HOST_RESOLV = "/etc/resolv.conf"
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


def account_text(uid: int, gid: int, user: str, home: str, gecos: str) -> dict[str, str]:
    """passwd and group naming only root, nobody/nogroup and `user` (so getpwuid works in the sandbox: node's
    os.userInfo(), git's ident fallback and getpass fail without an entry for the running id; root needs none of
    its own), not the host's accounts."""
    passwd = ["root:x:0:0:root:/root:/usr/sbin/nologin", "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"]
    group = ["root:x:0:", "nogroup:x:65534:"]
    if uid != 0:
        passwd.append(f"{user}:x:{uid}:{gid}:{gecos}:{home}:/usr/sbin/nologin")
        group.append(f"{user}:x:{gid}:")
    return {"passwd": "\n".join(passwd) + "\n", "group": "\n".join(group) + "\n"}


def account_files(folder: Path, uid: int, user: str, home: str, gecos: str) -> list[str]:
    """account_text for `user` as `uid` (its group too), written into `folder`; `command` mounts them at /etc."""
    written = []
    for name, text in account_text(uid, uid, user, home, gecos).items():
        (folder / name).write_text(text)
        written.append(str(folder / name))
    return written


# Calls a sandboxed process never needs, each returning EPERM (as under Docker's default seccomp profile): the
# kernel keyrings, which bwrap does not separate (no user namespace when the collector is root: a server read the
# collector's session keyring and keys other servers left), and taking another process's memory or descriptors.
DENIED_SYSCALLS = ("keyctl", "add_key", "request_key", "pidfd_getfd", "ptrace", "process_vm_readv",
                   "process_vm_writev")
# The 32-bit ABIs a 64-bit kernel also runs, so a 32-bit program neither escapes the filter nor is killed by it.
COMPAT_ARCHES = {pyseccomp.Arch.X86_64: (pyseccomp.Arch.X86, pyseccomp.Arch.X32),
                 pyseccomp.Arch.AARCH64: (pyseccomp.Arch.ARM,)}
# Descriptors this process keeps for bwrap to read from (its own numbers, >= this): the command line reopens each at
# the same number, which no descriptor a caller passes on can hold since this process holds it.
HELD_FD_MIN = 10


def held_fd(name: str, write) -> int:
    """A memfd `write(file)` fills, held open by this process at a number >= HELD_FD_MIN (close-on-exec: children
    reopen it through /proc/<pid>/fd, see `command`)."""
    made = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        with os.fdopen(os.dup(made), "wb") as handle:
            write(handle)
        return fcntl.fcntl(made, fcntl.F_DUPFD_CLOEXEC, HELD_FD_MIN)
    finally:
        os.close(made)


@functools.cache
def seccomp_fd() -> int:
    """The BPF program of DENIED_SYSCALLS for the running architecture (libseccomp), made once per process."""
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for arch in COMPAT_ARCHES.get(pyseccomp.system_arch(), ()):
        rules.add_arch(arch)
    for name in DENIED_SYSCALLS:
        rules.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
    return held_fd("wl-seccomp", rules.export_bpf)


@functools.cache
def account_fds(uid: int, gid: int) -> dict[str, int]:
    """account_text for a sandbox given no account files: its `uid` and `gid` are the collector's own when the
    collector is not root (bwrap maps them into the sandbox's user namespace)."""
    return {name: held_fd(f"wl-{name}", lambda handle, text=text: handle.write(text.encode()))
            for name, text in account_text(uid, gid, "sandbox", "/", "sandbox").items()}


def require(error: type[Exception], setup_script: str) -> None:
    if shutil.which("bwrap") is None:
        raise error(f"bubblewrap (bwrap) is not installed; run {setup_script}")


def command(argv: list[str], mounts: list[str], limits: Limits, network: bool, uid: int | None = None,
            accounts: list[str] = ()) -> list[str]:
    """`argv` under prlimit's `limits` and bubblewrap: a root holding only what `mounts` (bwrap arguments) show;
    own pid/ipc/uts (and net unless `network`) namespaces, named SANDBOX_HOSTNAME; seccomp_fd's filter; lxcfs's
    /proc files over the /proc that `mounts` mounts (with_proc_view); killed when bwrap's parent dies. When the
    collector is root, `argv` runs as `uid` with no capabilities (setpriv, from inside the sandbox: bwrap itself
    needs root to mount), so the process cap holds; `accounts` are passwd and group files naming it
    (account_files), mounted at /etc, else account_fds' are. File descriptors the caller leaves open
    pass through (bash, prlimit, bwrap and setpriv keep them); bwrap closes the ones it reads."""
    switch_user = os.geteuid() == 0 and uid is not None
    if switch_user:
        # No user namespace (--unshare-all would try one): setpriv needs a real uid to switch to.
        options = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try",
                   *([] if network else ["--unshare-net"]), "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--", *argv]
    else:
        # Not root: the program keeps the collector's user, whose other processes RLIMIT_NPROC would count too.
        options = ["--unshare-all", *(["--share-net"] if network else [])]
    held = [seccomp_fd()]
    options += ["--seccomp", str(held[0])]
    if accounts:
        for source in accounts:
            options += ["--ro-bind", source, f"/etc/{Path(source).name}"]
    else:
        ids = (uid, uid) if switch_user else (os.getuid(), os.getgid())
        for name, fd in account_fds(*ids).items():
            held.append(fd)
            options += ["--perms", "0644", "--ro-bind-data", str(fd), f"/etc/{name}"]  # bwrap's default is 0600
    proc_files, etc_files = host_file_args(network, held, proc_at(mounts) is not None)
    return [*reopen(held), *limits.prlimit(switch_user), "bwrap", *with_proc_view(mounts, proc_files),
            "--hostname", SANDBOX_HOSTNAME, *etc_files, *options, "--die-with-parent", "--", *argv]


@functools.cache
def fixed_file_fd(path: str, text: str) -> int:
    return held_fd(f"wl-{Path(path).name}", lambda handle: handle.write(text.encode()))


def host_file_args(network: bool, held: list[int], with_proc: bool) -> tuple[list[str], list[str]]:
    """bwrap arguments for the files that would name the host (proc_view.HOST_FILES): fixed texts over /proc's boot
    line and boot id, to follow the /proc mount (none `with_proc` false); SANDBOX_HOSTS's text as /etc/hosts (its
    text, not a bind of the file, which /proc/self/mountinfo would name by its place in the checkout); the UTC zone;
    and /etc/resolv.conf, the host's only for a sandbox on the host's network (which needs its name server), else
    proc_view.OFFLINE_RESOLV. Appends the descriptors the texts are read from to `held` (one left unread would pass
    into the sandbox)."""
    def fixed(path: str, text: str) -> list[str]:
        held.append(fixed_file_fd(path, text))
        return ["--perms", "0444", "--ro-bind-data", str(held[-1]), path]  # bwrap's default, 0600, is root's only

    proc_files = [arg for path, text in proc_view.HOST_FILES.items() for arg in fixed(path, text)] if with_proc else []
    etc_files = [*fixed("/etc/hosts", SANDBOX_HOSTS.read_text()), "--symlink", UTC_ZONE, "/etc/localtime",
                 *fixed("/etc/timezone", "Etc/UTC\n")]
    if network and os.path.exists(HOST_RESOLV):
        etc_files += ["--ro-bind", HOST_RESOLV, HOST_RESOLV]
    else:
        etc_files += fixed(HOST_RESOLV, proc_view.OFFLINE_RESOLV)
    return proc_files, etc_files


def with_proc_view(mounts: list[str], after: list[str] = ()) -> list[str]:
    """`mounts` with proc_view's lxcfs binds, then `after`, right after their `--proc /proc` (a proc mount made after
    them would cover them), so the sandbox's memory, CPUs and load are its cgroup's rather than the host's; unchanged
    when `mounts` mount no /proc, and without the lxcfs binds when lxcfs does not answer (proc_view.bwrap_view says
    which)."""
    at = proc_at(mounts)
    return mounts if at is None else [*mounts[:at + 2], *proc_view.bwrap_args(), *after, *mounts[at + 2:]]


def proc_at(mounts: list[str]) -> int | None:
    """Where `mounts` mount /proc (`--proc /proc`), if they do."""
    return next((at for at in range(len(mounts) - 1) if mounts[at:at + 2] == ["--proc", "/proc"]), None)


def reopen(fds: list[int]) -> list[str]:
    """A shell opening this process's descriptors `fds` at their own numbers, then running the rest of the command
    line: callers run it as it is (subprocess closes what they do not pass on, Playwright runs it from a script).
    bash, as dash cannot name descriptors past 9; a descriptor it cannot open ends it before bwrap runs."""
    opens = " ".join(f"{fd}</proc/{os.getpid()}/fd/{fd}" for fd in fds)
    return ["bash", "-c", f'exec {opens} && exec "$@"', "bash"]


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
