"""The grounded trace opens with the action and what it did (data review D3), quotes a web element without the tree's
indentation (R2), and pairs a renumbered row across the diff's regions (R3). The rows are real ones of the session-24
ci-check run (its raw re-curated), cut to the lines that matter."""

from transforms.reasoning.grounded import grounded_trace

_EXIT_0 = '{"exit_status": 0}'


def _terminal(keys: list[str], state: str, after: str) -> str:
    action = "[" + ", ".join(f'{{"keystrokes": "{key}", "duration": 1.0}}' for key in keys) + "]"
    return grounded_trace({"domain": "terminal", "action_text": action, "state_text": state, "next_text": after,
                           "next_meta_json": _EXIT_0})


def test_a_command_is_told_with_what_it_printed_and_the_prompt_not_as_lines_appearing():
    # terminal-perm-executable-s0-00597048:1
    state = "root@sandbox:/work# ./deploy.sh\nbash: ./deploy.sh: Permission denied\nroot@sandbox:/work#"
    after = state + " chmod +x deploy.sh && ./deploy.sh\ndeployed\nroot@sandbox:/work#"
    assert _terminal(["chmod +x deploy.sh && ./deploy.sh\\n"], state, after) == (
        "The action runs `chmod +x deploy.sh && ./deploy.sh`, which prints 1 line: 'deployed'; the prompt returns. "
        "The exit status, recorded but not printed, is 0.")
    # terminal-files-copy-preserve-s0-c00e53f0:0: nothing printed.
    assert _terminal(["cp -p config.ini config.ini.bak\\n"], "root@sandbox:/work#",
                     "root@sandbox:/work# cp -p config.ini config.ini.bak\nroot@sandbox:/work#") == (
        "The action runs `cp -p config.ini config.ini.bak`, which prints nothing; the screen gains only the next "
        "prompt. The exit status, recorded but not printed, is 0.")


def test_a_command_still_running_and_blank_lines_are_counted_as_printed():
    trace = _terminal(["python3 -q\\n"], "root@sandbox:/work#", "root@sandbox:/work# python3 -q\n\n>>> ")
    # python's own prompt is not a printed line (test_grounded_datareview24b.py).
    assert trace.startswith("The action runs `python3 -q`, which prints 1 line (1 blank); python's prompt '>>>' "
                            "waits for input.")
    trace = _terminal(["ping -c 9 db\\n"], "root@sandbox:/work#", "root@sandbox:/work# ping -c 9 db\n\nPING db")
    assert trace.startswith("The action runs `ping -c 9 db`, which prints 2 lines (1 blank): 'PING db'; no prompt "
                            "follows it yet.")


def test_keys_a_scrolled_screen_and_several_lines_open_the_line_diff_instead():
    # terminal-files-less-pager-s0-e3a58052:2: q closes the pager; the screen is another one.
    pager = "\n".join(f"line {n} of the report" for n in range(263, 289)) + "\n:"
    closed = "root@sandbox:/work# less report.txt\nroot@sandbox:/work#"
    trace = _terminal(["q"], pager, closed)
    assert trace.startswith("The action types 'q' without pressing Enter. 2 lines appear: ")
    assert _terminal(["C-c"], "root@sandbox:/work# sleep 9", "root@sandbox:/work# sleep 9\n^C\nroot@sandbox:/work#"
                     ).startswith("The action presses C-c. 2 lines appear: '^C', 'root@sandbox:/work#'.")
    heredoc = _terminal(["cat > note.txt <<'EOF'\\n", "remember\\n", "EOF\\n"], "root@sandbox:/work#",
                        "root@sandbox:/work# cat > note.txt <<'EOF'\n> remember\n> EOF\nroot@sandbox:/work#")
    # A heredoc typed whole is one command (h225); other lines typed in one action open the line diff.
    assert heredoc.startswith("The action runs `cat > note.txt <<'EOF'` with a heredoc of 1 line ended by `EOF`, which "
                              "prints nothing; the screen gains only the next prompt. ")
    assert _terminal(["ls\\n", "pwd\\n"], "root@sandbox:/work#",
                     "root@sandbox:/work# ls\nroot@sandbox:/work# pwd\n/work\nroot@sandbox:/work#").startswith(
        "The action types 2 lines, each followed by Enter, the first `ls`. ")
    # A screen that scrolled: the command is told, the change is the line diff's.
    assert _terminal(["wc -l server.log\\n"], "root@sandbox:/work# cat server.log\nworker 01\nroot@sandbox:/work#",
                     "root@sandbox:/work# wc -l server.log\n64 server.log\nroot@sandbox:/work#").startswith(
        "The action runs `wc -l server.log`. 1 line appears: '64 server.log'. ")


