"""A tiny MCP server over streamable HTTP for the containment tests (run by worldline's interpreter in its sandbox):
runs shell commands and lists the mounts it can write, so a test can do what an untrusted server could."""

import argparse
import os
import subprocess

from mcp.server.mcpserver import MCPServer

server = MCPServer("shell-http")


@server.tool(description="Runs a bash command; returns its exit code, output and errors.")
def sh(cmd: str) -> str:
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    return f"rc={done.returncode}\n{done.stdout}{done.stderr}"


@server.tool(description="The folders mounted read-write that this process may write to, with their file systems.")
def writable_mounts() -> list[list[str]]:
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields, _, rest = line.partition(" - ")
            point, options = fields.split()[4], fields.split()[5]
            if "rw" in options.split(",") and os.path.isdir(point) and os.access(point, os.W_OK):
                found.append([point, rest.split()[0]])
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    server.run("streamable-http", host="127.0.0.1", port=parser.parse_args().port)
