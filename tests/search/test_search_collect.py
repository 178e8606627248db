"""The search domain collected like any MCP server: the search engine runs as a real MCP server process."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from schemas import validate_transition

ROOT = Path(__file__).resolve().parents[2]


def test_world_tasks_find_their_answers(tmp_path):
    shipped = yaml.safe_load((ROOT / "tasks" / "search.yaml").read_text())["tasks"]
    world = [t for t in shipped if t["options"]["server"] == "search-world"][:2]
    packages = [t for t in shipped if t["id"] == "packages-beam-runner"]
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": world + packages}))
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "mcp", "--tasks", str(tasks),
                           "--out", str(tmp_path / "out"), "--workers", "2"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    episodes = {p.stem: pq.read_table(p).to_pylist() for p in (tmp_path / "out/transitions/search").glob("*.parquet")}
    assert len(episodes) == 3 and not (tmp_path / "out/transitions/mcp").exists()
    for task in world:
        (rows,) = [v for k, v in episodes.items() if task["id"] in k]
        for row in rows:
            validate_transition(row)
        state = json.loads(rows[0]["state"]["raw"])
        assert state["initialize"]["serverInfo"]["name"] == "worldline-search-world-7"
        # The server's name@version, then a digest of how worldline sets it up (collectors.mcp.setup_digest).
        assert rows[0]["env"]["digest"].startswith(
            "worldline-search-world-7@" + state["initialize"]["serverInfo"]["version"] + "+")
        assert len(state["initialize"]["serverInfo"]["version"]) == 12  # the corpus digest, not empty
        hits = json.loads(rows[0]["next_observation"]["raw"])["structuredContent"]["results"]
        assert task["actions"][1]["arguments"]["page_id"] in [h["page_id"] for h in hits]
        opened = [json.loads(r["next_observation"]["raw"])["structuredContent"]["text"] for r in rows[1:]]
        assert any(task["options"]["answer"] in text for text in opened)
    (beam,) = [v for k, v in episodes.items() if "packages-beam" in k]
    first, second = (json.loads(r["next_observation"]["raw"])["structuredContent"] for r in beam[1:3])
    assert first["next_offset"] == 2000 and second["offset"] == 2000 and first["text"] != second["text"]
    missing = json.loads(beam[3]["next_observation"]["raw"])
    assert missing["isError"] is True and "no page with id or url 'pypi/no-such-package'" in missing["content"][0]["text"]
