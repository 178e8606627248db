"""{pages}: the local pages are served inside the fetch server's own sandbox at a fixed address, so the server has
no network, and recorded URLs and observations are the same in every run, every process and every replay."""

import json
import os

import pytest
import yaml

from sandboxes.bwrap import process_tree
from sandboxes.mcp_server_spec import PAGES_URL, ServerFileError, server_from_dict
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT, collect, result_of, rows


def fetch(conn, url: str) -> dict:
    exchange, _ = conn.request("tools/call", {"name": "fetch", "arguments": {"url": url}})
    return result_of(exchange)


def sandbox_interfaces(conn) -> list[list[str]]:
    """The network interfaces each process of the server's sandbox sees, for those in a network namespace other
    than the collector's."""
    own = os.readlink("/proc/self/ns/net")
    seen = []
    for pid in process_tree(conn.server_pid()):
        if os.readlink(f"/proc/{pid}/ns/net") != own:
            lines = open(f"/proc/{pid}/net/dev").read().splitlines()[2:]
            seen.append(sorted(line.split(":")[0].strip() for line in lines))
    return seen


def test_the_fetch_server_has_no_network_and_still_reads_the_pages(servers, host_page):
    with ServerConnection(servers["fetch"], call_timeout_s=60) as conn:
        interfaces = sandbox_interfaces(conn)
        assert interfaces and all(names == ["lo"] for names in interfaces), interfaces
        outside = fetch(conn, host_page)  # the host's loopback is another machine's, as far as the server knows
        assert outside["isError"] is True and "All connection attempts failed" in outside["content"][0]["text"]
        page = fetch(conn, f"{PAGES_URL}/index.html")
        assert page["content"][0]["text"] == (f"Contents of {PAGES_URL}/index.html:\nFresh bread daily since 1987."
                                              f"\n\n* [Menu](menu.html)\n* [Opening hours](hours.html)")
        missing = fetch(conn, f"{PAGES_URL}/missing.html")
        assert missing["isError"] is True and missing["content"][0]["text"].endswith("status code 404")
        # The page server goes with the server: a restart (as after a timeout) starts both afresh.
        conn.restart()
        assert "Almond croissant" in fetch(conn, f"{PAGES_URL}/menu.html")["content"][0]["text"]
        tree = process_tree(conn.server_pid())
    assert not [pid for pid in tree if _live(pid)]


def _live(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("extra, message", [
    ({"network": True}, "uses {pages}, which is served on the sandbox's own loopback"),
    ({"prepare": ["curl {pages}/index.html"]}, "prepare commands cannot use {pages}"),
])
def test_pages_need_the_sandbox_to_keep_its_own_loopback(extra, message):
    entry = {"command": "node", "args": ["server.js"], "hints": {"url": ["{pages}/index.html"]}, **extra}
    with pytest.raises(ServerFileError, match="server 'web'") as error:
        server_from_dict("web", entry, "server 'web'")
    assert message in str(error.value)


def test_fetch_observations_are_the_same_in_every_collector_run_and_replay(tmp_path):
    task = next(t for t in yaml.safe_load((ROOT / "tasks" / "mcp.yaml").read_text())["tasks"]
                if t["id"] == "fetch-bakery")
    tasks = tmp_path / "fetch.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [task]}))
    # Each collector run is a process of its own, and the replay runs the stored actions in a third one.
    collect("--tasks", tasks, "--out", tmp_path / "first")
    collect("--tasks", tasks, "--out", tmp_path / "second")
    collect("--tasks", tasks, "--out", tmp_path / "first", "--replays", "1")
    (first,), (second,) = rows(tmp_path / "first").values(), rows(tmp_path / "second").values()
    assert json.loads(first[0]["action"]["text"]) == {"name": "fetch", "arguments": {"url": f"{PAGES_URL}/index.html"}}
    assert [row["action"] for row in first] == [row["action"] for row in second]
    observed = [row["next_observation"] for row in first]
    assert observed == [row["next_observation"] for row in second]
    assert [row["replay_observations"] for row in first] == [[observation] for observation in observed]
    assert "Almond croissant | 2.80" in observed[1]["text"] and "status code 404" in observed[4]["text"]
