"""A live desktop: one DockerSandbox running Xvfb + openbox + AT-SPI + desktopd, driven over one attached exec.

The host talks to desktopd (inside) through `desktopctl.py --relay` kept open on an attached exec: one JSON line
per request, one per reply. That channel costs a few ms a step where a `docker exec` per step would cost ~50 ms.
"""

from __future__ import annotations

import json
import time

from sandboxes.attached_exec import StreamClosed
from sandboxes.desktop.image import DESKTOP_HOME, DESKTOP_UID, DESKTOP_USER, GUEST_PATH, build_desktop_image
from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.limits import Limits

NAME_PREFIX = "worldline-os"
START_TIMEOUT_S = 30.0
# Fixed, so shell prompts in observations do not carry the random container id.
HOSTNAME = "desktop"


def desktop_limits(**overrides) -> Limits:
    # GUI apps need more memory than a shell; the home folder must be writable for app settings and saved files.
    # disk is the total of the writable paths: the home folder (first) gets half, /tmp and /var/tmp a quarter each.
    values = dict(memory="1g", pids=512, cpus=1.0, disk="256m", action_timeout_s=30.0,
                  writable_paths=(DESKTOP_HOME, "/tmp", "/var/tmp"))
    values.update(overrides)
    return Limits(**values)


class DesktopError(RuntimeError):
    pass


def desktop_sandbox_kwargs(limits: Limits, *, name_prefix: str = NAME_PREFIX, labels: dict | None = None,
                           client=None) -> dict:
    """DockerSandbox keyword arguments for a desktop container (also what a SandboxPool of desktops needs)."""
    # The home tmpfs must belong to the desktop user (a tmpfs is created root-owned), or apps cannot save.
    # Sized by limits.tmpfs_sizes(): together they are the disk quota, which fits under the memory cap.
    sizes = limits.tmpfs_sizes()
    tmpfs = {path: f"size={size},mode=1777" for path, size in sizes.items()}
    if DESKTOP_HOME in sizes:
        tmpfs[DESKTOP_HOME] = f"size={sizes[DESKTOP_HOME]},mode=700,uid={DESKTOP_UID},gid={DESKTOP_UID}"
    return dict(name_prefix=name_prefix, labels={"worldline.domain": "os", **(labels or {})}, user=DESKTOP_USER,
                extra_run_kwargs={"tmpfs": tmpfs, "hostname": HOSTNAME}, client=client)


def start_desktop(sandbox: DockerSandbox) -> None:
    """Launch the desktop's processes in a started container, in the background (a SandboxPool `prepare`)."""
    launched = sandbox.exec(["/bin/sh", "-c", f"setsid {GUEST_PATH}/start-desktop.sh >/tmp/desktop.log 2>&1 "
                                              f"</dev/null &"])
    if launched.exit_code != 0:
        raise DesktopError(f"could not start the desktop: {launched.output[-500:]!r}")


class DesktopSession:
    """Start with start(); every request returns desktopd's reply dict, with `raw` (bytes) and `dump` (parsed) for
    observe, step and launch. Given a `sandbox` on which start_desktop already ran (from a pool), it only connects."""

    def __init__(self, image: str | None = None, limits: Limits | None = None, *, name_prefix: str = NAME_PREFIX,
                 labels: dict | None = None, client=None, sandbox: DockerSandbox | None = None):
        self.limits = sandbox.limits if sandbox else limits or desktop_limits()
        self.image = sandbox.image if sandbox else image or build_desktop_image(client=client)
        self.sandbox = sandbox or DockerSandbox(self.image, self.limits, **desktop_sandbox_kwargs(
            self.limits, name_prefix=name_prefix, labels=labels, client=client))
        self._desktop_launched = sandbox is not None
        self._relay = None

    def start(self) -> dict:
        if not self._desktop_launched:
            self.sandbox.start()
            start_desktop(self.sandbox)
            self._desktop_launched = True
        self._relay = self.sandbox.attach(["python3", f"{GUEST_PATH}/desktopctl.py", "--relay"],
                                          env={"WORLDLINE_DESKTOP_WAIT_S": str(START_TIMEOUT_S)})
        try:
            return self.request({"op": "ping"}, timeout=START_TIMEOUT_S + 5)
        except DesktopError as exc:
            raise DesktopError(f"{exc}; desktop log: {self.log_tail()}") from exc

    def log_tail(self) -> str:
        try:
            return self.sandbox.get_file("/tmp/desktop.log")[-1500:].decode("utf-8", "replace")
        except Exception as exc:  # the container itself may be gone
            return f"<no log: {exc}>"

    def request(self, payload: dict, timeout: float | None = None) -> dict:
        if self._relay is None:
            raise DesktopError("desktop session is not started")
        deadline = time.monotonic() + (timeout or self.limits.action_timeout_s)
        self._relay.write(json.dumps(payload).encode() + b"\n")
        try:
            line = self._relay.read_line(deadline)
        except TimeoutError as exc:
            raise DesktopError(f"desktop did not answer {payload.get('op')!r} within the time limit") from exc
        except StreamClosed as exc:
            raise DesktopError(f"the desktop control channel closed during {payload.get('op')!r}") from exc
        try:
            reply = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DesktopError(f"desktop sent a reply that is not JSON: {line[:200]!r}") from exc
        if not reply.get("ok") and "dump" not in reply:
            raise DesktopError(f"desktop {payload.get('op')!r} failed: {reply.get('error')}")
        if "dump" in reply:  # `raw`: the dump's bytes as serialized inside; `dump`: the same, parsed
            reply["raw"] = reply["dump"].encode()
            reply["dump"] = json.loads(reply["raw"])
        return reply

    def observe(self) -> dict:
        return self.request({"op": "observe"})

    def step(self, commands: list[list[str]], settle_ms: int = 150) -> dict:
        return self.request({"op": "step", "commands": commands, "settle_ms": settle_ms})

    def launch(self, argv: list[str], window: str, timeout_s: float = 20.0) -> dict:
        return self.request({"op": "launch", "argv": argv, "window": window, "timeout_s": timeout_s},
                            timeout=timeout_s + 10)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.sandbox.put_file(path, data, mode)

    def read_file(self, path: str) -> bytes:
        return self.sandbox.get_file(path)

    def disconnect(self) -> None:
        """Close the control channel only (the container is then the caller's, e.g. to hand back to a pool)."""
        if self._relay is not None:
            self._relay.close()
            self._relay = None

    def close(self) -> None:
        self.disconnect()
        self.sandbox.close()

    def __enter__(self) -> "DesktopSession":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
