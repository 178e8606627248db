"""A streamable-HTTP MCP server, standard library only, whose answers carry text the MCP SDK's parser refuses: a JSON
escape of a lone UTF-16 surrogate (`"emoji \\ud83d"`, what a JavaScript server's String.slice by UTF-16 units, then
JSON.stringify, make) or bytes that are not UTF-8 (a string cut by bytes). The SDK's own server cannot write either,
so this one answers JSON-RPC by hand, as a JSON body or as one server-sent event.

The tool `cut` takes `n` (units of the text to keep), `how` (`escape` or `bytes`) and `body` (`json`, `sse`, or
`sse-split`: the event's JSON over two `data:` lines); `bad` answers a body that is JSON to no parser."""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEXT = "emoji \U0001F469\u200d\U0001F4BB end"
TOOLS = [{"name": "cut", "description": "the text's first n units", "inputSchema": {"type": "object"}},
         {"name": "bad", "description": "a body that is not JSON", "inputSchema": {"type": "object"}}]


def cut(n: int, how: str) -> bytes:
    """The answer's text as it goes on the wire: the JSON escapes (ASCII), or raw UTF-8 cut after `n` bytes."""
    if how == "escape":
        return json.dumps(TEXT.encode("utf-16-le")[:2 * n].decode("utf-16-le", "surrogatepass")).encode()
    return b'"' + TEXT.encode()[:n] + b'"'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one write (flushed after each request): no Nagle wait between them

    def log_message(self, *args):
        pass

    def do_GET(self):  # no session id is given, so the SDK opens no stream; say so to any other client
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "id" not in request:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        method, params, body = request["method"], request.get("params") or {}, "json"
        if method == "initialize":
            result = json.dumps({"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                                 "serverInfo": {"name": "broken-text", "version": "1"}}).encode()
        elif method == "tools/list":
            result = json.dumps({"tools": TOOLS}).encode()
        elif method == "tools/call" and params["name"] == "cut":
            arguments = params["arguments"]
            text = cut(arguments["n"], arguments.get("how", "escape"))
            result = b'{"content":[{"type":"text","text":' + text + b'}],"structuredContent":{"cut":' + text + b"}}"
            body = arguments.get("body", "json")
        elif method == "tools/call" and params["name"] == "bad":
            result = b'{"content": ['
        else:
            result = b"{}"
        message = b'{"jsonrpc":"2.0","id":' + json.dumps(request["id"]).encode() + b',"result":' + result + b"}"
        if body == "json":
            self._send(message, "application/json")
        elif body == "sse":
            self._send(b"event: message\r\ndata: " + message + b"\r\n\r\n", "text/event-stream")
        else:  # JSON may break a line between two tokens; SSE joins an event's data lines with "\n"
            head, tail = message.split(b',"result":', 1)
            self._send(b"event: message\ndata: " + head + b",\ndata: \"result\":" + tail + b"\n\n", "text/event-stream")

    def _send(self, payload: bytes, content_type: str):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler).serve_forever()
