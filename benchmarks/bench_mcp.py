"""MCP collector cost, measured side by side in one run on the real reference server (server-everything, `echo`):

- per-call overhead: a bare SDK call (ClientSession.call_tool over stdio, timed inside its event loop) and a full
  collector step (portal thread + proxy + observation rendering) on two servers started with the same sandboxed
  command line, called alternately, one call each in turn, so that load from other work on this shared machine
  hits both alike; the overhead is the median of the paired differences (target <= 0.5 ms). A third server,
  unsandboxed, shows what bubblewrap itself costs per call;
- calls/s with N servers driven in parallel, one collector per thread.
"""

from __future__ import annotations

import statistics
import threading
import time
from contextlib import asynccontextmanager

from anyio.from_thread import start_blocking_portal

from collectors.api import Task
from collectors.mcp import McpCollector, action_from_call
from sandboxes.mcp_server_spec import PROJECT_ROOT, SHIPPED_SERVERS_FILE, load_servers
from sandboxes.mcp_servers import ServerConnection

CALLS = 400
WARMUP = 30
PARALLEL_CALLS = 300
SERVER = "everything"


@asynccontextmanager
async def _bare_session(argv: list[str]):
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    async with stdio_client(StdioServerParameters(command=argv[0], args=argv[1:])) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def _echo(i: int):
    return action_from_call("tools/call", {"name": "echo", "arguments": {"message": f"m{i}"}})


def _paired(servers, spec) -> dict[str, list[float]]:
    plain = ["node", str(PROJECT_ROOT / ".mcp-servers/node_modules/@modelcontextprotocol/server-everything/dist/"
                               "index.js"), "stdio"]
    probe = ServerConnection(spec)  # not started: lends its working directory and command line to the bare server
    sandboxed = probe._argv()
    samples: dict[str, list[float]] = {"plain": [], "sandboxed": [], "step": []}
    collector = McpCollector(servers)
    with start_blocking_portal() as portal:
        sessions = {name: portal.wrap_async_context_manager(_bare_session(argv))
                    for name, argv in (("plain", plain), ("sandboxed", sandboxed))}
        opened = {name: cm.__enter__() for name, cm in sessions.items()}

        async def timed(session, i: int) -> float:
            start = time.perf_counter()
            await session.call_tool("echo", {"message": f"m{i}"})
            return time.perf_counter() - start

        try:
            collector.reset(Task(id="bench", instruction="bench", options={"server": SERVER}))
            for i in range(WARMUP + CALLS):
                bare = {name: portal.call(timed, session, i) for name, session in opened.items()}
                start = time.perf_counter()
                collector.step(_echo(i))
                step = time.perf_counter() - start
                if i >= WARMUP:
                    samples["plain"].append(bare["plain"])
                    samples["sandboxed"].append(bare["sandboxed"])
                    samples["step"].append(step)
        finally:
            collector.close()
            for cm in sessions.values():
                cm.__exit__(None, None, None)
            probe.close()
    return samples


def _parallel(servers, n: int) -> float:
    barrier = threading.Barrier(n + 1)
    done = []

    def work(k: int):
        collector = McpCollector(servers)
        try:
            collector.reset(Task(id=f"bench-{k}", instruction="bench", options={"server": SERVER}))
            barrier.wait()
            for i in range(PARALLEL_CALLS):
                collector.step(_echo(i))
            done.append(PARALLEL_CALLS)
        finally:
            collector.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - start)


def main() -> None:
    servers = load_servers(SHIPPED_SERVERS_FILE)
    samples = _paired(servers, servers[SERVER])
    ms = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    overhead = statistics.median(s - b for s, b in zip(samples["step"], samples["sandboxed"])) * 1000
    print(f"per call, median of {CALLS} alternating `echo` calls on {SERVER} over stdio:")
    print(f"  bare SDK call_tool, server unsandboxed   {ms['plain']:7.3f} ms")
    print(f"  bare SDK call_tool, server in bwrap      {ms['sandboxed']:7.3f} ms")
    print(f"  McpCollector.step, server in bwrap       {ms['step']:7.3f} ms")
    print(f"  collector overhead (paired median)       {overhead:7.3f} ms  (target <= 0.5 ms: "
          f"{'met' if overhead <= 0.5 else 'NOT met'})")
    print(f"throughput, {PARALLEL_CALLS} steps per server, one collector thread per server:")
    for n in (1, 2, 4):
        print(f"  {n} server(s) in parallel                 {_parallel(servers, n):7.0f} calls/s")


if __name__ == "__main__":
    main()
