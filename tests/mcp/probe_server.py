"""A tiny MCP server for the sandbox tests (run by worldline's interpreter): reads a file, lists a folder, sleeps,
starts child processes, burns CPU and reports its own pid and environment, so a test can see what the sandbox lets a
server do and what it shows it."""

import json
import os
import subprocess
import sys
import time

from mcp.server.mcpserver import MCPServer

server = MCPServer("probe")


@server.tool(description="Returns the text of a file.")
def read(path: str) -> str:
    with open(path, errors="replace") as handle:
        return handle.read(100_000)


@server.tool(description="Lists a folder.")
def listdir(path: str) -> list[str]:
    return sorted(os.listdir(path))


@server.tool(description="Sleeps, then says how long it slept.")
def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}"


@server.tool(description="The server's process id (in its pid namespace) and its start time.")
def whoami() -> str:
    return f"{os.getpid()} {time.time()}"


@server.tool(description="Starts `count` sleeping child processes; returns how many started.")
def spawn(count: int) -> int:
    started = 0
    for _ in range(count):
        try:
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            started += 1
        except OSError:
            break
    return started


@server.tool(description="Starts `count` child processes that each fill `mib` MiB and hold it; returns how many "
                         "still hold it after all have filled theirs.")
def hold(count: int, mib: int) -> int:
    fill = f"import sys, time; block = bytearray({mib} << 20); block[::4096] = b'x' * len(block[::4096]); " \
           "print(flush=True); time.sleep(60)"
    children = [subprocess.Popen([sys.executable, "-c", fill], stdout=subprocess.PIPE) for _ in range(count)]
    for child in children:
        child.stdout.readline()  # a line once it holds its memory; nothing if it was killed first
    time.sleep(0.5)
    return sum(child.poll() is None for child in children)


@server.tool(description="Paths named `name` under `root` (not descending into /proc, /sys, /dev or /usr).")
def find(root: str, name: str) -> list[str]:
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [s for s in subfolders if os.path.join(folder, s) not in ("/proc", "/sys", "/dev", "/usr")]
        found += [os.path.join(folder, n) for n in subfolders + files if n == name]
    return found


@server.tool(description="What the interpreter and the process say about where they are, as JSON.")
def environment() -> str:
    return json.dumps({"environ": dict(os.environ), "executable": sys.executable, "prefix": sys.prefix,
                       "base_prefix": sys.base_prefix, "path": sys.path, "cwd": os.getcwd()})


@server.tool(description="Spins the CPU for `seconds` of wall time.")
def burn(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return f"burned {seconds}"


if __name__ == "__main__":
    server.run("stdio")
