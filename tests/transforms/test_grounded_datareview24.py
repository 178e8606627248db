"""Opening sentences checked against their records (session-24 data review h200): a prompt that comes back in
another directory is not a printed line, keys typed into a pager are not run, a {name} is not cut by the quote nor
put for a number the answer shows twice, a page whose address changed but whose elements did not is not a new one, a
password field is masked rather than "no longer" showing the value, a filled element's line is quoted once, and a
wait does not change the screen itself. The rows are real ones of the ci-check run's raw re-curated, cut to the lines
that matter (ids in the comments)."""

from transforms.reasoning.grounded import grounded_trace


def _trace(domain: str, action: str, state: str, after: str, meta: str = "{}") -> str:
    return grounded_trace({"domain": domain, "action_text": action, "state_text": state, "next_text": after,
                           "next_meta_json": meta})


def _keys(command: str) -> str:
    return f'[{{"keystrokes": "{command}\\n", "duration": 2.0}}]'


def test_a_prompt_back_in_another_directory_is_the_prompt_not_a_printed_line():
    # terminal-git-init-commit-s0-a332ba08:0 (prompt_back true in its meta)
    state = "root@sandbox:/work#"
    after = "root@sandbox:/work# cd app && git init -q && git status --short\n?? main.py\nroot@sandbox:/work/app#"
    assert _trace("terminal", _keys("cd app && git init -q && git status --short"), state, after).startswith(
        "The action runs `cd app && git init -q && git status --short`, which prints 1 line: '?? main.py'; the "
        "prompt returns, now 'root@sandbox:/work/app#'.")
    assert _trace("terminal", _keys("cd app"), state, "root@sandbox:/work# cd app\nroot@sandbox:/work/app#") == (
        "The action runs `cd app`, which prints nothing; the screen gains only the next prompt, now "
        "'root@sandbox:/work/app#'.")
    # A line that only starts like the prompt is output: no prompt has come back.
    assert _trace("terminal", _keys("echo 'root@sandbox: done #'"), state,
                  "root@sandbox:/work# echo 'root@sandbox: done #'\nroot@sandbox: done #").endswith(
        "which prints 1 line: 'root@sandbox: done #'; no prompt follows it yet.")


def test_keys_typed_into_a_pager_are_typed_not_run():
    # terminal-files-less-pager-s0-e3a58052:1: less shows the file's name on its last line, not a shell prompt.
    page = "\n".join(f"line {n} of the report" for n in range(1, 5)) + "\nreport.txt"
    found = "line 250 has the ANSWER\nline 251 of the report\n:"
    assert _trace("terminal", _keys("/ANSWER"), page, found).startswith(
        "The action types `/ANSWER` and presses Enter. ")


def _mcp(action: str, answer: str) -> str:
    return _trace("mcp", action, "", answer)


def test_a_number_the_answer_shows_twice_is_not_put_as_the_argument():
    # mcp-everything-tour-s0-c71be9ef:4: 'Text Resource 2' is that resource's number, not the count asked for.
    answer = ("Here are 2 resource links to resources available in this server:\n"
              "[resource link: Blob Resource 1 demo://resource/dynamic/blob/1]\n"
              "[resource link: Text Resource 2 demo://resource/dynamic/text/2]")
    assert _mcp('{"name": "get-resource-links", "arguments": {"count": 2}}', answer) == (
        "The call `get-resource-links` with count 2 answers with 3 lines: 'Here are 2 resource links to resources "
        "available in this server:', '[resource link: Blob Resource 1 demo://resource/dynamic/blob/1]', "
        "'[resource link: Text Resource 2 demo://resource/dynamic/text/2]'.")
    # Shown once, it is the argument.
    assert _mcp('{"name": "get-sum", "arguments": {"a": 2, "b": 3}}', "The sum of 2 and 3 is 5.") == (
        "The call `get-sum` with a 2 and b 3 answers with one line that shows its a and b: "
        "'The sum of {a} and {b} is 5.'.")


