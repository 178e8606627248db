"""Job pids in text whose newlines are written escaped (transforms/masking/rules.py, the shell job rule): the os-desktop
collector writes a terminal's text as one AT-SPI cell, its newlines as a backslash and an "n" (schemas/render/os.py),
and an MCP tool's output reaches the screen as a JSON string. bash prints "[1] 105" alone on its line after
`cmd &`; the rule read it only at a real line's start."""

import json

import pytest

from schemas.render.os import render_atspi
from transforms.masking import mask, mask_many, volatile_spans

# A row of the 2026-11-27 collection (os-terminal-open-calculator, step 0's next observation), as recorded.
RECORDED = ("[39]\tterminal\tTerminal\tuser@desktop:~$ galculator &\\n[1] 106\\nuser@desktop:~$ [galculator] "
            "configuration file: couldn't open configuration file /home/user/.config/galculator/galculator.conf for "
            "reading. Nothing to worry about if you are starting galculator for the first time. Using defaults.\t\t"
            "LXTerminal\t(312, 215)\t(642, 410)\t")


def pids(text):
    return [text[s["start"]:s["end"]] for s in volatile_spans(text) if s["kind"] == "pid"]


def desktop(terminal_text):
    """The observation the os-desktop collector renders for a desktop showing one terminal with terminal_text."""
    node = {"id": 39, "role": "terminal", "name": "Terminal", "text": terminal_text,
            "states": ["visible", "showing", "enabled", "focused"], "position": [312, 215], "size": [642, 410]}
    dump = {"apps": [{"id": 0, "role": "application", "name": "lxterminal", "children": [node]}], "focused_id": 39}
    return render_atspi(json.dumps(dump).encode(), {})


def test_the_recorded_job_pid_in_an_at_spi_cell_is_a_pid():
    assert pids(RECORDED) == ["106"]
    assert mask(RECORDED)[1].startswith("[39]\tterminal\tTerminal\tuser@desktop:~$ galculator &\\n[1] <pid>\\nuser@")


@pytest.mark.parametrize("screen, expected", [
    ("user@desktop:~$ sleep 100 &\n[1] 105\nuser@desktop:~$ sleep 200 &\n[2] 1234567\nuser@desktop:~$ ",
     ["105", "1234567"]),
    ("user@desktop:~$ sleep 100 &\n[1] 105", ["105"]),  # the cell's last line: a tab follows
    ('user@desktop:~$ echo "x" & sleep 1 &\n[1] 77\n[2] 78\n"x"\n', ["77", "78"]),  # a quoted cell
    ("user@desktop:~$ sleep 100 &\r\n[1] 105\r\n", ["105"]),
])
def test_a_job_pid_in_a_rendered_terminal_is_a_pid(screen, expected):
    text = desktop(screen)
    assert "\\n[" in text and "\n[1]" not in text
    assert pids(text) == expected


@pytest.mark.parametrize("screen", [
    # The text's own backslash before "n": the renderer doubles it, and what follows is no line of the terminal.
    "user@desktop:~$ printf 'a\\n[1] 105\\n'",
    # A footnote or a numbered item: the number does not end its line.
    "Notes:\n[1] 2015 paper, VLDB\n[2] 12 ideas",
    # Not at a line's start.
    "user@desktop:~$ echo [1] 105",
])
def test_a_bracketed_number_that_is_no_job_line_stays_content(screen):
    assert pids(desktop(screen)) == []


def test_a_job_pid_in_a_json_string_is_a_pid_and_a_footnote_is_not():
    text = json.dumps({"content": [{"type": "text", "text": "$ sleep 9 &\n[1] 4242\n$ "}],
                       "notes": "See\n[1] 2015 paper\n[2] 2019 talk"}, indent=2)
    assert pids(text) == ["4242"]


def test_mask_many_finds_what_mask_finds_in_escaped_texts():
    texts = [RECORDED, desktop("$ sleep 1 &\n[1] 5"), "a\\n[1] 105\\n", "a\\\\n[1] 105\\n"]
    assert mask_many(texts) == [mask(text) for text in texts]
    assert [len(pids(text)) for text in texts] == [1, 1, 1, 0]