def _mcp(action: str, answer: str, domain: str = "mcp") -> str:
    return grounded_trace({"domain": domain, "action_text": action, "state_text": "", "next_text": answer})


def test_a_call_is_named_with_its_arguments_and_the_values_its_answer_gives_back():
    # mcp-everything-over-http-s0-7dea30dc:0: the answer is the message given back, not a new fact to quote.
    assert _mcp('{"name": "echo", "arguments": {"message": "over http"}}', "Echo: over http") == (
        "The call `echo` with message 'over http' answers with one line that shows its message: 'Echo: {message}'.")
    assert _mcp('{"name": "get-sum", "arguments": {"a": 17, "b": 25}}', "The sum of 17 and 25 is 42.") == (
        "The call `get-sum` with a 17 and b 25 answers with one line that shows its a and b: "
        "'The sum of {a} and {b} is 42.'.")
    # Two arguments of one value: which one the answer shows cannot be told, so neither is.
    assert _mcp('{"name": "get-sum", "arguments": {"a": 1, "b": 1}}', "The sum of 1 and 1 is 2.") == (
        "The call `get-sum` with a 1 and b 1 answers with one line: 'The sum of 1 and 1 is 2.'.")
    # A digit inside a longer number is not the argument.
    assert _mcp('{"name": "add", "arguments": {"a": 2}}', "12 and 2") == (
        "The call `add` with a 2 answers with one line that shows its a: '12 and {a}'.")


def test_a_json_answer_tells_the_values_of_nested_objects_and_which_values_the_call_passed():
    # mcp-explore-time-s0-3d1ba2ed:10
    action = ('{"name": "convert_time", "arguments": {"source_timezone": "Europe/London", "time": "09:30", '
              '"target_timezone": "Australia/Sydney"}}')
    answer = ('{\n  "source": {\n    "datetime": "2026-11-28T09:30:00+00:00",\n    "day_of_week": "Saturday",\n'
              '    "is_dst": false,\n    "timezone": "Europe/London"\n  },\n  "target": {\n'
              '    "datetime": "2026-11-28T20:30:00+11:00",\n    "day_of_week": "Saturday",\n    "is_dst": true,\n'
              '    "timezone": "Australia/Sydney"\n  },\n  "time_difference": "+11.0h"\n}')
    assert _mcp(action, answer) == (
        "The call `convert_time` with source_timezone 'Europe/London', time '09:30' and target_timezone "
        "'Australia/Sydney' answers with a JSON object of 15 lines with 3 keys: target is an object of 4 keys "
        "(datetime '2026-11-28T20:30:00+11:00', day_of_week 'Saturday', is_dst true and 1 more); source is an object "
        "of 4 keys (datetime '2026-11-28T09:30:00+00:00', day_of_week 'Saturday', is_dst false and 1 more); "
        "time_difference is '+11.0h'.")
    # search-explore-search-world-s0-f785846f:5: the query is the call's; a total equal to the offset is not it.
    assert _mcp('{"name": "search", "arguments": {"query": "shipbuilding", "offset": 2}}',
                '{\n  "offset": 2,\n  "query": "shipbuilding",\n  "results": [],\n  "total": 2\n}', "search") == (
        "The call `search` with query 'shipbuilding' and offset 2 answers with a JSON object of 6 lines with 4 keys: "
        "query is the call's query; results has no items; offset is 2; total is 2.")


