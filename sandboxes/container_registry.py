"""The live-container registry and orphan cleanup: the labels that mark worldline's containers and their owner, the
sandboxes this process has not closed yet (removed at exit, Ctrl-C or SIGTERM by `cleanup_live`), and the
removal of containers a SIGKILLed run left (`remove_orphans`) or that `worldline sandbox` is asked to remove.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import socket
import threading
from typing import Any, Iterator

from sandboxes.engine import engine_client
from schemas.interrupts import interrupt_on_sigterm
from schemas.processes import alive, tagged_owner

log = logging.getLogger(__name__)

LABEL = "worldline"

# What cleanup_live removes on exit and signals: every sandbox started and not closed yet, by name.
_live: dict[str, Any] = {}
_live_lock = threading.Lock()
_atexit_registered = False
_signals_installed = False
# Who started a container: lets a later run on the same host remove what a SIGKILLed run left behind. OWNER_LABEL
# ("<host>:<pid>") is what runs look their own containers up by; OWNER_TAG_LABEL ("<pid>.<start>.<pid namespace>",
# missing on containers labelled before it) tells a reused pid and another pid namespace's pid from the owner.
OWNER_LABEL = f"{LABEL}.owner"
OWNER_TAG_LABEL = f"{LABEL}.owner_tag"
_OWNER_TAG = re.compile(r"(?P<pid>[0-9]+)\.(?P<start>[0-9]+)\.(?P<namespace>[0-9]+)")


@contextlib.contextmanager
def locked() -> Iterator[dict[str, Any]]:
    """The registry (sandbox name -> sandbox) under its lock. A sandbox registers itself here, and checks and sets
    its closed flag here as it leaves: a close racing another (its owner's and `cleanup_live`'s at exit) then removes
    the container once."""
    with _live_lock:
        yield _live


def cleanup_live() -> int:
    """Remove every container this process started and has not closed yet; returns how many."""
    with _live_lock:
        sandboxes = list(_live.values())
    for sandbox in sandboxes:
        sandbox.close()
    return len(sandboxes)


def install_cleanup_handlers() -> None:
    """Remove live containers at exit, and make SIGTERM exit through `finally` blocks and atexit like Ctrl-C does.

    The signal itself only raises (KeyboardInterrupt / schemas.interrupts.Terminated): removing containers inside the handler would
    make episodes still running fail and be stored as finished. Call it from the main thread (signals need that).
    """
    global _atexit_registered, _signals_installed
    with _live_lock:
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(cleanup_live)
        if _signals_installed or threading.current_thread() is not threading.main_thread():
            return
        _signals_installed = True
    interrupt_on_sigterm()


def _worldline_containers(client) -> list[dict]:
    # One list call (not containers.list, which inspects each container and fails if one vanishes meanwhile).
    return [{"id": c["Id"], "name": c["Names"][0].lstrip("/"), "labels": c.get("Labels") or {}}
            for c in client.api.containers(all=True, filters={"label": f"{LABEL}=1"})]


def _remove(client, container: dict, removed: list[str]) -> None:
    try:
        client.api.remove_container(container["id"], force=True)
        removed.append(container["name"])
    except Exception as exc:  # already gone, or being removed by its owner right now
        log.debug("could not remove %s: %s", container["name"], exc)


def remove_orphans(client=None) -> list[str]:
    """Remove worldline containers started on this host by processes that no longer exist (e.g. SIGKILLed runs)."""
    client = client or engine_client()
    host = socket.gethostname()
    removed: list[str] = []
    for container in _worldline_containers(client):
        owner = _owner(container["labels"], host)
        if owner and not alive(*owner):
            _remove(client, container, removed)
    return removed


def _owner(labels: dict, host: str) -> tuple[int, int | None] | None:
    """(pid, start time or None) of the process of `host` that started a container; None for another host's or
    another pid namespace's (its pid is another process here) or an unlabelled one."""
    owner_host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
    if owner_host != host or not pid.isdigit():
        return None
    tag = _OWNER_TAG.fullmatch(labels.get(OWNER_TAG_LABEL, ""))
    return tagged_owner(tag) if tag else (int(pid), None)


def remove_containers(client=None, name_prefix: str | None = None) -> list[str]:
    """Remove worldline containers on the engine (optionally only those whose name starts with `name_prefix`)."""
    client = client or engine_client()
    removed: list[str] = []
    for container in _worldline_containers(client):
        if not name_prefix or container["name"].startswith(name_prefix):
            _remove(client, container, removed)
    return removed


def list_containers(client=None) -> list[dict]:
    """Worldline containers on the engine: id, name, labels."""
    return _worldline_containers(client or engine_client())
