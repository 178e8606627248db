"""Chromium driven by Playwright: one restartable browser process, one isolated context per episode.

`Browser` owns the Chromium process, which runs sandboxed (`Browser.launcher`: prlimit and bubblewrap, as MCP servers
do, through sandboxes/bwrap.py), and the Playwright driver that launched it. The sandbox is found by a marker switch
on its command line so a watchdog can kill it when a call hangs (a page stuck in a script loop blocks `evaluate`
forever, and Playwright has no timeout there). A dead browser alone does not always end the calls waiting on it (at
the process cap, Playwright 1.65 left a pending `new_page`/`goto` unanswered after the sandbox was gone), so a call
still pending DRIVER_GRACE_S after the kill gets the driver killed too, which fails every call in flight. A restart
then starts a new driver and browser, and `BrowserSession.reopen` reopens the last page. A page whose renderer died
while the browser lives is no reason for that: PageCrashed, and `BrowserSession.replace_crashed_pages` reopens the
crashed tabs alone. `BrowserSession` (sandboxes/browser_session.py) is one episode: a context of this browser with
its tabs, routing, element ids and observation capture.

Containment has two independent layers. Playwright routing (`BrowserSession._route`) sees most requests but not all
of them (speculation-rules prefetch and prerender, a keepalive fetch sent while a page unloads, shared workers, and
the TCP preconnect Chromium opens before a navigation request is routed). Under it, Chromium's own network stack
sends everything to a dead proxy (`Browser.dead_proxy`: a 127.0.0.1 port this process holds bound and never
listens on, so every connection is refused) except the allowed origins' host:port, which each episode's context
bypasses (`proxy_bypass`). `<-loopback>` removes Chromium's implicit bypass of localhost and 127.0.0.0/8, so the
other local ports are proxied (and refused) too.
Under both, while every allowed origin is on loopback (the served sites), the sandbox has a network namespace of
its own: the allowed ports reach the host's through the loopback relay (sandboxes/loopback_relay.py), nothing else
does, whatever a compromised renderer sends (`Browser.use_network_for`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import threading
import uuid
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit

from sandboxes import bwrap, cgroup, leftovers, loopback_relay, proc_view
from schemas import processes

CHROMIUM = "/usr/bin/chromium"
# No --no-sandbox: Chromium's own sandbox runs inside ours (`Browser._launch` asks Playwright not to add the switch).
# Its zygote makes a user namespace (as the sandbox's uid, with no capabilities: unprivileged user namespaces are
# allowed here) holding the renderers, each in a pid namespace of its own, in a network namespace with no interface,
# chrooted to an empty folder, under its seccomp-bpf policy stacked on ours, so a compromised renderer cannot see or
# signal the browser process or the relay agent, nor take their descriptors (the CDP pipe, the relay's connections).
LAUNCH_ARGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
MARKER_SWITCH = "--worldline-browser"
# Every context's time zone and locale, whatever the collecting machine's (privacy audit PR9): pages would otherwise
# read the collector's zone (Date, Intl) and send its language (Accept-Language) to the sites, and a site that shows
# either would publish it. The sandbox's own /etc/localtime is UTC already (bwrap.UTC_ZONE); these are the page's.
CONTEXT_OPTIONS = {"timezone_id": "UTC", "locale": "en-US"}
# How long closing the browser and its driver may take before both are killed (a driver that never answers would
# otherwise hold the collector's close, or a restart, for good).
CLOSE_TIMEOUT_S = 10
# After the sandbox is killed, how long a pending call may still wait before the driver is killed as well. Killing
# the driver only when it does not answer lets it remove its temporary folders (profile, artifacts) in all other cases.
DRIVER_GRACE_S = 3
# How long `Browser.start` (the driver's own start, then Chromium's launch) may take before the driver and the sandbox
# are killed. Playwright bounds the launch alone (30 s) and only while the driver answers; the driver's start has no
# bound of its own (a node that blocks before its loop runs, e.g. through NODE_OPTIONS, holds it for good).
START_TIMEOUT_S = 45

# Chromium's sandbox (bwrap.command): the system paths read-only, with what Debian's chromium reads besides them
# (its launcher's settings, whose initial preferences turn network prediction off, and fonts with their cache);
# a private /tmp, where the profile (the one Playwright names under the driver's temporary folder, or, when that
# is not under /tmp (TMPDIR), Chromium's fallback under HOME) and, with --disable-dev-shm-usage, the shared memory
# live; /dev/shm; /proc. Not /root, /home, /work or the rest of /etc.
# The network namespace is the sandbox's own (only `lo`) while every allowed origin is on loopback (the served
# sites): the loopback relay (sandboxes/loopback_relay.py) carries their ports to the host's. An episode that allows
# any other origin (a task's `url:` on the internet) gets a browser in the host's namespace (`use_network_for`).
BROWSER_PATHS = ("/etc/chromium", "/etc/chromium.d", "/etc/fonts", "/var/cache/fontconfig")
BROWSER_USER = "chromium"
SANDBOX_HOME = "/tmp"
# Caps on each of its processes. Data (RLIMIT_DATA, private writable memory): Chromium sizes its reservations to
# it (VmData ~650 MiB per process uncapped, ~300-440 MiB under a cap), so a page keeps about 1 GiB of its own;
# measured: 1000 MiB of typed arrays fit, 1200 MiB fail with a RangeError (the page survives). An address-space
# cap cannot be used: V8 and PartitionAlloc reserve up to 1.4 TiB they never touch.
MEMORY_LIMIT_BYTES = 2 << 30
FILE_SIZE_LIMIT_BYTES = 1 << 30
OPEN_FILES_LIMIT = 4096
# Processes and threads (RLIMIT_NPROC counts threads; applies when the collector is root and Chromium runs as a user
# id of its own): measured 8 processes and 68 threads idle, then about one process and 11 threads a tab (22 and 237
# with 12 tabs), so about 70 tabs fit. At the cap a new tab's renderer cannot start and its call fails as a crash.
PROCESS_LIMIT = 1024
# What all of its processes hold together (a cgroup, sandboxes/cgroup.py): the data cap above holds per process, and
# twenty renderers could each stay under it. Past the total the kernel kills the largest, a renderer: its page
# crashes, not the browser.
TOTAL_MEMORY_BYTES = 4 << 30
# CPU time per wall second, all of its processes together, in cores: a page spinning in scripts (or a dozen tabs)
# holds two cores, not every core the collector's other workers need. One page load uses about one.
TOTAL_CPUS = 2.0
# The private /tmp and /dev/shm are memory: sized so a page cannot fill the machine's memory through them.
TMP_SIZE_BYTES = 1 << 30
SHM_SIZE_BYTES = 256 << 20
LIMITS = bwrap.Limits(data_bytes=MEMORY_LIMIT_BYTES, file_size_bytes=FILE_SIZE_LIMIT_BYTES,
                      open_files=OPEN_FILES_LIMIT, processes=PROCESS_LIMIT)
# Where the relay's folder and its agent show in a sandbox of its own network (the agent becomes Chromium: exec).
RELAY_FOLDER = "/run/worldline-relay"
RELAY_AGENT = "/opt/worldline/loopback_relay.py"
# How long a new context waits for the agent to listen on its origins' ports (it starts with Chromium, in parallel).
RELAY_TIMEOUT_S = 10
X11_SOCKETS = "/tmp/.X11-unix"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# `network` in the sandbox record is a boolean, as the mcp and terminal sandboxes record it (a column query over
# episodes of every domain needs one type): whether the sandbox shares the host's network namespace. Its own
# namespace reaches only the relayed allowed loopback origins, like an mcp http server behind its forwarder: false.
# The host's is true: routing and the dead proxy confine Chromium's own stack, not a compromised renderer.
# How the episode was confined, in words, stays in `network_detail`.
NETWORK_DETAIL = {
    False: "own namespace (only lo); the allowed loopback origins' ports relayed to the host's; requests routed to "
           "the allowed origins, a dead proxy for the rest",
    True: "host namespace; requests routed to the allowed origins, a dead proxy for the rest",
}


# What Playwright's futures hold once its driver is gone (killed as hung, or dead).
_DRIVER_LOST = "Connection closed while reading from the driver"


def _quiet_driver_loss(playwright) -> None:
    """A killed driver leaves Playwright's pending futures failed with _DRIVER_LOST, which no call awaits any more:
    asyncio then printed "Future exception was never retrieved" and the error on the console when they were
    collected, at exit, after the collector had already said the driver was killed. Others still go to the loop's
    usual handler. The loop is the sync API's own (its `_loop`); without one there is nothing to quiet."""
    loop = getattr(playwright, "_loop", None)
    if loop is None:
        return

    def handler(loop, context):
        if _DRIVER_LOST not in str(context.get("exception") or ""):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


