from transforms.dedupe import hash_text
from transforms.masking import KINDS, mask, masked, volatile_spans


def kinds(text):
    return [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)]


def test_each_volatile_kind_is_found_with_exact_offsets():
    text = ("2026-11-25T21:58:00Z started pid 4312, log /tmp/tmpab12cd34/run.log\n"
            "request 550e8400-e29b-41d4-a716-446655440000 on 127.0.0.1:43123 took 12ms, 4.0K written\n"
            "commit 3f9a2b1c0d on 2026-11-24; real 0m0.003s")
    found = kinds(text)
    assert ("2026-11-25T21:58:00Z", "timestamp") in found
    assert ("4312", "pid") in found
    assert ("tmpab12cd34", "temp_path") in found  # the generated component; "/tmp/" and "run.log" are content
    assert ("550e8400-e29b-41d4-a716-446655440000", "uuid") in found
    assert ("43123", "port") in found
    assert ("12ms", "duration") in found
    assert ("0m0.003s", "duration") in found
    assert ("4.0K", "byte_size") in found
    assert ("3f9a2b1c0d", "hex_id") in found
    assert ("2026-11-24", "date") in found
    assert {kind for _, kind in found} <= set(KINDS)


def test_stable_content_is_not_masked():
    # Words made of hex letters, fixed service ports and plain numbers are content a model must reproduce.
    text = "deadbeef facade added 42 files; server on :8000; exit 0"
    assert volatile_spans(text) == []
    assert mask(text) == ([], text)


def test_spans_are_sorted_non_overlapping_and_in_bounds():
    text = "Wed Nov 25 21:58:00 UTC 2026 /tmp/x-1/tmp.Xa81bC pid=77 [1] 12345\n" * 3
    spans = volatile_spans(text)
    assert spans
    for before, after in zip(spans, spans[1:]):
        assert before["end"] <= after["start"]
    assert all(0 <= s["start"] < s["end"] <= len(text) for s in spans)


def test_masked_text_replaces_only_the_spans():
    text = "at 10:11:12 pid 9"
    spans = volatile_spans(text)
    assert masked(text, spans) == "at <timestamp> pid <pid>"
    assert text == "at 10:11:12 pid 9"  # the observation itself is untouched


def test_runs_differing_only_in_volatile_values_hash_the_same():
    first = "Wed Nov 25 21:58:00 UTC 2026\n[1] 4312\nbuilt in 1.52s into /tmp/tmpq1w2e3r4"
    second = "Thu Nov 26 08:01:09 UTC 2026\n[1] 977\nbuilt in 0.98s into /tmp/tmpzz99yy88"
    assert first != second
    assert hash_text("", "make", mask(first)[1]) == hash_text("", "make", mask(second)[1])
    assert hash_text("", "make", mask(first)[1]) != hash_text("", "make clean", mask(second)[1])


# Real observations (curated run of 2026-11-27) that the rules once got wrong.

def test_javascript_date_strings_are_masked_whole():
    # mcp filesystem server, get_file_info: Date.toString puts the year before the time. Only the clock was masked,
    # leaving the collection day in the text an exact-match check and the dedupe hash see.
    text = ("size: 4096\ncreated: Fri Nov 27 2026 00:35:13 GMT+0000 (Coordinated Universal Time)\n"
            "modified: Fri Nov 27 2026 00:35:13 GMT+0000 (Coordinated Universal Time)\n")
    assert kinds(text) == [("Fri Nov 27 2026 00:35:13 GMT", "timestamp")] * 2
    assert mask(text)[1] == ("size: 4096\ncreated: <timestamp>+0000 (Coordinated Universal Time)\n"
                             "modified: <timestamp>+0000 (Coordinated Universal Time)\n")


def test_a_temp_path_in_json_escaped_text_stops_at_the_escape():
    # mcp filesystem server, edit_file: the result's JSON copy escapes newlines and tabs. The path ran on through
    # "\n====...\n---" and "\toriginal\n+++", so the diff's separator lines were masked as part of the path.
    text = ('  "content": "```diff\\nIndex: /tmp/workspace/notes/tmpab12cd34.txt\\n'
            '===================================================================\\n--- '
            '/tmp/workspace/notes/tmpab12cd34.txt\\toriginal\\n+++ /tmp/workspace/notes/tmpab12cd34.txt'
            '\\tmodified\\n@@ -1,2 +1,2 @@\\n-Buy milk\\n"')
    assert kinds(text) == [("tmpab12cd34.txt", "temp_path")] * 3
    assert mask(text)[1] == ('  "content": "```diff\\nIndex: /tmp/workspace/notes/<temp_path>\\n'
                             '===================================================================\\n--- '
                             '/tmp/workspace/notes/<temp_path>\\toriginal\\n+++ /tmp/workspace/notes/<temp_path>'
                             '\\tmodified\\n@@ -1,2 +1,2 @@\\n-Buy milk\\n"')
    # The file the task itself named there (its real path) is content.
    assert kinds(text.replace("tmpab12cd34.txt", "todo.txt")) == []


def test_rounded_sizes_are_volatile_and_exact_byte_counts_are_content():
    # Real (curated run of 2026-11-27): df -h of the sandbox's tmpfs, a GUI's free-space label, and an mcp server's
    # exact counts of data it returned. The filesystem's size (df's Size, the label's Total) is a setting: content.
    text = ("tmpfs           256M  348K  256M   1% /work\nFree space: 256.0 MiB (Total: 256.0 MiB)\n"
            "52K     build\n12 MB/s 3.5GiB 7T\n[image: image/png, 4035 bytes]\nwrote 42 bytes\n")
    assert kinds(text) == [(size, "byte_size") for size in ("348K", "256M", "256.0 MiB", "52K", "12 MB", "3.5GiB",
                                                             "7T")]
    assert "4035 bytes" in mask(text)[1] and "wrote 42 bytes" in mask(text)[1]


def test_clock_times_with_a_one_digit_hour_and_a_12_hour_suffix_are_masked_whole():
    # mcp everything server (curated run of 2026-11-27): a one-digit hour was missed, so the collection time was
    # exact-match text for stage 3.
    assert kinds("resource created at 3:04:35 AM") == [("3:04:35 AM", "timestamp")]
    text = "started 9:05:07.250 pm, done 12:00:00PM; at 21:58:00 am and 00:00:01 (uptime 3:04)"
    assert kinds(text) == [("9:05:07.250 pm", "timestamp"), ("12:00:00PM", "timestamp"),
                           ("21:58:00 am", "timestamp"), ("00:00:01", "timestamp")]
    assert mask(text)[1] == "started <timestamp>, done <timestamp>; at <timestamp> and <timestamp> (uptime 3:04)"
    # The suffix only as a whole word: without it a one-digit hour is an elapsed time (test_masking_audit.py).
    assert kinds("3:04:35 AMERICA 3:04:35 pmap") == [("3:04:35", "duration")] * 2
    # No match inside a number, and none without seconds.
    assert kinds("123:04:35 x3:04:35 3:04 PM 3:4:35 PM") == []
    # ISO 8601 and a date before a one-digit hour.
    assert kinds("2026-11-25T21:58:00Z 2026-11-25 3:04:35 PM") == [
        ("2026-11-25T21:58:00Z", "timestamp"), ("2026-11-25", "date"), ("3:04:35 PM", "timestamp")]
