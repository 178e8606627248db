"""What this morning's data review (h200) left: a desktop element is told by its id, role and name and by the cells
that changed, not quoted as its tab-separated row with coordinates; a click by name and role names the element as a
click by id does; python's and bash's continuation prompts are prompts waiting for input, not printed lines; a swe
tool with no output prints nothing; a filled value is matched whole. The rows are real ones of the ci-check run's raw
re-curated (ids in the comments), cut to the lines that matter."""

from transforms.reasoning.grounded import grounded_trace

_COLUMNS = "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate"


def _trace(domain: str, action: str, state: str, after: str, meta: str = "{}") -> str:
    return grounded_trace({"domain": domain, "action_text": action, "state_text": state, "next_text": after,
                           "next_meta_json": meta})


def _desktop(focused: str, *rows: str) -> str:
    return "\n".join(["focused window: [1] frame 'galculator' (galculator)", f"focused element: {focused}", _COLUMNS,
                      *rows])


# os-explore-calc-multiply-s0-1e1715de:6 (click(element=43), sqrt of 8.)
_DISPLAY = "[31]\ttext\t\t8.\t\t\t(481, 268)\t(317, 52)\t"
_SPACE = "[35]\tlabel\t \t \t\t\t(480, 333)\t(149, 34)\t"
_SQRT = "[43]\ttoggle-button\tsqrt\t\"\"\t\tSquare root    R\t(740, 419)\t(59, 34)\t"
_SEVEN = "[65]\ttoggle-button\t7\t\"\"\t\tSeven    7\t(480, 419)\t(59, 34)\t"


def test_a_desktop_element_is_told_by_its_id_role_and_name_and_the_cells_that_changed():
    state = _desktop("[47] toggle-button '.'", _DISPLAY, _SPACE, _SQRT, _SEVEN)
    after = _desktop("[43] toggle-button 'sqrt'", "[31]\ttext\t\t2.82842712475\t\t\t(481, 268)\t(321, 52)\t",
                     _SPACE.replace("(480, 333)", "(484, 333)"), _SQRT + "focused", _SEVEN)
    trace = _trace("os", "click(element=43)", state, after)
    assert trace == (
        "Clicking [43] toggle-button 'sqrt' changes the screen. The focused element becomes \"[43] toggle-button "
        "'sqrt'\". 3 elements change: [31] text shows '2.82842712475' instead of '8.' and changes size; [35] label ' ' "
        "moves; [43] toggle-button 'sqrt' is now focused.")
    # No escaped tab and no coordinates are quoted, and the count is still every row that changed.
    assert "\\t" not in trace and "(481, 268)" not in trace


def test_desktop_elements_that_appear_are_named_with_a_short_text_and_their_state():
    # os-editor-save-as-dialog-s0-36da820e:2 (type("todo.txt") into the Save As dialog's name field)
    state = _desktop("[96] text ''", "[87]\ttext\t\tbuy milk\t\t\t(321, 195)\t(638, 449)\t")
    after = _desktop("[96] text ''", "[87]\ttext\t\tbuy milk\t\t\t(321, 195)\t(638, 449)\t",
                     "[96]\ttext\t\ttodo.txt\t\t\t(158, 30)\t(1021, 34)\tfocused",
                     "[170]\tpush-button\tSave\t\"\"\t\t\t(1097, 755)\t(86, 34)\t")
    assert _trace("os", 'type("todo.txt")', state, after) == (
        "Typing 'todo.txt' changes the screen. 2 elements appear: [96] text showing 'todo.txt' (focused), "
        "[170] push-button 'Save'.")
    # A renumbered element that changed keeps its old id in view; a text with a quote is the renderer's "…""…".
    moved = _desktop("none", "[35]\ttext\t\t\"say \"\"hi\"\"\"\t\t\t(481, 268)\t(317, 52)\t")
    assert _trace("os", "wait(1)", _desktop("none", _DISPLAY + "focused"), moved).endswith(
        "1 element changes: [35] text (was [31]) shows 'say \"hi\"' instead of '8.' and is no longer focused.")


