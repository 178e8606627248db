"""Every bubblewrap sandbox (MCP servers, the search engine, Chromium) gets a seccomp filter and passwd/group files of
its own. Before: a sandbox shared the collector's kernel keyrings (a server read a key the collector kept in its
session keyring, and keys another server left), could take another process's descriptors (pidfd_getfd) or memory
(process_vm_readv), and saw the host's /etc/passwd and /etc/group (24 accounts here) plus its own user."""

import os
import subprocess
import sys
from pathlib import Path

import pyseccomp
import pytest

from sandboxes import bwrap

LIMITS = bwrap.Limits(data_bytes=512 << 20, file_size_bytes=1 << 20, open_files=64, processes=32)
PROJECT = Path(__file__).resolve().parents[2]
NUMBERS = {name: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
           for name in ("keyctl", "add_key", "pidfd_open", "pidfd_getfd", "process_vm_readv")}
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SEARCH, KEYCTL_READ = 1, 10, 11
KEY_SPEC_SESSION_KEYRING = -3

# Run by the sandbox's own python3: reports what each call gave, "ok ..." or the errno's name.
PROBE = f"""
import ctypes, errno, os, subprocess
NR = {NUMBERS!r}
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(name, *args):
    # syscall() is variadic: an int left as ctypes' 32-bit int leaves the register's upper half undefined.
    result = libc.syscall(NR[name], *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
    return result if result >= 0 else errno.errorcode[ctypes.get_errno()]

key = call("keyctl", {KEYCTL_SEARCH}, {KEY_SPEC_SESSION_KEYRING}, b"user", b"wl-test-secret", 0)
if isinstance(key, int):
    buffer = ctypes.create_string_buffer(64)
    size = call("keyctl", {KEYCTL_READ}, key, buffer, 64)
    print("search", "read", buffer.raw[:size] if isinstance(size, int) else size)
else:
    print("search", key)
print("add_key", call("add_key", b"user", b"wl-test-left", b"x", 1, {KEY_SPEC_SESSION_KEYRING}))
child = subprocess.Popen(["sleep", "30"])
pidfd = call("pidfd_open", child.pid, 0)
print("pidfd_getfd", call("pidfd_getfd", pidfd, 0, 0))
local, remote = ctypes.create_string_buffer(8), ctypes.create_string_buffer(b"secret!")
iov = lambda buffer: (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 8)
print("process_vm_readv", call("process_vm_readv", os.getpid(), iov(local), 1, iov(remote), 1, 0))
child.kill()
os.close(pidfd)
print("fds", sorted(os.listdir("/proc/self/fd")))
"""

# The collector's side: a session keyring of its own holding a secret (as a login session's has), then the
# sandboxed probe, which inherits that keyring unless the filter keeps it out.
COLLECTOR = f"""
import ctypes, subprocess, sys
from sandboxes import bwrap
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
call = lambda *args: libc.syscall(*(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
assert call({NUMBERS['keyctl']}, {KEYCTL_JOIN_SESSION_KEYRING}, b"wl-test-session") >= 0
assert call({NUMBERS['add_key']}, b"user", b"wl-test-secret", b"hunter2", 7, {KEY_SPEC_SESSION_KEYRING}) >= 0
uid = bwrap.take_sandbox_uid() if sys.argv[1] == "own-user" else None
mounts = [*bwrap.bind_args(list(bwrap.SYSTEM_PATHS), set()), "--proc", "/proc", "--dev", "/dev"]
argv = bwrap.command(["python3", "-c", sys.argv[2]], mounts, LIMITS, network=False, uid=uid)
print(subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout, end="")
key = call({NUMBERS['keyctl']}, {KEYCTL_SEARCH}, {KEY_SPEC_SESSION_KEYRING}, b"user", b"wl-test-left", 0)
print("left_key_found", key >= 0)
"""


def run_collector(user: str) -> dict[str, str]:
    script = f"from sandboxes import bwrap\nLIMITS = bwrap.{LIMITS!r}\n" + COLLECTOR
    done = subprocess.run([sys.executable, "-c", script, user, PROBE], capture_output=True, text=True, timeout=90,
                          cwd=PROJECT)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in done.stdout.splitlines())


@pytest.mark.parametrize("user", ["own-user", "collector-user"])
def test_a_sandbox_gets_eperm_from_keyrings_and_cross_process_calls(user):
    if user == "own-user" and os.geteuid() != 0:
        pytest.skip("sandbox user ids are handed out only to a collector running as root")
    seen = run_collector(user)
    assert seen["search"] == "EPERM"  # before: "read b'hunter2'", the collector's secret
    assert seen["add_key"] == "EPERM"
    assert seen["left_key_found"] == "False"  # by the collector
    assert seen["pidfd_getfd"] == "EPERM"  # before: a descriptor of the sleep child
    assert seen["process_vm_readv"] == "EPERM"
    # bwrap reads and closes the filter's and account files' descriptors: the program holds only its stdio (and
    # the descriptor listing /proc/self/fd).
    assert seen["fds"] == "['0', '1', '2', '3']"


def run_sandboxed(script: str, uid: int | None, accounts: list[str] = (), pass_fds=()) -> str:
    argv = bwrap.command(["/bin/sh", "-c", script], bwrap.bind_args(list(bwrap.SYSTEM_PATHS), set()), LIMITS,
                         network=False, uid=uid, accounts=accounts)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True, pass_fds=pass_fds).stdout


def test_passwd_and_group_name_only_root_nobody_and_the_sandbox_user(tmp_path):
    uid = bwrap.take_sandbox_uid() if os.geteuid() == 0 else None
    try:
        accounts = bwrap.account_files(tmp_path, uid, "mcp-server", "/tmp/workspace", "MCP server") if uid else []
        shown = run_sandboxed("getent passwd; echo --; getent group; echo --; id -un; id -gn", uid, accounts)
    finally:
        bwrap.release_sandbox_uid(uid)
    passwd, group, names = (part.split("\n") for part in shown.strip().split("\n--\n"))
    user, ids = ("mcp-server", uid) if uid else ("sandbox", os.getuid())
    assert [line.split(":")[0] for line in passwd] == ["root", "nobody", user]  # before: the host's 24, then it
    assert passwd[2].split(":")[2] == str(ids)
    assert [line.split(":")[0] for line in group] == ["root", "nogroup", user]
    assert names == [user, user]


def test_descriptors_the_caller_passes_still_reach_the_program():
    # The filter's descriptor is this process's own number, so no descriptor passed on can be overwritten by it.
    read_end, write_end = os.pipe()
    try:
        shown = run_sandboxed(f"python3 -c 'import os; os.write({write_end}, b\"through\\n\")'; echo done", None,
                              pass_fds=(write_end,))
        os.close(write_end)
        assert shown == "done\n"
        assert os.read(read_end, 64) == b"through\n"
    finally:
        os.close(read_end)
