"""Real MCP server processes: the servers file, starting one in its own temporary working directory (sandboxed by
bubblewrap: read-only root, private /tmp, no network unless the entry asks for it), a client session to it through
the perturbing proxy, and teardown that always runs.

The official SDK is async; collectors are sync. Each connection owns an event loop in the calling thread: one
long-lived task holds the transport and session open (anyio scopes must be left by the task that entered them),
and `request()` runs one call on that loop until it completes. Between calls nothing needs to run, and no thread
hand-off is paid per call (a blocking portal cost more than the whole collector overhead budget).
"""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from sandboxes.mcp_proxy import Exchange, PerturbingProxy, Rule
from schemas.yaml_file import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER_KEYS = {"command", "args", "env", "transport", "url", "domain", "prepare", "network", "description",
               "startup_timeout_s", "hints"}
# Where the working directory appears inside the sandbox: a fixed path, so observations that name files do not
# carry a random temporary name. (Under /tmp because bubblewrap can only create mount points on its tmpfs.)
SANDBOX_WORKDIR = "/tmp/workspace"
PLACEHOLDERS = ("root", "mcp_venv", "node_modules", "python", "cache", "workdir", "port", "pages")
# Placeholders a task's call arguments may carry, replaced literally (arguments may hold braces of their own).
ARGUMENT_PLACEHOLDERS = ("workdir", "pages")

# A small static site on 127.0.0.1 for servers that fetch URLs (mcp-server-fetch); {pages} is its base URL.
LOCAL_PAGES = {
    "index.html": "<html><head><title>Harbor Lane Bakery</title></head><body><h1>Harbor Lane Bakery</h1>"
                  "<p>Fresh bread daily since 1987.</p><ul><li><a href='menu.html'>Menu</a></li>"
                  "<li><a href='hours.html'>Opening hours</a></li></ul></body></html>",
    "menu.html": "<html><head><title>Menu</title></head><body><h1>Menu</h1><table><tr><th>Item</th><th>Price</th>"
                 "</tr><tr><td>Sourdough loaf</td><td>4.50</td></tr><tr><td>Rye roll</td><td>1.20</td></tr>"
                 "<tr><td>Almond croissant</td><td>2.80</td></tr></table></body></html>",
    "hours.html": "<html><head><title>Opening hours</title></head><body><h1>Opening hours</h1>"
                  "<p>Monday to Friday 7:00-18:00. Saturday 8:00-14:00. Closed on Sunday.</p>"
                  + "<p>" + "We bake in small batches. " * 300 + "</p></body></html>",
}
_local_pages_url: str | None = None
_local_pages_lock = threading.Lock()


def local_pages_url() -> str:
    """Starts (once per process) a threaded HTTP server for LOCAL_PAGES and returns its base URL."""
    global _local_pages_url
    with _local_pages_lock:
        if _local_pages_url is None:
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = LOCAL_PAGES.get(self.path.lstrip("/") or "index.html")
                    self.send_response(200 if body else 404)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    data = (body or "<html><body><h1>Not found</h1></body></html>").encode()
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

                def log_message(self, *args):
                    pass

            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=server.serve_forever, daemon=True, name="local-pages").start()
            _local_pages_url = f"http://127.0.0.1:{server.server_address[1]}"
        return _local_pages_url


class ServerFileError(ValueError):
    pass


class ServerStartError(RuntimeError):
    pass


class CallTimeout(TimeoutError):
    """The client gave up waiting: the observation an agent gets is this error, not a result."""