def test_a_name_the_quote_would_cut_is_cut_before_and_not_told_as_shown():
    # mcp-explore-git-s0-5ccf70b3:11: the quote stopped inside '{branch_name}'.
    action = '{"name": "git_create_branch", "arguments": {"repo_path": "/tmp/r", "branch_name": "feature-x"}}'
    answer = ("[tool error]\nError executing tool git_create_branch: Cannot create branch 'feature-x': a branch "
              "named 'feature-x' already exists")
    assert _mcp(action, answer) == (
        "The call `git_create_branch` with repo_path '/tmp/r' and branch_name 'feature-x' answers with 2 lines: "
        "'[tool error]', \"Error executing tool git_create_branch: Cannot create branch '…\".")
    # A name the quote keeps whole stays.
    assert _mcp('{"name": "fetch", "arguments": {"url": "http://h/x"}}', "Contents of http://h/x:\n" + "y" * 80
                ).startswith("The call `fetch` with url 'http://h/x' answers with 2 lines, one of which shows its url: "
                             "'Contents of {url}:', 'yyy")


_HEADER = "URL: http://127.0.0.1:33901/{}\nTitle: Status\nTabs: [0] Status (active)\n"


def test_an_address_that_changes_over_the_same_elements_is_not_a_new_page():
    # web-explore-form-s1-ad2ea829:19: an empty lookup sends the form to its own page.
    tree = "RootWebArea 'Status', focused\n\t[10] form ''\n\t\t[12] textbox 'Reference'\n\t\t[13] button 'Look up'"
    assert _trace("web", 'click("13")', _HEADER.format("status") + tree, _HEADER.format("status?ref=") + tree) == (
        "Clicking \"[13] button 'Look up'\" changes the address but leaves the page's elements as they were. The URL "
        "becomes 'http://127.0.0.1:33901/status?ref='.")


def test_a_filled_field_is_quoted_once_and_a_password_is_masked():
    # web-explore-forum-s0-7e034f6d:18: the password field never showed the value: it is masked, not "no longer".
    form = _HEADER.format("login") + "RootWebArea 'Log in', focused\n\t\t[20] textbox 'Password'"
    masked = form.replace("'Password'", "'Password', value='••••••••••', focused")
    assert _trace("web", 'fill("20", "wonderland")', form, masked) == (
        "Filling \"[20] textbox 'Password'\" with 'wonderland' changes the page at the same address; the element "
        "shows it masked. 1 element changes: \"[20] textbox 'Password'\" becomes \"[20] textbox 'Password', "
        "value='••••••••••', focused\".")
    # web-explore-form-s0-b2849708:4: the new line is the line diff's to quote; the opening says the value shows.
    email = form.replace("'Password'", "'Email'")
    trace = _trace("web", 'fill("20", "sam@example.org")', email,
                   email.replace("'Email'", "'Email', value='sam@example.org', focused"))
    assert trace.count("value='sam@example.org', focused") == 1
    assert "; the element shows the value. " in trace


def test_a_new_tab_shows_its_page_and_a_wait_does_not_change_the_screen():
    # web-tracker-tabs-s0-b70a39fd:0
    page = _HEADER.format("") + "RootWebArea 'Status', focused\n\t[1] banner ''"
    blank = "URL: about:blank\nTitle: \nTabs: [0] Status | [1] about:blank (active)\nRootWebArea '', focused"
    assert _trace("web", "new_tab()", page, blank).startswith("Opening a new tab shows another page. ")
    # os-terminal-open-calculator-s0-c787f727:1: the calculator started while the action waited.
    desktop = "[1]\tframe\tTerminal\t\t\t\t(0, 0)\t(800, 600)\t"
    opened = desktop + "\n[42]\tframe\tgalculator\t\t\t\t(0, 0)\t(400, 300)\t"
    assert _trace("os", "wait(5)", desktop, opened).startswith("While waiting, the screen changes. ")