def test_requests_swe_commands_and_the_editor_are_told_as_what_they_are():
    assert _mcp('{"method": "resources/read", "params": {"uri": "memory://knowledge-graph"}}', "") == (
        "The request `resources/read` for 'memory://knowledge-graph' answers with an empty result.")
    assert _mcp('{"method": "prompts/get", "params": {"name": "args-prompt", "arguments": {"city": "Lyon"}}}',
                "[user] Weather in Lyon?").startswith(
        "The request `prompts/get` for 'args-prompt' with city 'Lyon' answers with one line that shows its city: ")
    bash = '{"name": "bash", "arguments": {"command": "grep -n \'def ensure_str\' six.py"}}'
    assert _mcp(bash, "921:def ensure_str(s, encoding='utf-8', errors='strict'):", "swe") == (
        "The command `grep -n 'def ensure_str' six.py` prints one line: "
        "\"921:def ensure_str(s, encoding='utf-8', errors='strict'):\".")
    assert _mcp('{"name": "bash", "arguments": {"command": "true"}}', "", "swe") == "The command `true` prints nothing."
    create = ('{"name": "str_replace_editor", "arguments": {"command": "create", "path": "/work/repo/t.py", '
              '"file_text": "x = 1\\n"}}')
    assert _mcp(create, "File created successfully at: /work/repo/t.py", "swe") == (
        "The editor's `create` on '/work/repo/t.py' answers with one line that shows its path: "
        "'File created successfully at: {path}'.")


_HEADER = "URL: http://127.0.0.1:36925/{}\nTitle: {}\nTabs: [0] {} (active)\n"


def _web(action: str, state: str, after: str) -> str:
    return grounded_trace({"domain": "web", "action_text": action, "state_text": state, "next_text": after})


def test_a_web_action_names_its_element_without_the_trees_indentation():
    # web-explore-form-s0-b2849708:18
    home = _HEADER.format("", "Home", "Home") + "RootWebArea 'Home', focused\n\t[4] navigation 'Main'\n" \
        "\t\t[6] link 'Apply'"
    step = _HEADER.format("apply/1", "Step 1", "Step 1") + "RootWebArea 'Step 1', focused\n" \
        "\t\t[9] heading 'Step 1 of 3: Your details', level=1"
    assert _web('click("6")', home, step) == (
        "Clicking \"[6] link 'Apply'\" loads a new page. The URL becomes 'http://127.0.0.1:36925/apply/1'; the title "
        "becomes 'Step 1'; the tabs become '[0] Step 1 (active)'. 1 element appears: \"[9] heading 'Step 1 of 3: Your "
        "details', level=1\". 2 elements disappear: \"[4] navigation 'Main'\", \"[6] link 'Apply'\". 1 element "
        "changes: \"RootWebArea 'Home', focused\" becomes \"RootWebArea 'Step 1', focused\".")
    form = _HEADER.format("apply/1", "Step 1", "Step 1") + "RootWebArea 'Step 1', focused\n\t\t[18] textbox 'Full name'"
    filled = form.replace("'Full name'", "'Full name', value='Lee', focused")
    assert _web('fill("18", "Lee")', form, filled) == (
        "Filling \"[18] textbox 'Full name'\" with 'Lee' changes the page at the same address; the element shows the "
        "value. 1 element changes: \"[18] textbox 'Full name'\" becomes \"[18] textbox 'Full name', value='Lee', "
        "focused\".")
    # A tab the element's own text starts with is text, not depth: kept.
    page = _HEADER.format("a", "A", "A") + "RootWebArea 'A'"
    assert _web("go_back()", page, page + "\n\t\tStaticText '\tcode'") == (
        "Going back changes the page at the same address. 1 element appears: \"StaticText '\\tcode'\".")
    # web-form-validation-errors-s0-b2b4bc90:4: the browser's own validation bubble, a lower-case role and its name.
    assert _web("go_back()", page, page + "\n\talert \"Please enter a part following '@'.\"").endswith(
        "1 element appears: 'alert \"Please enter a part following \\'@\\'.\"'.")
    # An id the state does not show is named as the action gives it.
    assert _web('click("99")', step, step) == "Clicking element [99] changes nothing on the page."


