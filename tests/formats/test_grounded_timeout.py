"""A timed-out command's trace says it timed out, not that it exited or printed nothing of note (audit D4)."""

from transforms.reasoning.grounded import GroundedSynthesizer, grounded_trace

# swe-toolz-frequencies-counter-s0-bff48da3:5 of a real curated run (`sleep 40; echo never`), recorded before the
# collector wrote the timeout into the observation: empty output, the timeout only in meta.
OLD_ROW = {"id": "swe-toolz-frequencies-counter-s0-bff48da3:5", "domain": "swe", "state_text": "{'m': 1, 'i': 4}\n",
           "next_text": "", "next_meta_json": '{"exit_code": null, "timed_out": true}'}
NOTICE = "The command was cancelled because it took more than 30 seconds.\n"


def test_a_timeout_without_its_limit_is_still_named():
    assert grounded_trace(OLD_ROW) == \
        "The output is empty. The command times out and is killed, so it has no exit status."


def test_a_timeout_names_its_limit_and_the_notice_is_quoted():
    row = {**OLD_ROW, "next_text": "partial\n" + NOTICE,
           "next_meta_json": '{"exit_code": null, "timed_out": true, "timeout_s": 30.0}'}
    assert GroundedSynthesizer().traces([row]) == [
        "The output has 2 lines: 'partial', 'The command was cancelled because it took more than 30 seconds.'. "
        "The command times out after 30 s and is killed, so it has no exit status."]


def test_a_command_that_finishes_has_its_exit_status_and_no_timeout():
    row = {**OLD_ROW, "next_text": "done\n", "next_meta_json": '{"exit_code": 0}'}
    assert grounded_trace(row) == "The output is one line: 'done'. The exit status, recorded but not printed, is 0."
    assert "times out" not in grounded_trace({**row, "next_meta_json": '{"exit_code": 0, "timed_out": false}'})
