#!/usr/bin/env python3
"""The desktop daemon: runs INSIDE the container as the desktop user, keeps one AT-SPI connection open, and answers
one JSON request per connection on a Unix socket (desktopctl.py is the client the host execs).

Requests: {"op": "ping"} | {"op": "observe"} |
          {"op": "step", "commands": [[argv...], ...], "settle_ms": N}  (runs the xdotool commands, waits, dumps;
                                        the command ["settle-pointer"] is desktopd's own, see _settle_pointer) |
          {"op": "launch", "argv": [...], "window": "app name", "timeout_s": N}  (starts an app, waits for its window)
One long-lived process matters: importing Atspi and connecting to the bus costs more than a whole small dump, and
a GLib main loop is needed anyway so AT-SPI's cache-update signals are consumed instead of piling up.
"""

import ctypes
import json
import os
import socket
import subprocess
import sys
import time

from gi.repository import Atspi, GLib

import atspi_dump

SOCKET_PATH = os.environ.get("WORLDLINE_DESKTOP_SOCKET", "/tmp/worldline-desktop.sock")
COMMAND_TIMEOUT_S = 20
# After an action: wait at least settle_ms, then until the apps have sent no accessibility event for QUIET_S
# (a display still updating, a dialog still opening), but never longer than MAX_SETTLE_S (a blinking cursor).
QUIET_S = 0.1
MAX_SETTLE_S = 1.5
_last_event = [0.0]
# Between a pointer move and a button event: how long to wait at most for a tooltip under the pointer to go away.
POINTER_SETTLE_S = 1.0
SETTLE_POINTER = "settle-pointer"


def _on_event(_event):
    _last_event[0] = time.monotonic()


class _XPointer:
    """What the X server has under the pointer, read over desktopd's own libX11 connection (one round trip)."""

    def __init__(self):
        ulong, p = ctypes.c_ulong, ctypes.POINTER
        x11 = self.x11 = ctypes.CDLL("libX11.so.6")
        x11.XOpenDisplay.restype, x11.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
        x11.XDefaultRootWindow.restype, x11.XDefaultRootWindow.argtypes = ulong, [ctypes.c_void_p]
        x11.XInternAtom.restype, x11.XInternAtom.argtypes = ulong, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x11.XQueryPointer.argtypes = [ctypes.c_void_p, ulong, p(ulong), p(ulong)] + [p(ctypes.c_int)] * 4 + [
            p(ctypes.c_uint)]
        x11.XGetWindowProperty.argtypes = [ctypes.c_void_p, ulong, ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                           ulong, p(ulong), p(ctypes.c_int), p(ulong), p(ulong),
                                           p(ctypes.c_void_p)]
        x11.XFree.argtypes = [ctypes.c_void_p]
        # A window can vanish between the two requests: X errors are then ignored (the default handler exits).
        self._on_error = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda _d, _e: 0)
        x11.XSetErrorHandler(self._on_error)
        self.display = x11.XOpenDisplay(None)
        if not self.display:
            raise RuntimeError(f"cannot open X display {os.environ.get('DISPLAY')!r}")
        self.root = x11.XDefaultRootWindow(self.display)
        self.window_type = x11.XInternAtom(self.display, b"_NET_WM_WINDOW_TYPE", 0)
        self.tooltip = x11.XInternAtom(self.display, b"_NET_WM_WINDOW_TYPE_TOOLTIP", 0)

    def top_window(self):
        """The top-level window (child of the root) the pointer is in, or 0."""
        root, child, mask = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_uint()
        ints = [ctypes.c_int() for _ in range(4)]
        self.x11.XQueryPointer(self.display, self.root, ctypes.byref(root), ctypes.byref(child),
                               *[ctypes.byref(i) for i in ints], ctypes.byref(mask))
        return child.value

    def is_tooltip(self, window):
        kind, fmt, count, after, data = (ctypes.c_ulong(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong(),
                                         ctypes.c_void_p())
        status = self.x11.XGetWindowProperty(self.display, window, self.window_type, 0, 16, 0, 4,  # 4: XA_ATOM
                                             ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(count),
                                             ctypes.byref(after), ctypes.byref(data))
        if status != 0 or not data.value:
            return False
        try:
            atoms = ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))
            return fmt.value == 32 and any(atoms[i] == self.tooltip for i in range(count.value))
        finally:
            self.x11.XFree(data)

    def under_tooltip(self):
        window = self.top_window()
        return bool(window) and self.is_tooltip(window)


_pointer = []


def _settle_pointer():
    """Let the apps react to a pointer move before a button event; returns seconds waited.

    xdotool moves the pointer and presses microseconds later. A tooltip shown for the widget the pointer rested on
    (GTK shows one after ~0.5 s of hovering, below the pointer, over the neighbouring widgets) is still mapped then:
    the app hides it only once it has read the move. The X server sends the press to the window under the pointer,
    the tooltip, and the click is lost. A real hand takes far longer between move and press, so wait until no
    tooltip is under the pointer (at most POINTER_SETTLE_S).
    """
    if not _pointer:
        _pointer.append(_XPointer())
    started = time.monotonic()
    while _pointer[0].under_tooltip() and time.monotonic() - started < POINTER_SETTLE_S:
        _pump(0.005)
    return time.monotonic() - started


