"""The SWE actions against a real container: exact editor messages, shell exit codes, tests, diff, limits."""

import pytest
from tests.swe.swe_helpers import PREFIX

from collectors.api import Task
from collectors.swe import DEFAULT_LIMITS, SweCollector, SweTaskError, failing_tests, parse_swe_action
from sandboxes.limits import Limits

CALC = "/work/repo/calc.py"


@pytest.fixture(scope="module")
def env(tiny_spec, tiny_image):
    limits = Limits(**{**DEFAULT_LIMITS.__dict__, "action_timeout_s": 3.0})
    collector = SweCollector({tiny_spec.name: tiny_spec}, {tiny_spec.name: tiny_image}, limits, name_prefix=PREFIX)
    first = collector.reset(Task(id="actions", instruction="edit calc", options={"repo": tiny_spec.name}))
    yield collector, first
    collector.close()


def act(collector, spec):
    return collector.step(parse_swe_action(spec)).observation


def test_first_observation_lists_the_repository(env):
    _, first = env
    assert first.raw_format == "text" and first.meta == {"exit_code": 0}
    lines = first.text.split("\n")
    assert lines[0] == ("Here's the files and directories up to 2 levels deep in /work/repo, excluding hidden "
                        "items:")
    assert {"/work/repo", CALC, "/work/repo/test_calc.py"} <= set(lines)
    assert not any("/.git" in line for line in lines)


def test_view_with_range_is_cat_n(env):
    collector, _ = env
    shown = act(collector, {"view": {"path": CALC, "view_range": [2, 3]}})
    assert shown.text == ("Here's the result of running `cat -n` on /work/repo/calc.py:\n"
                          "     2\t    if x < lo:\n     3\t        return lo\n")
    assert shown.meta["exit_code"] == 0
    assert shown.raw == shown.text.encode()


def test_editor_refusals_are_worded_as_agents_see_them(env):
    collector, _ = env
    cases = [
        ({"str_replace": {"path": CALC, "old_str": "return", "new_str": "yield"}},
         "No replacement was performed. Multiple occurrences of old_str `return` in lines [3, 5, 6, 13]. "
         "Please ensure it is unique"),
        ({"str_replace": {"path": CALC, "old_str": "if x < hi:", "new_str": "if x <= hi:"}},
         "No replacement was performed, old_str `if x < hi:` did not appear verbatim in /work/repo/calc.py."),
        ({"view": {"path": CALC, "view_range": [0, 3]}},
         "Invalid `view_range`: [0, 3]. Its first element `0` should be within the range of lines of the file: "
         "[1, 14]"),
        ({"view": {"path": CALC, "view_range": [3, 99]}},
         "Invalid `view_range`: [3, 99]. Its second element `99` should be smaller than the number of lines in the "
         "file: `14`"),
        ({"insert": {"path": CALC, "insert_line": 15, "new_str": "x"}},
         "Invalid `insert_line` parameter: 15. It should be within the range of lines of the file: [0, 14]"),
        ({"create": {"path": CALC, "file_text": "x"}},
         "File already exists at: /work/repo/calc.py. Cannot overwrite files using command `create`."),
        ({"view": {"path": "calc.py"}},
         "The path calc.py is not an absolute path, it should start with `/`. Maybe you meant calc.py?"),
        ({"str_replace": {"path": "/work/repo/nope.py", "old_str": "a"}},
         "The path /work/repo/nope.py does not exist. Please provide a valid path."),
        ({"str_replace": {"path": "/work/repo", "old_str": "a"}},
         "The path /work/repo is a directory and only the `view` command can be used on directories"),
    ]
    for spec, message in cases:
        shown = act(collector, spec)
        assert (shown.text, shown.meta["exit_code"]) == (message, 1), spec


