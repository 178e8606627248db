"""The machine id recorded as provenance.host: an HMAC-SHA256 of the hostname under a key kept on the collecting
machine and never recorded, so rows of one machine match within and across a team's collections, but the id
names no machine and cannot be tested against a guessed hostname by whoever reads the data. keyed_id does the same
for other persistent hardware ids a collector sees (an Android device's serial)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import socket
from pathlib import Path

log = logging.getLogger(__name__)
PREFIX = "host-"
DIGITS = 12  # 48 bits: no two machines of a team collide in practice, and the id stays short in every row
KEY_NAME = Path("worldline") / "host-key"
_KEY = re.compile(r"[0-9a-f]{64}")


def key_path() -> Path | None:
    """$XDG_CONFIG_HOME/worldline/host-key, else ~/.config/worldline/host-key. The XDG spec says a relative
    XDG_CONFIG_HOME is invalid and to be ignored: the key would otherwise follow the working folder. None when there
    is no home folder ($HOME unset and a user id with no passwd entry, as `docker run --user 1234` gives)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if os.path.isabs(base):
        return Path(base) / KEY_NAME
    try:
        return Path.home() / ".config" / KEY_NAME
    except RuntimeError:
        return None


def machine_id() -> str:
    """`host-` and 12 hex digits of HMAC-SHA256(key, hostname)."""
    return _machine_id(key_path(), socket.gethostname())


@functools.cache
def _machine_id(path: Path, hostname: str) -> str:
    return _keyed(path, hostname, PREFIX)


def keyed_id(value: str, prefix: str) -> str:
    """`prefix` and 12 hex digits of HMAC-SHA256(this machine's key, value): the same on this machine (and on
    every machine sharing the key file) for the same value, and not to be tested against a guessed value by whoever
    reads the data."""
    return _keyed(key_path(), value, prefix)


def _keyed(path: Path, value: str, prefix: str) -> str:
    digest = hmac.new(_cached_key(path), value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
    return prefix + digest[:DIGITS]


@functools.cache
def _cached_key(path: Path) -> bytes:
    # Per key file: a per-run key must stay one for the whole run, and its warning be said once.
    return _key(path)


def _key(path: Path) -> bytes:
    """The machine's key, made on first use; a random one for this run alone where it cannot be read or made."""
    try:
        if path is None:
            raise OSError("no home folder: $HOME is unset and this user has no passwd entry; set XDG_CONFIG_HOME")
        return bytes.fromhex(_read_or_make(path))
    except (OSError, ValueError) as exc:
        log.warning("provenance.host: no machine key at %s (%s); this run's records carry a machine id of their "
                    "own, which no other run's will match", path or "~/.config/worldline/host-key", exc)
        return secrets.token_bytes(32)


def _read_or_make(path: Path) -> str:
    try:
        return _checked(path.read_text(encoding="ascii"), path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written whole under another name, then linked into place: two collectors starting at once both end up with
    # the one key that won, and neither ever reads a half-written file.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
    finally:
        draft.unlink(missing_ok=True)
    return _checked(path.read_text(encoding="ascii"), path)


def _checked(text: str, path: Path) -> str:
    # A file that is not a key is the user's to look at: it is neither used nor overwritten.
    if not _KEY.fullmatch(text.strip()):
        raise ValueError(f"{path} does not hold 64 hex digits")
    return text.strip()