def _run_commands(commands):
    results = []
    for argv in commands:
        if argv == [SETTLE_POINTER]:
            waited_ms = round(_settle_pointer() * 1000, 2)
            results.append({"argv": argv, "exit_code": 0, "stderr": "", "waited_ms": waited_ms})
            continue
        proc = subprocess.run(argv, capture_output=True, timeout=COMMAND_TIMEOUT_S)
        results.append({"argv": argv, "exit_code": proc.returncode,
                        "stderr": proc.stderr.decode("utf-8", "replace")[-500:]})
        if proc.returncode != 0:
            break
    return results


def _pump(seconds):
    """Wait while dispatching D-Bus events, so AT-SPI's cache has seen what the last action changed."""
    context = GLib.MainContext.default()
    deadline = time.monotonic() + seconds
    while True:
        while context.pending():
            context.iteration(False)
        if time.monotonic() >= deadline:
            return
        time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))


def _settle(min_s):
    """Pump events for min_s, then until QUIET_S passes without one (at most MAX_SETTLE_S); returns seconds waited."""
    started = time.monotonic()
    _pump(min_s)
    while time.monotonic() - started < MAX_SETTLE_S and time.monotonic() - _last_event[0] < QUIET_S:
        _pump(0.02)
    return time.monotonic() - started


def _wait_for_app(app_name, deadline, settle_s):
    while not atspi_dump.app_window_showing(app_name):
        if time.monotonic() > deadline:
            return False
        _pump(0.1)
    _pump(settle_s)  # the window is mapped; give its widgets a moment to lay out
    return True


def _activate(app_name, pid, deadline):
    """Give the app's new window the keyboard focus and wait until the app says it has it; False on the deadline.

    GTK reports the window `showing` as soon as it asks for the map, before the window manager has framed, placed
    and mapped it. Until then the window is not viewable, so `xdotool search --onlyvisible` finds nothing (and the
    chained windowactivate never runs), and the extents it reports are where it asked to be, not where it ends up:
    on a fresh desktop under load openbox was still starting up past the launch's settle, the first observation
    showed galculator's "2" at (100, 228) instead of (574, 516), and the first click hit the bare root window.
    `active` comes from the focus-in the window manager gives once the window is managed and mapped.
    """
    activated = False
    while True:
        if not activated:
            # Until the window is viewable the search finds nothing and exits 1: try again on the next round.
            activated = subprocess.run(["xdotool", "search", "--onlyvisible", "--pid", str(pid), "windowactivate",
                                        "--sync"], capture_output=True, timeout=COMMAND_TIMEOUT_S).returncode == 0
        # Not only `activated`: an app started through a wrapper has another pid, and openbox focuses new windows.
        if atspi_dump.app_window_active(app_name):
            return True
        if time.monotonic() > deadline:
            return False
        _pump(0.05)


def _dump_json():
    # Sent as a string inside the reply, so the host stores the dumper's bytes untouched as the raw observation.
    return json.dumps(atspi_dump.dump(), ensure_ascii=False, separators=(",", ":"))


def handle(request):
    op = request.get("op")
    if op == "ping":
        return {"ok": True}
    if op == "observe":
        _pump(0)
        return {"ok": True, "dump": _dump_json()}
    if op == "step":
        started = time.perf_counter()
        results = _run_commands(request.get("commands", []))
        action_ms = (time.perf_counter() - started) * 1000
        settled_s = _settle(request.get("settle_ms", 150) / 1000)
        failed = [r for r in results if r["exit_code"] != 0]
        return {"ok": not failed, "results": results, "action_ms": round(action_ms, 2),
                "settle_ms": round(settled_s * 1000, 2),
                "error": (f"{failed[0]['argv'][0]} exited {failed[0]['exit_code']}: {failed[0]['stderr']}"
                          if failed else None),
                "dump": _dump_json()}
    if op == "launch":
        app = subprocess.Popen(request["argv"], start_new_session=True, stdin=subprocess.DEVNULL,
                               stdout=open(f"/tmp/app-{os.path.basename(request['argv'][0])}.log", "ab"),
                               stderr=subprocess.STDOUT, cwd=os.environ.get("HOME", "/"))
        started = time.monotonic()
        deadline = started + request.get("timeout_s", 15)
        appeared = _wait_for_app(request["window"], deadline, 0.1)
        active = appeared and _activate(request["window"], app.pid, deadline)
        if active:
            # Widgets can still be laying out in the placed window: wait until the app's events die down.
            _settle(request.get("settle_ms", 300) / 1000)
        error = (None if active else f"the window of {request['window']!r} showed but never got the focus "
                 f"(not mapped by the window manager?)" if appeared else
                 f"no showing window of {request['window']!r} appeared")
        return {"ok": active, "dump": _dump_json(), "error": error,
                "waited_ms": round((time.monotonic() - started) * 1000, 2)}
    return {"ok": False, "error": f"unknown op {op!r}"}


def _serve(_channel, _condition, server):
    conn, _ = server.accept()
    with conn:
        conn.settimeout(COMMAND_TIMEOUT_S)
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        try:
            reply = handle(json.loads(data))
        except Exception as exc:  # one bad request must not take the desktop down
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        conn.sendall(json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    return True


def main():
    if os.path.exists(SOCKET_PATH):
        os.unlink(SOCKET_PATH)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET_PATH + ".tmp")
    server.listen(4)
    os.rename(SOCKET_PATH + ".tmp", SOCKET_PATH)  # appears only once it accepts
    GLib.io_add_watch(server.fileno(), GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN, _serve, server)
    listener = Atspi.EventListener.new(_on_event)
    for event_type in ("object:", "window:"):  # every object and window event: only their arrival time matters
        listener.register(event_type)
    print("desktopd ready", file=sys.stderr, flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
