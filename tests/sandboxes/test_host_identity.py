"""What a sandbox shows of the machine that collects (privacy audit PR7, PR9): neither a Docker container nor a
bubblewrap sandbox reads the host's boot line, boot id, name server or (bwrap) time zone, and a container's
/proc/self/cgroup does not carry its full id. Before, `cat /proc/cmdline /proc/sys/kernel/random/boot_id
/etc/resolv.conf` printed the host VM's init line, one id per host boot and the host's DNS server, and
/proc/1/cgroup `/docker/<64 hex>`: an observation typed by any policy published them."""

from __future__ import annotations

import subprocess

from sandboxes import bwrap, proc_view
from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.limits import Limits

HOST_BOOT_ID = open("/proc/sys/kernel/random/boot_id").read()
HOST_CMDLINE = open("/proc/cmdline").read()
LIMITS = bwrap.Limits(data_bytes=256 << 20, file_size_bytes=1 << 20, open_files=64, processes=32)
SHOW = ("cat /proc/cmdline; echo '|'; cat /proc/sys/kernel/random/boot_id; echo '|'; cat /etc/resolv.conf; "
        "echo '|'; cat /proc/self/cgroup")


def host_name_servers() -> list[str]:
    with open("/etc/resolv.conf") as handle:
        return [line.split()[1] for line in handle if line.startswith("nameserver") and len(line.split()) > 1]


def test_the_hosts_files_are_worth_hiding():
    """Otherwise the tests below would pass on a host with nothing to hide."""
    assert HOST_CMDLINE.strip() and HOST_BOOT_ID.strip()
    assert [server for server in host_name_servers() if not server.startswith("127.")]


def test_a_container_reads_no_boot_line_no_boot_id_and_no_host_name_server(base_image, prefix):
    with DockerSandbox(base_image, Limits(), name_prefix=prefix) as sandbox:
        shown = sandbox.exec(SHOW)
        assert shown.exit_code == 0, shown.output
        cmdline, boot_id, resolv, cgroup = shown.stdout.decode().split("|\n")
        assert cmdline == "" and boot_id == ""  # masked by the engine, as /proc/kcore is
        assert resolv == proc_view.OFFLINE_RESOLV
        assert sandbox.container_id not in cgroup and "/docker" not in cgroup
        assert all(line.rsplit(":", 1)[1] == "/" for line in cgroup.splitlines()), cgroup
        # The engine's own masks stay: naming MaskedPaths replaces its list.
        masked = sandbox.client.api.inspect_container(sandbox.container_id)["HostConfig"]["MaskedPaths"]
        assert {"/proc/kcore", "/proc/keys", *proc_view.DOCKER_MASKED} <= set(masked)
        # A name still fails as it did with the host's server unreachable: tasks that check for it see the same.
        failed = sandbox.exec("python3 -c 'import socket; socket.getaddrinfo(\"example.com\", 80)'")
        assert b"Temporary failure in name resolution" in failed.stderr


def test_the_memory_cap_is_still_counted_from_the_host_side(base_image, prefix):
    """A private cgroup namespace changes what the container reads of its cgroup, not where usage() finds it."""
    with DockerSandbox(base_image, Limits(memory="256m"), name_prefix=prefix) as sandbox:
        assert sandbox.oom_kills() == 0
        hog = sandbox.exec("python3 -c 'b = bytearray(400 << 20)'")
        assert hog.exit_code == 137
        assert sandbox.oom_kills() >= 1


def run_bwrap(script: str, network: bool) -> str:
    mounts = [*bwrap.bind_args(list(bwrap.SYSTEM_PATHS), set()), "--dev", "/dev", "--proc", "/proc",
              "--tmpfs", "/tmp"]
    uid = bwrap.take_sandbox_uid()
    try:
        argv = bwrap.command(["sh", "-c", script], mounts, LIMITS, network=network, uid=uid)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    finally:
        bwrap.release_sandbox_uid(uid)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_bwrap_sandbox_reads_fixed_boot_files_and_no_host_name_server():
    cmdline, boot_id, resolv, _ = run_bwrap(SHOW, network=False).split("|\n")
    assert cmdline == "" and boot_id == proc_view.BOOT_ID + "\n" != HOST_BOOT_ID
    assert resolv == proc_view.OFFLINE_RESOLV
    # On the host's network a server needs the host's name server, and gets it.
    assert run_bwrap("cat /etc/resolv.conf", network=True) == open("/etc/resolv.conf").read()


def test_a_bwrap_sandbox_names_no_checkout_path_in_its_mounts():
    mountinfo = run_bwrap("cat /proc/self/mountinfo", network=False)
    assert "sandbox_hosts" not in mountinfo and "/etc/resolv.conf /etc/resolv.conf" not in mountinfo
    assert "localhost" in run_bwrap("cat /etc/hosts", network=False)


def test_a_bwrap_sandbox_reads_utc_not_the_hosts_zone():
    """The host's /etc/localtime and /etc/timezone are not shown (a collector in Europe/Berlin published its zone to
    every server): the sandbox's zone is UTC, by a link to tzdata's file under /usr."""
    argv = bwrap.command(["true"], bwrap.bind_args(list(bwrap.SYSTEM_PATHS), set()), LIMITS, network=False)
    assert not any(argv[at + 1] in ("/etc/localtime", "/etc/timezone")
                   for at, arg in enumerate(argv) if arg == "--ro-bind")
    shown = run_bwrap("readlink /etc/localtime; cat /etc/timezone; date +%Z%z; "
                      "python3 -c 'import time; print(time.tzname[0])'", network=False)
    assert shown.split() == [bwrap.UTC_ZONE, "Etc/UTC", "UTC+0000", "UTC"]