def test_a_removed_cart_row_is_told_as_removed_and_its_successor_as_renumbered():
    # web-shop-search-and-cart-edit-s0-a314801d:8: Remove Echo Buds; the Echo Buds Pro row slides into its ids. Told
    # before as 6 elements appearing ('[28] cell 'Echo Buds Pro'' among them) and 2 renumbered.
    def row(rid, name, price, ids):
        cell, price_cell, qty, form, spin, update, rm_cell, rm_form, remove = ids
        return (f"\t\t\t[{rid}] row ''\n\t\t\t\t[{cell}] cell '{name}'\n\t\t\t\t[{price_cell}] cell '{price}'\n"
                f"\t\t\t\t[{qty}] cell ''\n\t\t\t\t\t[{form}] form ''\n"
                f"\t\t\t\t\t\t[{spin}] spinbutton 'Quantity of {name}', value='1'\n"
                f"\t\t\t\t\t\t[{update}] button 'Update {name}'\n\t\t\t\t[{rm_cell}] cell ''\n"
                f"\t\t\t\t\t[{rm_form}] form ''\n\t\t\t\t\t\t[{remove}] button 'Remove {name}'\n")
    head = _HEADER.format("cart", "Cart", "Cart") + "RootWebArea 'Cart', focused\n\t\t[19] table ''\n"
    first = (28, 29, 30, 31, 33, 34, 35, 36, 39)
    state = (head + row(27, "Echo Buds", "$530.65", first) +
             row(40, "Echo Buds Pro", "$567.84", (41, 42, 43, 44, 46, 47, 48, 49, 52)) +
             "\t\tStaticText 'Subtotal: $1,098.49'\n\t\t[55] link 'Proceed to checkout'")
    after = (head + row(27, "Echo Buds Pro", "$567.84", first) +
             "\t\tStaticText 'Subtotal: $567.84'\n\t\t[42] link 'Proceed to checkout'")
    trace = _web('click("39")', state, after)
    assert trace == (
        "Clicking \"[39] button 'Remove Echo Buds'\" changes the page at the same address. 10 elements disappear: "
        "\"[28] cell 'Echo Buds'\", \"[29] cell '$530.65'\", \"[30] cell ''\" and 7 more. 1 element changes: "
        "\"StaticText 'Subtotal: $1,098.49'\" becomes \"StaticText 'Subtotal: $567.84'\". 10 elements are renumbered "
        "(ids -13).")
    # Nothing of Echo Buds Pro appears: its lines are the renumbered ones (the row lines, equal, keep [27]).
    assert " appear" not in trace.replace("disappear", "")


def test_a_desktop_click_names_the_element_by_its_role_and_name():
    screen = ("focused window: [1] frame 'galculator' (galculator)\nfocused element: [31] text ''\n"
              "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate\n"
              "[31]\ttext\t\t0\t\t\t(481, 268)\t(317, 52)\tfocused\n"
              "[63]\ttoggle-button\t9\t\"\"\t\tNine    KP 9\t(610, 419)\t(59, 34)\t")
    after = screen.replace("\t0\t", "\t9\t")
    trace = grounded_trace({"domain": "os", "action_text": "click(element=63)", "state_text": screen,
                            "next_text": after})
    assert trace.startswith("Clicking [63] toggle-button '9' changes the screen. 1 element changes: ")
    assert grounded_trace({"domain": "os", "action_text": 'click(name="View", role="menu")', "state_text": screen,
                           "next_text": screen}) == "Clicking the menu named 'View' changes nothing on the screen."