class BrowserDied(RuntimeError):
    """The browser crashed or hung and was killed: restart it and reopen the session before using them again."""


class PageCrashed(BrowserDied):
    """A page's renderer died (chrome://crash, an OOM kill at the cgroup's memory cap) while the browser lives on:
    `BrowserSession.replace_crashed_pages` is enough. A BrowserDied, so code that knows only that still restarts."""


class StartHung(BrowserDied):
    """`Browser.start` took longer than START_TIMEOUT_S: the driver (and any sandbox it launched) was killed."""


PAGE_CRASH = ("Target crashed", "Page crashed")


def is_death(exc: BaseException) -> bool:
    """Whether a Playwright error says the page or the browser is gone (crashed, closed, disconnected), not that an
    action failed."""
    text = str(exc)
    return any(s in text for s in (*PAGE_CRASH, "has been closed", "Target closed", "Browser closed",
                                   "browser has disconnected", "Connection closed", "Playwright connection closed"))


# Extra environment for the Playwright driver this thread starts (see _driver_env). Thread-local: collector workers
# are threads of one process, each starting drivers of its own.
_DRIVER_ENV = threading.local()


def _driver_env() -> None:
    """Make Playwright start its driver with this thread's `_DRIVER_ENV.extra` added to the environment.

    The driver makes its temporary folders (`playwright-artifacts-*`, `playwright_chromiumdev_profile-*`) under its
    TMPDIR and removes them only when it stops; a driver we kill leaves them. Giving each driver a TMPDIR of its own
    lets `Browser` remove them all, and find the driver by it. Playwright takes the driver's environment from
    `transport.get_driver_env()`, which has no parameter for this, so that one function is wrapped."""
    from playwright._impl import transport
    original = transport.get_driver_env
    if getattr(original, "worldline", False):
        return

    def driver_env() -> dict:
        return {**original(), **getattr(_DRIVER_ENV, "extra", {})}

    driver_env.worldline = True
    transport.get_driver_env = driver_env