def _leaf_errors(exc: BaseException) -> str:
    """The real causes inside (nested) exception groups, which anyio task groups wrap errors in."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_leaf_errors(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class ServerSpec:
    """One servers-file entry. `prepare` holds shell commands run in the working directory before the start
    (e.g. creating the git repository a git server works on); they run on the host, the server in the sandbox."""

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
    for key, kind in (("args", list), ("prepare", list), ("env", dict), ("hints", dict)):
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
                             for k, vs in (entry.get("hints") or {}).items()})
    if "url" in entry:
        spec.url = str(entry["url"])
    hinted = [v for values in spec.hints.values() for v in values]
    for text in [spec.command, *spec.args, *spec.env.values(), *spec.prepare, spec.url, *hinted]:
        _expand(text, _placeholder_values("/w", 0), where)  # a typo in a placeholder fails at load, not mid-run
    return spec


def _placeholder_values(workdir: str, port: int, pages: str = "http://127.0.0.1:0") -> dict[str, str]:
    return {"pages": pages, "root": str(PROJECT_ROOT), "mcp_venv": str(PROJECT_ROOT / ".venv-mcp"),
            "node_modules": str(PROJECT_ROOT / ".mcp-servers" / "node_modules"), "python": sys.executable,
            "cache": str(PROJECT_ROOT / ".cache"), "workdir": workdir, "port": str(port)}


def _expand(text: str, values: dict[str, str], where: str) -> str:
    try:
        return text.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ServerFileError(f"{where}: bad placeholder in {text!r} ({exc}); known: "
                              f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}") from exc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Resource caps for every server process (prlimit): data segment (private writable memory; an address-space cap
# would break node, whose WebAssembly reserves tens of GiB it never touches), largest file written, open files.
# A server that tries to fill the disk stops at 1 GiB per file.
MEMORY_LIMIT_BYTES = 4 << 30
FILE_SIZE_LIMIT_BYTES = 1 << 30
OPEN_FILES_LIMIT = 4096


def _sandboxed(argv: list[str], workdir: str, network: bool) -> list[str]:
    """bubblewrap: everything read-only but the working directory; own pid/ipc/uts (and net unless asked);
    prlimit caps on memory, file size and open files."""
    if shutil.which("bwrap") is None:
        raise ServerStartError("bubblewrap (bwrap) is not installed; run scripts/setup.d/40-mcp-servers.sh")
    return ["prlimit", f"--data={MEMORY_LIMIT_BYTES}", f"--fsize={FILE_SIZE_LIMIT_BYTES}",
            f"--nofile={OPEN_FILES_LIMIT}", "--", "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--bind", workdir, SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR, "--unshare-all",
            *(["--share-net"] if network else []), "--die-with-parent", "--", *argv]


class ServerConnection:
    """A started server with an initialized client session. Use as a context manager; close() always stops it."""

    def __init__(self, spec: ServerSpec, rules: list[Rule] | None = None, seed: int = 0,
                 call_timeout_s: float = 30.0):
        self.spec = spec
        self.proxy = PerturbingProxy(rules, seed)
        self.call_timeout_s = call_timeout_s
        self.base = Path(tempfile.mkdtemp(prefix=f"wl-mcp-{spec.name}-"))
        self.workdir = self.base / "work"
        self.workdir.mkdir()
        self.port = _free_port() if spec.transport == "http" else 0
        uses_pages = "{pages}" in repr(spec)
        self.values = _placeholder_values(SANDBOX_WORKDIR, self.port, local_pages_url() if uses_pages else "")
        self._process: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holder: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self.session = None
        self.initialize: Exchange | None = None
        self._log = open(self.base / "server.log", "w+b")

    def __enter__(self) -> ServerConnection:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _argv(self) -> list[str]:
        where = f"server {self.spec.name!r}"
        argv = [_expand(self.spec.command, self.values, where)] + [_expand(a, self.values, where)
                                                                   for a in self.spec.args]
        return _sandboxed(argv, str(self.workdir), self.spec.network or self.spec.transport == "http")


    def _env(self) -> dict[str, str]:
        where = f"server {self.spec.name!r}"
        return {"HOME": str(self.workdir)} | {k: _expand(v, self.values, where) for k, v in self.spec.env.items()}

    def start(self) -> None:
        host_values = _placeholder_values(str(self.workdir), self.port)
        for command in self.spec.prepare:
            command = _expand(command, host_values, f"server {self.spec.name!r}")
            done = subprocess.run(["bash", "-c", command], cwd=self.workdir, capture_output=True, text=True,
                                  timeout=120)
            if done.returncode != 0:
                raise ServerStartError(f"server {self.spec.name!r}: prepare command {command!r} failed "
                                       f"({done.returncode}): {done.stderr.strip()[-500:]}")
        command = _expand(self.spec.command, self.values, f"server {self.spec.name!r}")
        if shutil.which(command) is None:
            raise ServerStartError(f"server {self.spec.name!r}: command {command!r} is not an executable on PATH "
                                   f"(is scripts/setup.d/40-mcp-servers.sh done?)")
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

    async def _hold_session(self, ready: asyncio.Future) -> None:
        self._stop = asyncio.Event()
        async with self._open_session() as session:
            self.session = session
            ready.set_result(True)
            await self._stop.wait()

    def _start_http_process(self) -> None:
        from mcp.client.stdio import get_default_environment

        # The environment a stdio server gets from the SDK (HOME, PATH, USER...), not the collector's own, which may
        # hold credentials.
        self._process = subprocess.Popen(self._argv(), cwd=self.base, env=get_default_environment() | self._env(),
                                         stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                         start_new_session=True)
        deadline = time.monotonic() + self.spec.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerStartError(f"server {self.spec.name!r} exited with {self._process.returncode} "
                                       f"before listening: {self.stderr()[-800:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise ServerStartError(f"server {self.spec.name!r} did not listen on port {self.port} "
                               f"within {self.spec.startup_timeout_s:g} s")

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
            from mcp.client.streamable_http import streamable_http_client
            return streamable_http_client(_expand(self.spec.url, self.values, f"server {self.spec.name!r}"))
        from mcp.client.stdio import StdioServerParameters, stdio_client
        argv = self._argv()
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=self._env(), cwd=str(self.base))
        return stdio_client(params, errlog=self._log)

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
                    replacement = self.values[name] or local_pages_url()
                    value = value.replace("{" + name + "}", replacement)
            return value
        if isinstance(value, dict):
            return {k: self.expand_arguments(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand_arguments(v) for v in value]
        return value

    def stderr(self) -> str:
        try:
            self._log.flush()
            return (self.base / "server.log").read_text(errors="replace")
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        try:
            if self._holder is not None and not self._holder.done():
                self._stop.set()
                try:
                    self._loop.run_until_complete(asyncio.wait_for(self._holder, 15))
                except Exception:
                    pass  # a server that is already gone or will not stop; the process is reaped below
            if self._loop is not None:
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
                self._loop.close()
        finally:
            self._holder = self._loop = None
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
            self._log.close()
            shutil.rmtree(self.base, ignore_errors=True)
