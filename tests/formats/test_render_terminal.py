"""render_terminal against a real tmux server: the -e capture, rendered, must equal tmux's own plain capture."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from schemas.render import render
from schemas.render import terminal
from schemas.render.terminal import render_terminal

COLS, ROWS = 72, 20

# Colors of every kind tmux re-emits (bold/16-color, 256-color, truecolor, background), a wide-character line, a
# carriage-return overwrite and `ls --color`; each shows on screen differently from how its bytes read.
COMMANDS = [
    r"printf '\033[1;31mred bold\033[0m plain \033[42mgreen bg\033[0m end\n'",
    r"printf '\033[38;5;196m256\033[0m \033[38;2;10;200;30mtruecolor\033[0m \033[4munder\033[0m\n'",
    r"printf '日本語 wide ✓\n'",
    r"printf 'progress 10%%\rprogress 100%%\n'",
    "mkdir -p lsdir/sub && touch lsdir/a.txt && chmod +x lsdir/a.txt && ls --color=always lsdir",
    "echo DONE-MARK",
]


@pytest.fixture
def tmux_pane():
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed; scripts/setup.d/40-formats.sh installs it")
    # A private socket in a short temporary folder: nothing is shared with other tmux users, nothing is left behind.
    folder = tempfile.mkdtemp(prefix="hfmt-")
    env = {**os.environ, "PS1": "$ ", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"}
    base = ["tmux", "-S", os.path.join(folder, "sock"), "-f", "/dev/null"]
    subprocess.run(base + ["new-session", "-d", "-s", "t", "-c", folder, "-x", str(COLS), "-y", str(ROWS),
                           "bash --norc --noprofile"], check=True, env=env)
    try:
        yield base
    finally:
        subprocess.run(base + ["kill-server"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _capture(base, *flags) -> bytes:
    return subprocess.run(base + ["capture-pane", "-p", *flags, "-t", "t"], check=True,
                          capture_output=True).stdout


def _run(base, command: str) -> None:
    subprocess.run(base + ["send-keys", "-t", "t", "-l", command], check=True)
    subprocess.run(base + ["send-keys", "-t", "t", "Enter"], check=True)


def _wait_for(base, marker: bytes, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The marker must appear as output, not only inside the echoed command line.
        if any(line.strip() == marker for line in _capture(base).splitlines()):
            return
        time.sleep(0.05)
    pytest.fail(f"tmux never showed {marker!r}:\n{_capture(base).decode()}")


def _plain_screen(capture: bytes) -> str:
    lines = [line.rstrip() for line in capture.decode("utf-8").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def test_colored_capture_renders_to_the_plain_capture(tmux_pane):
    for command in COMMANDS:
        _run(tmux_pane, command)
    _wait_for(tmux_pane, b"DONE-MARK")
    colored = _capture(tmux_pane, "-e")
    plain = _capture(tmux_pane)
    assert b"\x1b[" in colored and b"\x1b[" not in plain  # the -e capture really carries escape sequences

    expected = _plain_screen(plain)
    assert "red bold plain green bg end" in expected and "progress 100%" in expected and "日本語 wide ✓" in expected
    assert render_terminal(colored, {"cols": COLS, "rows": ROWS}) == expected
    # Without a size in meta the screen is fitted to the content; the text must not change.
    assert render("tmux-ansi", colored, {}) == expected


def test_ascii_color_capture_takes_the_direct_path_and_agrees_with_the_replay(tmux_pane):
    _run(tmux_pane, r"printf '\033[1;34mblue\033[0m \033[38;5;208morange\033[0m\n'; ls --color=always / | head -5")
    _run(tmux_pane, "echo DONE-MARK")
    _wait_for(tmux_pane, b"DONE-MARK")
    colored = _capture(tmux_pane, "-e")
    meta = {"cols": COLS, "rows": ROWS}
    direct = terminal._plain_screen(terminal._SGR.sub("", terminal._decoded(colored)), meta)
    assert direct is not None  # printable ASCII and SGR only: the fast path applies
    assert direct == terminal._replay(terminal._decoded(colored), meta) == _plain_screen(_capture(tmux_pane))
    assert render_terminal(colored, meta) == _plain_screen(_capture(tmux_pane))


@pytest.mark.parametrize("seed", range(20))
def test_direct_path_equals_the_emulator_on_random_screens(seed):
    import random

    rng = random.Random(seed)
    cols = rng.randint(5, 30)
    lines = []
    for _ in range(rng.randint(0, 12)):
        parts = [rng.choice(["", "\x1b[1m", "\x1b[38;5;12m", "\x1b[0m\x1b[39m\x1b[49m", "\x1b[m"])
                 + "".join(rng.choice("ab c-_.$ ") for _ in range(rng.randint(0, 2 * cols // 3)))
                 for _ in range(rng.randint(0, 3))]
        lines.append("".join(parts))
    text = "\n".join(lines)
    for meta in ({"cols": cols, "rows": 3}, {}):
        direct = terminal._plain_screen(terminal._SGR.sub("", text), meta)
        assert direct is not None and direct == terminal._replay(text, meta), (text, meta)


@pytest.mark.parametrize("seed", range(20))
def test_direct_path_with_unicode_agrees_or_defers_to_the_emulator(seed):
    import random

    rng = random.Random(seed)
    # One-cell and two-cell characters; odd seeds add a combining accent and a zero-width space.
    alphabet = "ab ✓é─│日本語ü" + ("\u0301\u200b" if seed % 2 else "")
    lines = ["\x1b[1m" * rng.randint(0, 1) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
             for _ in range(rng.randint(1, 6))]
    text = "\n".join(lines)
    for meta in ({"cols": 12, "rows": 2}, {}):
        direct = terminal._plain_screen(terminal._SGR.sub("", text), meta)
        if any(mark in text for mark in "\u0301\u200b"):
            assert direct is None
        elif direct is not None:
            assert direct == terminal._replay(text, meta), (text, meta)
        else:
            assert meta and any(terminal._visible_width(line) > meta["cols"] for line in lines)
        assert render_terminal(text.encode(), meta) == terminal._replay(text, meta)


def test_capture_with_history_keeps_every_line(tmux_pane):
    _run(tmux_pane, "for i in $(seq 1 45); do echo line-$i; done; echo DONE-MARK")
    _wait_for(tmux_pane, b"DONE-MARK")
    colored = _capture(tmux_pane, "-e", "-S", "-")
    rendered = render_terminal(colored, {"cols": COLS, "rows": ROWS})
    assert rendered == _plain_screen(_capture(tmux_pane, "-S", "-"))
    assert "line-1\n" in rendered and "line-45\n" in rendered  # more lines than the pane has rows, none lost


def test_control_sequences_are_replayed_not_stripped():
    raw = b"abcdef\rXY\nkeep\x1b[2Kgone?\n\x1b[5Ccol5\n\x1b[1;31m\xff bad byte\x1b[0m   \n\n\n"
    assert render_terminal(raw, {}) == "XYcdef\n    gone?\n     col5\n\ufffd bad byte"


def test_hyperlinks_take_no_cells():
    raw = b"see \x1b]8;;https://example.org/a\x1b\\the docs\x1b]8;;\x1b\\ now\nok \x1b]8;;u\x07L\x1b]8;;\x07\n"
    meta = {"cols": 20, "rows": 3}
    assert render_terminal(raw, meta) == terminal._replay(terminal._decoded(raw), meta) == "see the docs now\nok L"
    assert terminal._plain_screen(terminal._SGR.sub("", terminal._decoded(raw)), meta) is not None


def test_long_line_wraps_at_meta_width():
    assert render_terminal(b"0123456789abc\nnext\n", {"cols": 10, "rows": 2}) == "0123456789\nabc\nnext"


def test_empty_capture_is_empty_text():
    assert render_terminal(b"", {}) == "" and render_terminal(b"\n\n  \n", {"cols": 5, "rows": 3}) == ""


@pytest.mark.timeout(60)
def test_a_recorded_size_past_any_terminal_is_capped():
    # A meta_json claiming 10^8 x 10^8 cells made pyte build every cell: the render never finished.
    raw = b"ab\x1b[2;3Hcd\n" + b"x" * 12_000 + b"\n"
    huge, capped = {"cols": 10**8, "rows": 10**8}, {"cols": terminal.MAX_SIDE, "rows": terminal.MAX_SIDE}
    assert render_terminal(raw, huge) == render_terminal(raw, capped)
    width = terminal.MAX_SIDE
    assert render_terminal(raw, huge).split("\n") == ["ab", "  cd"] + ["x" * width] * (12_000 // width) + \
        (["x" * (12_000 % width)] if 12_000 % width else [])
    # The direct path wraps at the same width.
    assert render_terminal(b"y" * (width + 5), huge) == "y" * width + "\nyyyyy"
