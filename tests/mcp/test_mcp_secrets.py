"""Secrets a servers-file entry hands its server ({env:NAME} values, secret-looking `env` values) are masked as
`{env:NAME}` in everything `collect mcp` records and so in everything `curate` publishes, even when the server
prints its environment (the everything server's get-env), echoes its command line or fails with its token in its
stderr; the recorded entry (env details, the set-up digest) holds the placeholder, never the value."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collectors.mcp import setup_digest
from collectors.secret_mask import SecretMask, server_secrets
from sandboxes.mcp_server_spec import (SANDBOX_WORKDIR, ServerFileError, load_servers, placeholder_values,
                                       server_from_dict)
from tests.mcp.mcp_helpers import ROOT

PROBE = ROOT / "tests" / "mcp" / "probe_server.py"
VARIABLE = "WL_TEST_SECRET_TOKEN"
TOKEN = "tok-from-env-5151"
LITERAL = "sk-literal-key-4242"
EVERYTHING = "{node_modules}/@modelcontextprotocol/server-everything/dist/index.js"


def servers_file(folder: Path) -> Path:
    path = folder / "servers.yaml"
    path.write_text(json.dumps({"servers": {
        # The everything server's get-env prints its whole environment.
        "leaky": {"command": "node", "args": [EVERYTHING, "stdio"],
                  "env": {"API_TOKEN": f"{{env:{VARIABLE}}}", "OPENAI_API_KEY": LITERAL,
                          "HTTP_AUTH": f"Bearer {{env:{VARIABLE}}}", "LOG_LEVEL": "1",
                          "GREETING": "hello-not-a-secret"}},
        # The probe reads its own command line; a literal arg that is a secret-looking env value is masked too.
        "probe": {"command": "{python}", "args": [str(PROBE), f"--token={{env:{VARIABLE}}}", f"--key={LITERAL}"],
                  "env": {"OPENAI_API_KEY": LITERAL}},
        # A server that fails at start, its token in its stderr.
        "broken": {"command": "sh", "args": ["-c", f"echo 'login failed for {{env:{VARIABLE}}}' >&2; exit 3"]},
    }}))
    return path


def tasks_file(folder: Path) -> Path:
    path = folder / "tasks.yaml"
    path.write_text(json.dumps({"tasks": [
        {"id": "leaky-env", "instruction": "Read the environment.", "options": {"server": "leaky"},
         "actions": [{"tool": "get-env", "arguments": {}}]},
        {"id": "probe-cmdline", "instruction": "Read the command line.", "options": {"server": "probe"},
         "actions": [{"tool": "read", "arguments": {"path": "/proc/self/cmdline"}},
                     {"tool": "environment", "arguments": {}}]},
        {"id": "broken-start", "instruction": "Start.", "options": {"server": "broken"},
         "actions": [{"tool": "whoami", "arguments": {}}]},
    ]}))
    return path


def worldline(*args, env):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def decoded_files(folder: Path):
    """Every file under `folder` as text: Parquet tables as their rows' JSON (bytes decoded), others as read."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            yield path, json.dumps(rows, default=lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes)
                                   else str(v), ensure_ascii=False)
        else:
            yield path, path.read_bytes().decode("utf-8", "replace")


