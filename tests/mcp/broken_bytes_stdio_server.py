"""A line-JSON-RPC stdio MCP server (standard library only) whose answers can hold bytes that are not UTF-8, as a
server that cuts its UTF-8 text by bytes writes them.

Tools: `cut` answers the first `n` bytes of an emoji text's UTF-8, raw, in its text and structuredContent; `mixed`
answers a text with a cut emoji, a whole one, and a byte 0xFF; `notify_cut` first sends a log notification holding a
cut text, then answers "ok"; `bad` answers a line that is neither UTF-8 nor JSON.
"""

import json
import sys

TEXT = "emoji \U0001F469\u200d\U0001F4BB end"
CUT = "@CUT@"  # where the raw bytes go, in a line json.dumps wrote
MIXED = "a \U0001F469".encode()[:-1] + " b \U0001F4BB c ".encode() + b"\xff"  # a cut emoji, a whole one, a 0xFF


def send(value, raw: bytes = b"") -> None:
    sys.stdout.buffer.write(json.dumps(value, ensure_ascii=False).encode().replace(CUT.encode(), raw) + b"\n")
    sys.stdout.buffer.flush()


def answer(message_id, text: str, raw: bytes) -> None:
    send({"jsonrpc": "2.0", "id": message_id, "result": {"content": [{"type": "text", "text": text}],
                                                         "structuredContent": {"cut": text}}}, raw)


TOOLS = [{"name": name, "description": name, "inputSchema": {"type": "object"}}
         for name in ("cut", "mixed", "notify_cut", "bad")]

for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    method, params = message["method"], message.get("params") or {}
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}, "logging": {}},
            "serverInfo": {"name": "bytes", "version": "1"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": TOOLS}})
    elif method != "tools/call":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
    elif params["name"] == "cut":
        answer(message["id"], CUT, TEXT.encode()[:params["arguments"]["n"]])
    elif params["name"] == "mixed":
        answer(message["id"], CUT, MIXED)
    elif params["name"] == "notify_cut":
        send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": CUT}},
             TEXT.encode()[:8])
        answer(message["id"], "ok", b"")
    else:
        sys.stdout.buffer.write(b'{"jsonrpc": "2.0", "id": %d, "result": \xff\n' % message["id"])
        sys.stdout.buffer.flush()
