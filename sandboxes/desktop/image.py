"""The desktop image, built offline in two layers: a debootstrap base with the Debian desktop packages (slow, built
once per package list) and a thin layer with the desktop user and the guest scripts (rebuilt in seconds whenever a
file in guest/ changes, because the tag carries a hash of them).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

from sandboxes.engine import engine_client
from sandboxes.images import build_base_image, image_exists

GUEST_DIR = Path(__file__).parent / "guest"
GUEST_PATH = "/opt/worldline"
DESKTOP_USER = "user"
DESKTOP_UID = 1000
DESKTOP_HOME = f"/home/{DESKTOP_USER}"
# X server, session bus, accessibility bus and bridges, window manager, input tool, and the applications.
# Each app is a GTK program, so it speaks AT-SPI through the ATK bridge.
DESKTOP_PACKAGES = [
    "xvfb", "x11-utils", "xdotool", "openbox", "dbus", "dbus-x11", "at-spi2-core", "libatk-adaptor",
    "libgail-common", "gir1.2-atspi-2.0", "python3-gi", "fonts-dejavu-core",
    "mousepad",     # text editor
    "galculator",   # calculator
    "pcmanfm",      # file manager
    "lxterminal",   # terminal emulator
    "gnumeric",     # spreadsheet
]


def _digest(parts: list[bytes]) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:12]


def base_tag() -> str:
    return f"worldline/desktop-base:{_digest([p.encode() for p in DESKTOP_PACKAGES])}"


def _guest_files() -> list[Path]:
    return sorted(p for p in GUEST_DIR.iterdir() if p.is_file() and not p.name.startswith("."))


def desktop_tag() -> str:
    parts = [base_tag().encode()] + [p.name.encode() + b"\0" + p.read_bytes() for p in _guest_files()]
    return f"worldline/desktop:{_digest(parts)}"


def _dockerfile(base: str) -> bytes:
    return "\n".join([
        f"FROM {base}",
        f"RUN useradd --create-home --uid {DESKTOP_UID} --shell /bin/bash {DESKTOP_USER} && mkdir -p {GUEST_PATH}",
        f"COPY guest/ {GUEST_PATH}/",
        f"RUN chmod 755 {GUEST_PATH}/*",
        "ENV LANG=C.UTF-8",
        f"WORKDIR {DESKTOP_HOME}",
    ]).encode() + b"\n"


def _context(base: str) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        entries = [("Dockerfile", _dockerfile(base))] + [(f"guest/{p.name}", p.read_bytes()) for p in _guest_files()]
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_desktop_image(*, force: bool = False, client=None) -> str:
    """Return the tag of the desktop image for the current guest scripts, building what is missing."""
    client = engine_client(client)
    tag = desktop_tag()
    if not force and image_exists(tag, client):
        return tag
    base = base_tag()
    build_base_image(base, DESKTOP_PACKAGES, force=force, client=client)
    client.images.build(fileobj=_context(base), custom_context=True, tag=tag, rm=True, network_mode="none")
    return tag


if __name__ == "__main__":
    print(build_desktop_image())
