"""The terminal renderer keeps zero-width characters and the text after them (unusual-content audit U1).

pyte's own Screen.draw stopped at any zero-width character without a combining class (ZWJ, ZWSP, BOM, U+FE0F,
Devanagari vowel signs) and lost the rest of the line: `नमस्ते दुनिया` became `नमस्त`, `I ❤️ tea` became `I ❤`.
The reference is tmux itself: rendering its `capture-pane -e` screen must give its plain `capture-pane` screen, with
the same line breaks, so the characters also take the columns tmux gives them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from schemas.render import terminal
from schemas.render.terminal import render_terminal

COLS = 30
UUID = "123e4567-e89b-12d3-a456-426614174000"

# Each followed, on its line, by a UUID and x's past the right edge, so tmux wraps the line where its own widths say:
# a character measured wider here than in tmux would wrap the row early and the screens would differ.
CORPUS = {
    "devanagari": "नमस्ते दुनिया",  # vowel signs U+0947, U+093E and a virama
    "heart": "I ❤️ tea",  # U+FE0F, variation selector 16: tmux 3.3a keeps ❤ one column
    "technologist": "👩‍💻 ok",  # a ZWJ sequence: one two-column cell in tmux
    "family": "👩‍👩‍👧‍👦 id",  # longer than a tmux cell holds: tmux keeps the first three and its ZWJs
    "kiss": "👩‍❤️‍👨 us",  # a one-column ❤ joined after a ZWJ
    "zwsp": "zw\u200bsp after",
    "bom": "a\ufeffb word joiner a\u2060b",
    "keycap": "1\ufe0f\u20e3 key",
    "thai": "\u0e01\u0e31\u0e33 th",
    "hangul jamo": "\u1100\u1161 jamo",
    "kana dakuten": "\u304b\u3099 ga",
    "accent after wide": "日\u0301 mark",  # pyte put the accent in the wide character's blank second cell
    "joined to ascii": "a\u200d😀 b",
}


@pytest.fixture
def tmux_pane():
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed; scripts/setup.d/40-formats.sh installs it")
    folder = tempfile.mkdtemp(prefix="hzw-")
    env = {**os.environ, "PS1": "$ ", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"}
    base = ["tmux", "-S", os.path.join(folder, "sock"), "-f", "/dev/null"]
    subprocess.run(base + ["new-session", "-d", "-s", "t", "-c", folder, "-x", str(COLS), "-y", "20",
                           "bash --norc --noprofile"], check=True, env=env)
    try:
        yield base, folder
    finally:
        subprocess.run(base + ["kill-server"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _capture(base, *flags) -> bytes:
    return subprocess.run(base + ["capture-pane", "-p", "-S", "-", *flags, "-t", "t"], check=True,
                          capture_output=True).stdout


def _screen(capture: bytes) -> str:
    lines = [line.rstrip(" ") for line in capture.decode("utf-8").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_a_zero_width_character_keeps_the_rest_of_the_line_as_tmux_shows_it(tmux_pane, name):
    base, folder = tmux_pane
    with open(os.path.join(folder, "shown.txt"), "w", encoding="utf-8") as out:
        out.write(f"\x1b[1;32m{CORPUS[name]}\x1b[0m {UUID} {'x' * COLS}\n")
    # The marker is computed, so the typed command line (which wraps at 30 columns) never shows it on a row alone.
    subprocess.run(base + ["send-keys", "-t", "t", "-l", "cat shown.txt; echo DONE-$((6*7))"], check=True)
    subprocess.run(base + ["send-keys", "-t", "t", "Enter"], check=True)
    deadline = time.monotonic() + 10
    while not any(line.strip() == b"DONE-42" for line in _capture(base).splitlines()):
        if time.monotonic() > deadline:
            pytest.fail(f"tmux never showed DONE-42:\n{_capture(base).decode()}")
        time.sleep(0.05)
    colored, expected = _capture(base, "-e"), _screen(_capture(base))
    assert UUID[:8] in expected and b"\x1b[" in colored
    assert render_terminal(colored, {"cols": COLS, "rows": 20}) == expected
    # Sized from the content (no size recorded): no row may wrap or scroll off either.
    assert render_terminal(colored, {}) == expected


def test_the_audits_capture_keeps_the_uuid_date_sha_and_pid():
    # terminal-odd-wide-s0-177aa992:0 as tmux captured it: its text stopped at the first ZWJ and at the ZWSP.
    raw = ("root@sandbox:/work# cat wide.txt\n"
           "漢字テスト 👩\u200d👩\u200d👧\u200d id 123e4567-e89b-12d3-a456-426614174000 at 2026-11-28 10:00:01\n"
           "cafe\u0301 e\u0301\u0301 שלום עולם مرحبا 12:34:56\n"
           "NBSP[\xa0] ZWSP[\u200b] ZWJ[] \u200d😀 sha 4f2a9c1d8e7b pid 4242\n"
           "root@sandbox:/work#\n" + "\n" * 35).encode()
    text = render_terminal(raw, {"cols": 160, "rows": 40})
    assert text == raw.decode().rstrip("\n")


def test_a_leading_bom_and_text_after_it_are_kept():
    assert render_terminal("\ufeffBOM ok".encode(), {}) == "\ufeffBOM ok"
    assert render_terminal("x\r\n\u200bline two\r\n".encode(), {"cols": 20, "rows": 3}) == "x\n\u200bline two"


def test_a_control_character_pyte_has_no_function_for_takes_no_cell_and_ends_nothing():
    assert render_terminal("a\x01b\x7fc\u0085d \u200be".encode(), {}) == "abcd \u200be"


def test_a_screen_sized_from_content_fits_emoji_sequences_and_keeps_the_first_row():
    # wcswidth reads 👍🏽 as two columns where the screen (and tmux 3.3a) gives it four: sized by wcswidth, the first
    # line wrapped and its top row scrolled off the fitted screen. The carriage return sends it through pyte.
    raw = "x\r👍🏽👍🏽\nok\n".encode()
    assert terminal._plain_screen(terminal._decoded(raw), {}) is None
    assert render_terminal(raw, {}) == "👍🏽👍🏽\nok"


def test_a_trailing_no_break_or_ideographic_space_is_kept_as_tmux_keeps_it():
    # tmux's plain capture of `printf 'nbsp\\xc2\\xa0\\nideo\\xe3\\x80\\x80\\nsp   \\n'` trims only the spaces.
    raw = "nbsp\xa0\nideo\u3000\nsp   \n".encode()
    assert render_terminal(raw, {"cols": 30, "rows": 6}) == "nbsp\xa0\nideo\u3000\nsp"
    assert render_terminal(raw + b"\x1b[1m\r", {"cols": 30, "rows": 6}) == "nbsp\xa0\nideo\u3000\nsp"
