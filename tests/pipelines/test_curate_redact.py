"""`worldline curate --redact FILE`: the listed strings and regexes are replaced with [REDACTED] in every text the
run writes (transitions, stages, dead letters), spans index the redacted text, stats.json and the card count them
without naming them, and a file that cannot be used stops the run before any work."""

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from transforms.redact import REDACTED, RedactionFileError, Redactions

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("secret123", "sk-planted-mcp-key-4242", "Alice Privateperson")
NONCE = "9f3a2c1b7d4e8f60a1b2"
REDACT_FILE = "# what must not be published\n\nsecret123\nre:sk-planted-[a-z-]+\\d+\n  Alice Privateperson  \n"


def observation(text: str, meta: dict | None = None, raw_format: str = "text") -> dict:
    return {"text": text, "raw": text, "raw_format": raw_format, "meta_json": json.dumps(meta or {})}


def write_collection(root: Path) -> None:
    env_dump = f"API_TOKEN=secret123\nOPENAI_API_KEY=sk-planted-mcp-key-4242\nrequest {NONCE} done"
    said = "Alice Privateperson said hi"
    steps = [("get-env", observation("$ "), observation(env_dump)),
             ("echo Alice Privateperson", observation(env_dump),
              observation(said, {"url": "http://intranet/?t=secret123", "note": 'quoted "secret123"'})),
             ("x", observation(said), observation("secret123", raw_format="no-such-format"))]
    lines = []
    for step, (action, state, next_observation) in enumerate(steps):
        lines.append(json.dumps({
            "schema_version": "1.2", "episode_id": "mcp-redact-1", "step": step, "domain": "mcp",
            "task": {"id": "env-probe", "group": "probe", "instruction": "Ask Alice Privateperson for the env."},
            "state": state, "action": {"kind": "call", "arguments_json": "{}", "text": action},
            "next_observation": next_observation,
            "timings": {"action_start": f"2026-11-25T12:00:0{step}Z"}}))
    folder = root / "transitions" / "mcp"
    folder.mkdir(parents=True)
    (folder / "probe.jsonl").write_text("\n".join(lines) + "\n")


def curate(raw: Path, out: Path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                           str(out), "--runner=FnApiRunner", *extra], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def every_value(out: Path) -> str:
    """Every table's rows, stats.json and the card, as one text to search."""
    texts = [(out / "stats.json").read_text(), (out / "README.md").read_text()]
    for table in ("transitions", "stage1", "stage2", "stage3", "dedupe", "dead_letter"):
        texts.append(json.dumps(pq.read_table(out / table).to_pylist(), default=str, ensure_ascii=False))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def redacted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("redact")
    raw = root / "raw"
    write_collection(raw)
    listing = root / "private.txt"
    listing.write_text(REDACT_FILE)
    before = (raw / "transitions" / "mcp" / "probe.jsonl").read_bytes()
    result = curate(raw, root / "shards", "--redact", str(listing))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (raw / "transitions" / "mcp" / "probe.jsonl").read_bytes() == before  # the raw collection is kept
    return root / "shards", listing


def test_no_listed_value_is_left_in_any_output(redacted_run):
    out, _ = redacted_run
    text = every_value(out)
    for secret in SECRETS:
        assert secret not in text
    assert REDACTED in text
    transitions = {row["id"]: row for row in pq.read_table(out / "transitions").to_pylist()}
    assert sorted(transitions) == ["mcp-redact-1:0", "mcp-redact-1:1"]  # ids are kept as recorded
    first, second = transitions["mcp-redact-1:0"], transitions["mcp-redact-1:1"]
    assert first["next_text"].startswith(f"API_TOKEN={REDACTED}\nOPENAI_API_KEY={REDACTED}\n")
    assert first["instruction"] == f"Ask {REDACTED} for the env."
    assert second["action_text"] == f"echo {REDACTED}"
    assert second["state_text"] == first["next_text"]
    # The meta's values are redacted as values: the JSON stays JSON, a quoted secret included.
    assert json.loads(second["next_meta_json"]) == {"url": f"http://intranet/?t={REDACTED}",
                                                    "note": f'quoted "{REDACTED}"'}


def test_spans_index_the_redacted_text(redacted_run):
    out, _ = redacted_run
    row = next(row for row in pq.read_table(out / "transitions").to_pylist() if row["id"] == "mcp-redact-1:0")
    spans = row["next_volatile_spans"]
    assert spans, row
    assert any(row["next_text"][span["start"]:span["end"]] == NONCE for span in spans), spans
    stage3 = pq.read_table(out / "stage3").to_pylist()
    reference = next(row for row in stage3 if row["id"] == "mcp-redact-1:0")
    assert reference["reference"] == row["next_text"]