def proxy_bypass(allowed_origins: Iterable[str]) -> str:
    """The proxy bypass list for these origins: their host:port only, and no implicit loopback bypass.

    Playwright's own fetcher (`route.fetch`, used by the `truncate` perturbation on requests routing already let
    through) applies the context's proxy too, but matches the list by host suffix and never by port. An IPv4 host
    is therefore also listed as `.A.B.C.D`: the fetcher bypasses it, and for Chromium the rule means `*.A.B.C.D`,
    names no network has. A host name gets no such rule (Chromium would bypass all its subdomains on every port,
    and `*.localhost` is loopback), so `truncate` fails on origins named by host name.
    """
    rules, fetcher_rules = ["<-loopback>"], []
    for origin in sorted({origin_of(o) for o in allowed_origins}):
        parts = urlsplit(origin)
        if not parts.hostname:
            continue
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        rules.append(f"{host}:{port}" if port else host)
        if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host) and f".{host}" not in fetcher_rules:
            fetcher_rules.append(f".{host}")
    return ",".join(rules + fetcher_rules)


def loopback_address(origin: str) -> tuple[str, int] | None:
    """The (address, port) on the host's loopback an origin names (localhost is 127.0.0.1); None for any other."""
    parts = urlsplit(origin)
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    return (str(address), port) if address.is_loopback and port else None


def _sigkill(pid: int | None, group: bool) -> None:
    if pid:
        with contextlib.suppress(ProcessLookupError):
            (os.killpg if group else os.kill)(pid, signal.SIGKILL)