def test_a_click_by_name_and_role_names_the_element_as_a_click_by_id_does():
    # os-calc-multiply-s0-be12dc89:0 read "Clicking the toggle-button named '7'", :explore- "Clicking [63] …".
    state = _desktop("[31] text ''", _DISPLAY + "focused", _SEVEN)
    after = _desktop("[65] toggle-button '7'", _DISPLAY.replace("8.", "7"), _SEVEN + "focused")
    assert _trace("os", 'click(name="7", role="toggle-button")', state, after).startswith(
        "Clicking [65] toggle-button '7' changes the screen.")
    assert _trace("os", "click(element=65)", state, after).startswith("Clicking [65] toggle-button '7' changes")
    # os-files-open-folder-s0-0914338b:0: an icon has only a text, which a click by name matches (find_element).
    icons = _desktop("none", "[133]\ticon\t\tDocuments\t\t\t(482, 239)\t(88, 65)\t",
                     "[134]\ticon\t\tPictures\t\t\t(582, 239)\t(88, 65)\t")
    opened = _desktop("none", "[133]\ticon\t\treport.txt\t\t\t(482, 239)\t(88, 65)\t")
    assert _trace("os", 'double_click(name="Documents", role="icon")', icons, opened).startswith(
        "Double-clicking [133] icon showing 'Documents' changes the screen.")
    # No row of that name: told as the call names it.
    assert _trace("os", 'click(name="9", role="toggle-button")', state, after).startswith(
        "Clicking the toggle-button named '9' changes")


def _keys(command: str) -> str:
    return f'[{{"keystrokes": "{command}\\n", "duration": 2.0}}]'


def test_another_programs_prompt_is_a_prompt_waiting_for_input_not_a_printed_line():
    # terminal-python-repl-s0-7fe512c7:0
    assert _trace("terminal", _keys("python3 -q"), "root@sandbox:/work#",
                  "root@sandbox:/work# python3 -q\n>>> ") == (
        "The action runs `python3 -q`, which prints nothing; python's prompt '>>>' waits for input.")
    # terminal-err-syntax-s0-dd4d488e:1: an unclosed quote, bash asks for the rest.
    assert _trace("terminal", _keys("echo 'unterminated"), "root@sandbox:/work#",
                  "root@sandbox:/work# echo 'unterminated\n> ") == (
        "The action runs `echo 'unterminated`, which prints nothing; the continuation prompt '>' waits for more "
        "input.")
    # A line typed at python's prompt, and its answer: the prompt is back.
    assert _trace("terminal", _keys("6 * 7"), "root@sandbox:/work# python3 -q\n>>>",
                  "root@sandbox:/work# python3 -q\n>>> 6 * 7\n42\n>>> ") == (
        "The action runs `6 * 7`, which prints 1 line: '42'; the prompt returns.")


def test_a_swe_tool_with_no_output_prints_nothing():
    # swe-six-explore-history-and-tests-s0-78634799:7
    assert _trace("swe", '{"name": "git_diff", "arguments": {}}', "", "", '{"exit_status": 0}') == (
        "The call `git_diff` with no arguments prints nothing. The exit status, recorded but not printed, is 0.")
    # An MCP tool's empty result is still one.
    assert _trace("mcp", '{"name": "read_graph", "arguments": {}}', "", "").endswith("answers with an empty result.")


def test_a_filled_value_is_matched_whole_not_as_part_of_the_field_value():
    header = "URL: http://127.0.0.1:33901/cart\nTitle: Cart\nTabs: [0] Cart (active)\n"
    form = header + "RootWebArea 'Cart', focused\n\t[31] spinbutton 'Quantity', value='1'"
    # '2' filled into a field that then shows '12' (typed after its '1'): the field does not show the value.
    assert _trace("web", 'fill("31", "2")', form, form.replace("value='1'", "value='12', focused")).startswith(
        "Filling \"[31] spinbutton 'Quantity', value='1'\" with '2' changes the page at the same address; the element "
        "does not show the value.")
    assert "; the element shows the value." in _trace("web", 'fill("31", "2")', form,
                                                      form.replace("value='1'", "value='2', focused"))
    # The name holds the value, the field does not.
    named = form.replace("'Quantity', value='1'", "'Quantity 2'")
    assert "; the element does not show the value." in _trace("web", 'fill("31", "2")', named,
                                                              named.replace("2'", "2', focused"))


def test_line_diff_hands_the_paired_rows_to_a_describer_and_checks_what_it_returns():
    import pytest

    from transforms.reasoning._linediff import line_diff
    handed = []
    told = line_diff("a\nb\nc", "a\nb2\nc\nd", "line", None, lambda *lines: handed.append(lines) or ["told"])
    assert told == (["told"], "b2\nd") and handed == [(["d"], [], [("b", "b2")])]
    with pytest.raises(TypeError, match="describe must return a list"):
        line_diff("a", "b", "line", None, lambda *lines: "told")
    with pytest.raises(TypeError, match="describe must be callable"):
        line_diff("a", "b", "line", None, "told")
