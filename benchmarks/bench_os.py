"""os domain: step time (action + AT-SPI tree dump) and tree size per desktop app, measured in one run.

Each app runs alone in a fresh desktop container. A step is a real input event (a pointer move, then a Shift key
press, alternating, so nothing in the app changes) with no minimum settle time: step = action + wait until the
apps' accessibility events are quiet (settle) + dump + transport.
Side by side: the same observe request over the kept-open attached exec vs one `docker exec` per request, and a
desktop started on demand vs one taken from a pool that booted it while the previous episode ran.
"""

from __future__ import annotations

import statistics
import time

STEPS = 6
APPS = [("galculator", ["galculator"]), ("mousepad", ["mousepad"]), ("pcmanfm", ["pcmanfm", "/home/user"]),
        ("lxterminal", ["lxterminal"]), ("gnumeric", ["gnumeric"])]


def _median_ms(values):
    return statistics.median(values) * 1000


def _bench_app(image, app, argv):
    from sandboxes.desktop.session import DesktopSession
    from schemas.render.os import render_atspi

    with DesktopSession(image, name_prefix="worldline-os-bench") as session:
        session.launch(argv, app, timeout_s=40)
        steps, dumps, actions, settles, nodes, sizes, renders, lines = [], [], [], [], [], [], [], []
        for index in range(STEPS):
            command = ["xdotool", "mousemove", str(5 + index), "5"] if index % 2 else ["xdotool", "key", "shift"]
            started = time.perf_counter()
            reply = session.step([command], settle_ms=0)
            steps.append(time.perf_counter() - started)
            raw = reply["raw"]
            started = time.perf_counter()
            text = render_atspi(raw, {})
            renders.append(time.perf_counter() - started)
            dumps.append(reply["dump"]["dump_ms"] / 1000)
            actions.append(reply["action_ms"] / 1000)
            settles.append(reply["settle_ms"] / 1000)
            nodes.append(reply["dump"]["nodes"])
            sizes.append(len(raw))
            lines.append(len(text.splitlines()) - 3)
        relay, per_exec = [], []
        for _ in range(STEPS):
            started = time.perf_counter()
            session.observe()
            relay.append(time.perf_counter() - started)
            started = time.perf_counter()
            session.sandbox.exec(["python3", "/opt/worldline/desktopctl.py"], stdin=b'{"op":"observe"}')
            per_exec.append(time.perf_counter() - started)
        return {
            "app": app, "nodes": int(statistics.median(nodes)), "kept_lines": int(statistics.median(lines)),
            "raw_kb": statistics.median(sizes) / 1024, "step_ms": _median_ms(steps), "action_ms": _median_ms(actions),
            "settle_ms": _median_ms(settles),
            "dump_ms": _median_ms(dumps), "render_ms": _median_ms(renders), "observe_relay_ms": _median_ms(relay),
            "observe_exec_ms": _median_ms(per_exec),
        }


def _reset_times(image, rounds=3):
    """Time until a desktop answers: started on demand, vs taken from a SandboxPool that booted it ahead."""
    from sandboxes.desktop.session import DesktopSession, desktop_limits, desktop_sandbox_kwargs, start_desktop
    from sandboxes.docker_sandbox import SandboxPool

    cold, warm = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        with DesktopSession(image, name_prefix="worldline-os-bench"):
            cold.append(time.perf_counter() - started)
    limits = desktop_limits()
    with SandboxPool(image, limits, size=1, prepare=start_desktop,
                     **desktop_sandbox_kwargs(limits, name_prefix="worldline-os-bench")) as pool:
        for _ in range(rounds):
            pool.wait_ready()
            time.sleep(1.0)  # what an episode takes: the pool's desktop finishes booting meanwhile
            started = time.perf_counter()
            session = DesktopSession(sandbox=pool.acquire())
            session.start()
            warm.append(time.perf_counter() - started)
            session.disconnect()
            pool.release(session.sandbox)
    return cold, warm


def main() -> None:
    from sandboxes.desktop.image import build_desktop_image

    image = build_desktop_image()
    cold, warm = _reset_times(image)
    print(f"desktop ready for an episode (container + Xvfb, D-Bus, AT-SPI, openbox, desktopd), median of "
          f"{len(cold)}: cold {statistics.median(cold):.2f} s | from a warm pool {statistics.median(warm):.2f} s")
    print(f"medians over {STEPS} steps; step = one xdotool event + settle (events quiet, no minimum) + full dump")
    columns = ["app", "nodes", "kept_lines", "raw_kb", "step_ms", "action_ms", "settle_ms", "dump_ms", "render_ms",
               "observe_relay_ms", "observe_exec_ms"]
    print("  ".join(f"{c:>14}" for c in columns))
    for app, argv in APPS:
        row = _bench_app(image, app, argv)
        print("  ".join(f"{row[c]:>14.1f}" if isinstance(row[c], float) else f"{row[c]:>14}" for c in columns))
        print(f"{'':>14}  per node: dump {row['dump_ms'] / max(row['nodes'], 1):.2f} ms, "
              f"raw {row['raw_kb'] * 1024 / max(row['nodes'], 1):.0f} B", flush=True)


if __name__ == "__main__":
    main()