def test_a_servers_secrets_reach_no_file_of_collect_or_curate(tmp_path):
    env = {**os.environ, VARIABLE: TOKEN}
    raw, shards = tmp_path / "raw", tmp_path / "shards"
    done = worldline("collect", "mcp", "--servers", servers_file(tmp_path), "--tasks", tasks_file(tmp_path),
                     "--out", raw, env=env)
    assert TOKEN not in done.stdout + done.stderr and LITERAL not in done.stdout + done.stderr
    assert done.returncode in (0, 1), done.stderr[-3000:]  # the broken server's episode is an error
    done = worldline("curate", "--input", raw, "--output", shards, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    for kind in ("atif", "agentworldbench"):
        done = worldline("export", kind, "--input", shards, "--out", tmp_path / kind, env=env)
        assert done.returncode == 0, done.stderr[-3000:]

    texts = {path: text for folder in (raw, shards, tmp_path / "atif", tmp_path / "agentworldbench")
             for path, text in decoded_files(folder)}
    assert len([p for p in texts if "atif" in p.parts]) == 2  # the two episodes with transitions
    assert [p for p, t in texts.items() if p.suffix == ".parquet" and "stage1" in str(p)]
    leaked = {str(p.relative_to(tmp_path)) for p, t in texts.items() if TOKEN in t or LITERAL in t}
    assert not leaked

    rows = {row["task"]["id"]: row for path in (raw / "transitions" / "mcp").glob("*.parquet")
            for row in pq.read_table(path).to_pylist()}
    observation = rows["leaky-env"]["next_observation"]
    printed = json.loads(json.loads(observation["raw"])["content"][0]["text"])
    assert printed["API_TOKEN"] == f"{{env:{VARIABLE}}}" and printed["OPENAI_API_KEY"] == "{env:OPENAI_API_KEY}"
    assert printed["HTTP_AUTH"] == "{env:HTTP_AUTH}"  # the whole value: it is secret-looking itself
    assert printed["LOG_LEVEL"] == "1" and printed["GREETING"] == "hello-not-a-secret"  # not secrets
    assert json.loads(observation["meta_json"])["masked"] == ["HTTP_AUTH", "OPENAI_API_KEY", VARIABLE]
    assert f'"API_TOKEN": "{{env:{VARIABLE}}}"' in observation["text"]  # raw and text agree
    details = json.loads(rows["probe-cmdline"]["env"]["details_json"])
    assert details["args"] == [str(PROBE), f"--token={{env:{VARIABLE}}}", "--key={env:OPENAI_API_KEY}"]
    episodes = [json.loads(p.read_text()) for p in (raw / "episodes").rglob("*.json")]
    broken = next(e for e in episodes if e["task"]["id"] == "broken-start")
    assert f"login failed for {{env:{VARIABLE}}}" in broken["end_reason"]
    assert json.loads(broken["env"]["details_json"])["server_info"] == {}  # not the previous episode's server
    stage1 = "\n".join(row["text"] for path in (shards / "stage1").glob("*.parquet")
                        for row in pq.read_table(path).to_pylist())
    assert f"--token={{env:{VARIABLE}}}" in stage1 and f'"API_TOKEN": "{{env:{VARIABLE}}}"' in stage1
    assert f'\\"API_TOKEN\\": \\"{{env:{VARIABLE}}}\\"' in texts[tmp_path / "agentworldbench" / "mcp_test.jsonl"]


def test_an_unset_variable_fails_at_load_naming_entry_and_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)
    with pytest.raises(ServerFileError, match=f"server 'leaky'.*{{env:{VARIABLE}}}.*{VARIABLE}.*not set"):
        load_servers(servers_file(tmp_path))


@pytest.mark.parametrize("entry, key", [
    ({"command": "{env:X}"}, "command"),
    ({"command": "x", "prepare": ["curl -H 'Authorization: {env:X}' example.org"]}, "prepare"),
    ({"command": "x", "hints": {"token": "{env:X}"}}, "hints"),
    ({"command": "x", "read_only": ["{env:X}"]}, "read_only"),
])
def test_env_is_refused_where_it_would_be_recorded_unmasked(monkeypatch, entry, key):
    monkeypatch.setenv("X", TOKEN)
    with pytest.raises(ServerFileError, match=f"server 'e': {key} uses {{env:X}}"):
        server_from_dict("e", entry, "server 'e'")


def test_a_rotated_token_changes_no_digest_and_no_recorded_arg(tmp_path, monkeypatch):
    monkeypatch.setenv(VARIABLE, TOKEN)
    spec = load_servers(servers_file(tmp_path))["probe"]
    values = placeholder_values(SANDBOX_WORKDIR, 0)
    before = setup_digest(spec, values)
    monkeypatch.setenv(VARIABLE, "tok-rotated-6262")
    assert setup_digest(spec, values) == before
    assert server_secrets(spec, values) == {"tok-rotated-6262": VARIABLE, LITERAL: "OPENAI_API_KEY"}


def test_short_values_and_escaped_forms():
    spec = server_from_dict("s", {"command": "x", "env": {"PASSWORD": 'p"w\\é-long', "API_KEY": "short",
                                                          "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000"}}, "s")
    mask = SecretMask(server_secrets(spec, placeholder_values(SANDBOX_WORKDIR, 0)))
    assert mask.secrets == {'p"w\\é-long': "PASSWORD"}  # too short, and git's author date is no credential
    found = set()
    inner = json.dumps({"PASSWORD": 'p"w\\é-long'})  # a tool's JSON text, escaped again in the result
    raw = json.dumps({"content": [{"type": "text", "text": inner}]}).encode()
    assert json.loads(json.loads(mask.raw(raw, found))["content"][0]["text"]) == {"PASSWORD": "{env:PASSWORD}"}
    assert found == {"PASSWORD"}


def test_a_secret_of_digits_inside_a_number_leaves_valid_json():
    mask = SecretMask({"987654": "PIN_PASS"})
    found = set()
    masked = json.loads(mask.raw(b'{"id":19876543,"text":"pin 987654"}', found))
    assert masked == {"id": "1{env:PIN_PASS}3", "text": "pin {env:PIN_PASS}"} and found == {"PIN_PASS"}