def test_stats_and_card_count_the_matches_and_record_the_file_by_its_hash(redacted_run):
    out, listing = redacted_run
    stats = json.loads((out / "stats.json").read_text())
    # Step 0: two in the next text, one in the instruction; step 1: its state is step 0's next text (counted
    # there), one each in the action, instruction and next text, two in the meta.
    assert stats["redacted"]["domains"] == {"mcp": {"rows": 2, "matches": 8}}
    assert stats["redacted"]["rows"] == 2 and stats["redacted"]["matches"] == 8
    letters = stats["redacted"]["dead_letters"]
    assert letters["rows"] == 1 and letters["matches"] >= 3
    assert stats["settings"]["redact"] == {"patterns": 3,
                                           "sha256": hashlib.sha256(listing.read_bytes()).hexdigest()}
    card = (out / "README.md").read_text()
    assert f"{8 + letters['matches']} values were redacted (`curate --redact`)" in card


def test_the_dead_letter_keeps_its_record_as_json_without_the_values(redacted_run):
    out, _ = redacted_run
    letter = pq.read_table(out / "dead_letter").to_pylist()[0]
    assert letter["record_id"] == "mcp-redact-1:2"
    record = json.loads(letter["record_json"])
    assert record["task"]["instruction"] == f"Ask {REDACTED} for the env."
    assert record["state"]["text"] == f"{REDACTED} said hi"


def test_without_redact_the_values_are_curated_and_no_redaction_is_recorded(tmp_path):
    raw = tmp_path / "raw"
    write_collection(raw)
    result = curate(raw, tmp_path / "shards")
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((tmp_path / "shards" / "stats.json").read_text())
    assert "redacted" not in stats and "redact" not in stats["settings"]
    assert "values were redacted" not in (tmp_path / "shards" / "README.md").read_text()
    assert "sk-planted-mcp-key-4242" in every_value(tmp_path / "shards")


@pytest.mark.parametrize("content, expected", [
    ("# nothing but a comment\n\n   \n", "holds no string or re: pattern to redact"),
    ("token-1\n\nre:(unclosed\n", "line 3: re:(unclosed does not compile: missing ), unterminated subpattern"),
    ("re:a*\n", "line 1: re:a* matches the empty string"),
    (b"ok\n\xff\xfe\n", "line 2: is not UTF-8 text"),
])
def test_a_file_that_cannot_be_used_stops_curate_before_any_work(tmp_path, content, expected):
    raw = tmp_path / "raw"
    write_collection(raw)
    listing = tmp_path / "private.txt"
    if isinstance(content, bytes):
        listing.write_bytes(content)
    else:
        listing.write_text(content)
    result = curate(raw, tmp_path / "shards", "--redact", str(listing))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: --redact {listing}"), result.stderr
    assert expected in lines[0]
    assert not (tmp_path / "shards").exists()


def test_a_missing_file_is_named(tmp_path):
    raw = tmp_path / "raw"
    write_collection(raw)
    result = curate(raw, tmp_path / "shards", "--redact", str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: --redact {tmp_path / 'nope.txt'}: cannot be read: No such file or " \
                                     "directory"


def test_patterns_join_into_one_regex_that_prefers_regexes_then_the_longest_literal():
    redactions = Redactions.of(["secret", "secret123", "re:(?i)bearer \\S+", "re:\\bpw\\b(?=:)"])
    assert redactions.text("secret1234 BEARER tok-9 secret pw: x")[0] == \
        f"{REDACTED}4 {REDACTED} {REDACTED} {REDACTED}: x"
    text = "nothing to hide"
    assert redactions.text(text) == (text, 0) and redactions.text(text)[0] is text
    with pytest.raises(RedactionFileError, match="line 2: re:\\(a\\)\\\\1 has a backreference"):
        Redactions.of(["x", "re:(a)\\1"])


def test_bytes_of_a_dead_letter_written_as_base64_are_redacted_too():
    redactions = Redactions.of(["secret123"])
    raw = b"\xff token secret123"
    record = json.dumps({"raw": {"base64": base64.b64encode(raw).decode()}, "n": 1})
    redacted, found = redactions.json_text(record)
    assert found == 1
    assert base64.b64decode(json.loads(redacted)["raw"]["base64"]) == b"\xff token " + REDACTED.encode()
