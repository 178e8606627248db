"""Plain text observations (command output, tool output): decoded, line endings unified, nothing else touched."""


def render_text(raw: bytes, meta: dict) -> str:
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