def test_edit_then_tests_then_diff(env):
    collector, _ = env
    edited = act(collector, {"str_replace": {"path": CALC, "old_str": "    if x > hi:", "new_str": "    if x >= hi:"}})
    assert edited.meta["exit_code"] == 0
    assert edited.text == (
        "The file /work/repo/calc.py has been edited. Here's the result of running `cat -n` on a snippet of "
        "/work/repo/calc.py:\n     1\tdef clamp(x, lo, hi):\n     2\t    if x < lo:\n     3\t        return lo\n"
        "     4\t    if x >= hi:\n     5\t        return hi\n     6\t    return x\n     7\t\n     8\t\n"
        "Review the changes and make sure they are as expected. Edit the file again if necessary.")
    inserted = act(collector, {"insert": {"path": CALC, "insert_line": 0, "new_str": "import math"}})
    assert inserted.text.startswith("The file /work/repo/calc.py has been edited. Here's the result of running "
                                    "`cat -n` on a snippet of the edited file:\n     1\timport math\n     2\tdef clamp")
    created = act(collector, {"create": {"path": "/work/repo/test_more.py",
                                         "file_text": "from calc import mean\n\n\ndef test_empty():\n"
                                                      "    assert mean([]) == 0\n"}})
    assert created.text == "File created successfully at: /work/repo/test_more.py"
    selected = act(collector, {"run_tests": {"tests": ["test_calc.py::test_clamp_edges"]}})
    assert selected.meta["exit_code"] == 0 and "1 passed" in selected.text
    everything = act(collector, {"run_tests": {}})
    assert everything.meta["exit_code"] == 1
    assert failing_tests(everything.text) == ["test_more.py::test_empty"]
    assert "ZeroDivisionError" in everything.text and "3 passed" in everything.text
    diff = act(collector, {"git_diff": {}})
    assert diff.meta["exit_code"] == 0
    assert "+import math\n" in diff.text and "-    if x > hi:\n+    if x >= hi:\n" in diff.text
    assert "test_more.py" not in diff.text  # untracked until submit adds it


def test_shell_exit_codes_timeouts_and_closed_sandbox(env):
    collector, _ = env
    failed = act(collector, {"bash": "echo out; echo err >&2; exit 3"})
    assert failed.meta == {"exit_code": 3, "oom_kills": 0} and failed.text == "out\nerr\n"
    slow = act(collector, {"bash": "sleep 20; echo never"})
    assert slow.meta == {"exit_code": None, "timed_out": True, "timeout_s": 3.0, "oom_kills": 0} and "never" not in slow.text
    assert slow.text == "The command was cancelled because it took more than 3 seconds.\n"
    offline = act(collector, {"bash": "python -c \"import socket; socket.create_connection(('151.101.0.223', 443), "
                                      "timeout=3)\" 2>&1 | tail -1"})
    assert "OSError" in offline.text or "unreachable" in offline.text
    read_only = act(collector, {"bash": "touch /opt/swe/x"})
    assert read_only.meta["exit_code"] == 1 and "Read-only file system" in read_only.text


def test_submit_prints_the_patch_and_scores_it(env):
    collector, _ = env
    result = collector.step(parse_swe_action({"submit": {}}))
    assert result.done
    assert "new file mode" in result.observation.text and "+++ b/test_more.py" in result.observation.text
    assert result.observation.meta["tests_exit_code"] == 1
    assert result.error == "tests fail at submit (exit 1)"


@pytest.mark.parametrize("spec, message", [
    ({"rm": "-rf /"}, "unknown action 'rm'"),
    ({"str_replace": {"path": CALC}}, "'str_replace' needs old_str"),
    ({"run_tests": {"tests": "test_calc.py"}}, "must be a list of test ids"),
    ("ls", "an action must be a mapping"),
    ({"bash": {"command": ["ls"]}}, "bash 'command' must be a string"),
    ({"bash": "ls", "view": {}}, "give one key naming the action"),
])
def test_bad_actions_are_named(spec, message):
    with pytest.raises(SweTaskError, match="task 't' action #2"):
        parse_swe_action(spec, "task 't' action #2")
    with pytest.raises(SweTaskError) as caught:
        parse_swe_action(spec)
    assert message in str(caught.value)


def test_set_order_is_the_same_on_every_run(env):
    """A set's order follows the string hash seed: fixed in the container, so the same action prints the same
    order every run (pytest's "Differing items" of two dicts came out in another order on each make run)."""
    collector, _ = env
    command = {"kind": "bash", "command": "python -c \"print(list({'cat', 'dog', 'eel', 'pig', 'owl'}))\""}
    outputs = {act(collector, command).text for _ in range(3)}
    assert len(outputs) == 1, outputs
    assert act(collector, {"kind": "bash", "command": "echo $PYTHONHASHSEED"}).text.strip() == "0"


def test_the_container_is_named_sandbox(env):
    """Docker names a container after its random id: a test or script printing the host name differed every
    episode."""
    collector, _ = env
    assert act(collector, {"kind": "bash", "command": "hostname"}).text.strip() == "sandbox"
