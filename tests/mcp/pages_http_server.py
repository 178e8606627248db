"""A tiny MCP server over streamable HTTP for the {pages} tests (run by worldline's interpreter in its sandbox):
fetches a URL with the standard library and returns what it got, or why it got nothing."""

import argparse
import urllib.error
import urllib.request

from mcp.server.mcpserver import MCPServer

server = MCPServer("pages-http")


@server.tool(description="The body of the page at `url`, or the error that stopped the request.")
def get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        return f"error: {exc}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    server.run("streamable-http", host="127.0.0.1", port=parser.parse_args().port)