class Browser:
    def __init__(self, executable: str = CHROMIUM, headless: bool = True, process_limit: int | None = None):
        self.executable = executable
        self.headless = headless
        # A lower process cap than PROCESS_LIMIT lets tests reach it with a few tabs.
        self.limits = LIMITS if process_limit is None else dataclasses.replace(LIMITS, processes=process_limit)
        self.restarts = 0
        self.pid: int | None = None
        self.driver_pid: int | None = None  # the Playwright driver (node) that launched the sandbox
        self._pw = None
        self._driver_tmp: Path | None = None  # the driver's TMPDIR, its own (see _driver_env)
        self._starting = ""  # what Browser.start is doing, for the error when it hangs
        self._launching = False  # Browser.start waits on the launch: its timer may still kill it
        self._start_watch = threading.Lock()
        self._browser = None
        self._marker = ""
        self._killed_reason: str | None = None
        self._dead_port: socket.socket | None = None
        self._base: Path | None = None  # the launcher and its passwd and group files, while this lives
        self.uid: int | None = None
        self._group: cgroup.Group | None = None
        self._total_caps: dict = {}
        # The namespace of the running (or next) sandbox: its own unless an episode allowed a non-loopback origin.
        self.host_network = False
        self._relay: loopback_relay.Relay | None = None
        self._proc_view = proc_view.HOST  # set when the launcher is built

    @property
    def dead_proxy(self) -> str:
        """A proxy that refuses every connection: a 127.0.0.1 port held bound (never listening) while this lives."""
        if self._dead_port is None:
            self._dead_port = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._dead_port.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{self._dead_port.getsockname()[1]}"

    def launch_args(self) -> list[str]:
        # Traffic outside an episode's context (the default context, the browser's own) has no bypass at all.
        return LAUNCH_ARGS + [f"--proxy-server={self.dead_proxy}", "--proxy-bypass-list=<-loopback>", self._marker]

    @property
    def started(self) -> bool:
        return self._browser is not None

    @property
    def alive(self) -> bool:
        """Started, not killed, and still connected (Playwright's own flag: no call to the driver)."""
        return self._browser is not None and self._killed_reason is None and self._browser.is_connected()

    def start(self) -> None:
        """Launch the browser (and the driver, if none runs); a browser killed or crashed since is restarted.
        StartHung if this takes more than START_TIMEOUT_S (both are killed then)."""
        if self._browser is not None:
            if not self.alive:
                self.restart()
            return
        if not Path(self.executable).exists():
            raise FileNotFoundError(f"Chromium not found at {self.executable}; run scripts/setup.d/30-chromium.sh")
        self._killed_reason = None
        self._launching = True
        timer = threading.Timer(START_TIMEOUT_S, self._start_hung)
        timer.daemon = True
        timer.start()
        failure = None
        try:
            self._launch()
        except Exception as exc:
            failure = exc
        finally:
            timer.cancel()
            with self._start_watch:
                self._launching = False
        # The timer may have fired after the launch returned and before it was cancelled: what it killed is gone.
        if self._killed_reason is not None:
            self._stop_driver()
            raise StartHung(self._killed_reason) from failure
        if failure is not None:
            # The next start makes a new driver TMPDIR in place of this one: removed now, or it would stay until a
            # later run swept it (a long run with a flaky driver piled them up). A driver that failed to launch
            # Chromium may be the cause, so it goes too.
            self._stop_driver()
            raise failure
        self.pid, self.driver_pid = self._find_sandbox()

    def _launch(self) -> None:
        from playwright.sync_api import sync_playwright
        if self._pw is None:
            self._starting = "starting the Playwright driver"
            self._driver_tmp = leftovers.make_temp("wl-driver-")
            _driver_env()
            _DRIVER_ENV.extra = {"TMPDIR": str(self._driver_tmp)}
            try:
                self._pw = sync_playwright().start()
            finally:
                _DRIVER_ENV.extra = {}
        self._starting = "launching Chromium"
        self._marker = f"{MARKER_SWITCH}={uuid.uuid4().hex}"
        executable = self.launcher()
        if self._relay is not None:
            self._relay.new_agent()
        self._browser = self._pw.chromium.launch(executable_path=executable, headless=self.headless,
                                                 args=self.launch_args(), timeout=30_000, chromium_sandbox=True)

    def _start_hung(self) -> None:
        """START_TIMEOUT_S passed in `start` (a timer thread): kill what was launched, then the driver, which fails
        the call `start` waits on. Nothing once `start` has stopped waiting."""
        with self._start_watch:
            if self._launching:
                self._kill_hung_start()

    def _kill_hung_start(self) -> None:
        driver = self._find_driver()
        if self._starting == "launching Chromium":
            _sigkill(self._find_sandbox()[0], group=True)
            killed = "killed its sandbox and the Playwright driver"
        else:
            killed = "killed it"
        self._killed_reason = f"{self._starting} (driver pid {driver}) took more than {START_TIMEOUT_S} s: {killed}"
        _sigkill(driver, group=False)

    def _find_driver(self) -> int | None:
        """The running driver: the node process started with this browser's private TMPDIR (the sandbox's launcher
        processes inherit that TMPDIR too, so the driver's `run-driver` argument is matched as well)."""
        if self._driver_tmp is None:
            return None
        wanted = b"TMPDIR=" + str(self._driver_tmp).encode()
        for entry in Path("/proc").iterdir():
            try:
                if (entry.name.isdigit() and b"run-driver" in (entry / "cmdline").read_bytes().split(b"\0")
                        and wanted in (entry / "environ").read_bytes().split(b"\0")):
                    return int(entry.name)
            except OSError:
                continue
        return None

    def sandbox_record(self) -> dict:
        """What an episode records of Chromium's sandbox (env details): its caps and its network."""
        return {"kind": "bwrap", "limits": dataclasses.asdict(self.limits), "processes_capped": self.uid is not None,
                "total": self._total_caps, "network": self.host_network,
                "network_detail": NETWORK_DETAIL[self.host_network], "proc_view": self._proc_view,
                "seccomp_denied": list(bwrap.DENIED_SYSCALLS), "chromium_sandbox": True}

    def oom_kills(self) -> int | None:
        """How many of the sandbox's processes the kernel killed at the browser's memory total (its cgroup's count,
        kept across restarts); None without a cgroup."""
        return self._group.oom_kills() if self._group is not None else None

    def use_network_for(self, allowed_origins: Iterable[str]) -> None:
        """Run the browser in the namespace these origins need: its own while all are on loopback, the host's as
        soon as one is not. No origins need nothing (the namespace stays). A running browser in the other one is
        stopped (`start` launches the right one); RuntimeError while it has contexts open, which would die with it."""
        origins = list(allowed_origins)
        if not origins:
            return
        host = any(loopback_address(o) is None for o in origins)
        if host == self.host_network:
            return
        if self.alive and self._browser.contexts:
            raise RuntimeError(f"origins {sorted(origins)} need Chromium in the "
                               f"{'host' if host else 'sandbox'}'s network namespace, and the running browser has "
                               f"{len(self._browser.contexts)} context(s) open in the other one: close them first")
        if self._browser is not None:
            self.kill("switching network namespace")
            with self._deadline(0, "switching network namespace"):
                self._stop_driver()
        self.host_network = host

    def launcher(self) -> str:
        """The executable Playwright launches in Chromium's place: a script that execs Chromium under prlimit and
        bubblewrap (bwrap.command) with the arguments Playwright gives it. Playwright talks to Chromium over fds 3
        and 4 (--remote-debugging-pipe), which the shell, prlimit, bwrap and setpriv all pass on. One per network
        namespace, written once per Browser; a restart reuses it (and its user id)."""
        if self._base is None:
            bwrap.require(FileNotFoundError, "scripts/setup.d/30-chromium.sh")
            self._base = leftovers.make_temp("wl-browser-")  # a SIGKILLed collector's are removed here
            self.uid = bwrap.take_sandbox_uid() if os.geteuid() == 0 else None
            try:
                self._group = cgroup.make_group("chromium", TOTAL_MEMORY_BYTES, self.limits.processes, TOTAL_CPUS)
                self._total_caps = self._group.record()
            except cgroup.Unavailable as exc:
                self._total_caps = cgroup.unavailable_record(str(exc))
        script = self._base / ("chromium-host-net" if self.host_network else "chromium-own-net")
        if not script.exists():
            argv = self._sandboxed_command()
            script.write_text(f"#!/bin/sh\nexec {shlex.join(argv)} \"$@\"\n")
            script.chmod(0o700)
        return str(script)

    def _sandboxed_command(self) -> list[str]:
        accounts = []
        if self.uid is not None:
            accounts = bwrap.account_files(self._base, self.uid, BROWSER_USER, SANDBOX_HOME, "Chromium")
        argv, mounts = [self.executable], self._mounts()
        if not self.host_network:
            # The agent starts first and becomes Chromium; the relay's folder is the only way out of the namespace.
            # Read-only: only the collector creates anything there (loopback_relay), so the sandbox cannot write
            # host disk outside its caps nor plant a link there.
            folder = self._base / "relay"
            folder.mkdir(mode=0o700, exist_ok=True)
            if self._relay is None:
                self._relay = loopback_relay.Relay(str(folder), self.uid)
            python, python_mounts = _agent_python()
            made: set[str] = set()
            mounts += python_mounts + bwrap.parent_dirs(RELAY_AGENT, made) + bwrap.parent_dirs(RELAY_FOLDER, made)
            mounts += ["--ro-bind", loopback_relay.__file__, RELAY_AGENT, "--ro-bind", str(folder), RELAY_FOLDER]
            argv = [python, "-I", RELAY_AGENT, RELAY_FOLDER, "--", *argv]
        # What the launcher is built with; a restart reuses the launcher, so the record says this, not what lxcfs
        # answers later.
        self._proc_view = proc_view.bwrap_view()
        argv = bwrap.command(argv, mounts, self.limits, network=self.host_network, uid=self.uid, accounts=accounts)
        return self._group.wrap(argv) if self._group is not None else argv

    def _mounts(self) -> list[str]:
        """bwrap arguments: what Chromium's sandbox shows, and its environment (none of the collector's)."""
        program = os.path.dirname(os.path.realpath(self.executable))  # /usr/lib/chromium, or a build elsewhere
        args = bwrap.bind_args([*bwrap.SYSTEM_PATHS, *BROWSER_PATHS, self.executable, program], set())
        args += ["--dev", "/dev", "--perms", "1777", "--size", str(SHM_SIZE_BYTES), "--tmpfs", "/dev/shm",
                 "--proc", "/proc"]
        args += ["--perms", "1777", "--size", str(TMP_SIZE_BYTES), "--tmpfs", "/tmp"]
        args += ["--chdir", SANDBOX_HOME, "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
                 "--setenv", "HOME", SANDBOX_HOME, "--setenv", "LANG", "C.UTF-8"]
        if not self.headless and os.environ.get("DISPLAY"):
            # The X server's abstract socket is the host namespace's: a sandbox of its own reaches its path socket.
            args += ["--setenv", "DISPLAY", os.environ["DISPLAY"]]
            if not self.host_network and os.path.isdir(X11_SOCKETS):
                args += ["--ro-bind", X11_SOCKETS, X11_SOCKETS]
        return args

    @property
    def playwright(self):
        """The Playwright driver this browser runs on (one per thread: a second sync_playwright() is refused)."""
        self.start()
        return self._pw

    @property
    def version(self) -> str:
        return self._browser.version if self._browser else ""

    def new_context(self, allowed_origins: Iterable[str] = (), **options):
        """A context whose traffic reaches only `allowed_origins` (through Chromium's proxy rules, not routing), in a
        browser of the network namespace they need (`use_network_for`), with CONTEXT_OPTIONS' zone and locale unless
        `options` name others. In the sandbox's own, the relay carries
        their ports while the context lives; BrowserDied if its agent does not answer."""
        allowed_origins = list(allowed_origins)
        self.use_network_for(allowed_origins)
        self.start()
        context = self._browser.new_context(proxy={"server": self.dead_proxy, "bypass": proxy_bypass(allowed_origins)},
                                            **{**CONTEXT_OPTIONS, **options})
        if not self.host_network:
            relay, addresses = self._relay, {a for a in map(loopback_address, allowed_origins) if a}
            relay.allow(context, addresses)
            context.on("close", lambda _: relay.forget(context))  # however it closes; `release` when that fails
            try:
                relay.listen(addresses, RELAY_TIMEOUT_S)
            except loopback_relay.AgentGone as exc:
                raise BrowserDied(f"Chromium's loopback relay: {exc}") from exc
        return context

    def release(self, context) -> None:
        """The relay stops carrying what `context` allowed, whether or not its close worked (a close that raised sent
        no "close" event, and the episode's ports stayed open to the sandbox's processes)."""
        if self._relay is not None:
            self._relay.forget(context)

    def _find_sandbox(self) -> tuple[int | None, int | None]:
        """(the sandbox's outer process, its parent: the Playwright driver). The outer process is the one Playwright
        started (the launcher exec'd into prlimit, then bwrap), which leads its process group. Chromium's main
        process, the namespace's init and bwrap itself all carry the marker; the outer one is the one whose parent
        does not."""
        marked = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if self._marker.encode() in args and not any(a.startswith(b"--type=") for a in args):
                marked[int(entry.name)] = parent
        outer = next((pid for pid, parent in marked.items() if parent not in marked), None)
        return outer, marked.get(outer)

    def kill(self, reason: str) -> None:
        """Kill the browser's sandbox (from any thread): pending Playwright calls then fail, as a rule. SIGKILL to its
        process group; what is left in its pid namespace dies with the namespace's init, which bwrap's
        --die-with-parent kills with the outer process."""
        self._killed_reason = self._killed_reason or reason
        _sigkill(self.pid, group=True)

    def _kill_driver(self) -> None:
        """Kill the Playwright driver: every call in flight fails ("Playwright connection closed"). It shares the
        collector's process group, so it gets a signal of its own. Its temporary folders go with `_stop_driver`."""
        self._killed_reason = self._killed_reason or "the Playwright driver did not answer"
        _sigkill(self.driver_pid, group=False)

    @contextlib.contextmanager
    def _deadline(self, seconds: float, reason: str) -> Iterator[None]:
        """Kill the sandbox if the block runs longer than `seconds`, and the driver DRIVER_GRACE_S later."""
        timers = [threading.Timer(seconds, self.kill, args=(reason,)),
                  threading.Timer(seconds + DRIVER_GRACE_S, self._kill_driver)]
        for timer in timers:
            timer.daemon = True
            timer.start()
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()

    @contextlib.contextmanager
    def watchdog(self, seconds: float) -> Iterator[None]:
        """Run a block of browser calls; if it takes longer than `seconds`, the browser is killed as hung."""
        try:
            with self._deadline(seconds, f"hung for more than {seconds:.0f} s"):
                yield
        except PageCrashed as exc:
            if self._killed_reason:  # the watchdog fired meanwhile: the browser is gone, not just a page
                raise BrowserDied(self._killed_reason) from exc
            raise
        except Exception as exc:
            if self._killed_reason or is_death(exc):
                raise self._death(exc) from exc
            raise
        if self._killed_reason:
            raise BrowserDied(self._killed_reason)

    def _death(self, exc: Exception) -> BrowserDied:
        """PageCrashed when only a page died (its call says so and the browser is still connected and running);
        BrowserDied otherwise."""
        if self._killed_reason:
            return BrowserDied(self._killed_reason)
        first = str(exc).splitlines()[0]
        if any(s in first for s in PAGE_CRASH) and self.alive and processes.alive(self.pid):
            return PageCrashed(first)
        return BrowserDied(f"browser crashed: {first}")

    def restart(self) -> None:
        """A new driver and browser. The old browser is killed, not closed (it is dead, hung or at a cap, and its
        profile is in the sandbox's own /tmp); the old driver is stopped, and killed if it does not stop in time."""
        self.kill("restarting")
        with self._deadline(0, "restarting"):  # the sandbox is dead already: only the driver's grace is left
            self._stop_driver()
        self.restarts += 1
        self.start()

    def _stop_driver(self) -> None:
        """Stop the driver; returns at once when it is dead (its pipe closed). A driver that stops removes its
        temporary folders itself; a killed one cannot, so its whole TMPDIR goes here."""
        if self._pw is not None:
            _quiet_driver_loss(self._pw)
            with contextlib.suppress(Exception):
                self._pw.stop()
            self._pw = None
        if self._driver_tmp is not None:
            shutil.rmtree(self._driver_tmp, ignore_errors=True)
            self._driver_tmp = None
        self._browser = self.pid = self.driver_pid = None

    def close(self) -> None:
        with self._deadline(CLOSE_TIMEOUT_S, f"closing took more than {CLOSE_TIMEOUT_S} s"):
            if self._browser is not None and self._killed_reason is None:
                with contextlib.suppress(Exception):
                    self._browser.close()
                self.kill("closed")  # whatever of the sandbox outlived the close
            self._stop_driver()
        if self._dead_port is not None:
            self._dead_port.close()
            self._dead_port = None
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            bwrap.release_sandbox_uid(self.uid)
            self._base = self.uid = None
        if self._group is not None:
            self._group.close()
            self._group = None
        if self._relay is not None:
            self._relay.close()
            self._relay = None


def _agent_python() -> tuple[str, list[str]]:
    """The interpreter the relay agent runs on in the sandbox, and the mounts it needs: the system's python3 under
    /usr (bound already), else this one's installation, bound read-only."""
    if os.path.exists("/usr/bin/python3"):
        return "/usr/bin/python3", []
    home = os.path.realpath(sys.base_prefix)
    return os.path.realpath(sys.executable), bwrap.bind_args([home], set())


def origin_of(url: str) -> str:
    """scheme://host[:port], lower case: what allowed origins are listed and compared as."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
