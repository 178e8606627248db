import json

import pytest

from transforms.prompts import DOMAINS, action_block, system_prompt, turn_prompt


def test_every_domain_has_its_own_prompt_with_the_answer_format():
    assert set(DOMAINS) == {"terminal", "swe", "web", "android", "mcp", "search", "os"}
    prompts = {domain: system_prompt(domain) for domain in DOMAINS}
    assert len(set(prompts.values())) == len(DOMAINS)
    for domain, prompt in prompts.items():
        assert f"(domain: {domain})" in prompt
        assert "<predicted_observation>...</predicted_observation>" in prompt
    assert "tmux" in prompts["terminal"] and "[bid] role 'name'" in prompts["web"]
    assert "bounds=[x1,y1][x2,y2]" in prompts["android"] and "[tool error]" in prompts["mcp"]


def test_the_web_prompt_claims_no_more_than_the_records_show():
    # An output audit found bids renumbered after a form submit or go_back at the same URL, and no Focused line
    # while the page itself (RootWebArea) had the focus: the prompt had said "stable" and "when an element has it".
    web = system_prompt("web")
    assert "stable" not in web and "may change when a page loads again" in web
    assert "(not the page itself)" in web


def test_the_mcp_prompt_says_what_the_shipped_servers_network_is():
    # Tools that fetch from outside answered "[tool error] fetch failed" while the prompt said nothing of why.
    from pathlib import Path
    from sandboxes.mcp_server_spec import load_servers
    servers = load_servers(Path(__file__).resolve().parents[2] / "tasks" / "mcp_servers.yaml")
    assert servers and not any(spec.network for spec in servers.values())
    assert "usually has no network" in system_prompt("mcp")


def test_new_domains_get_the_generic_prompt():
    prompt = system_prompt("robot-arm")
    assert "(domain: robot-arm)" in prompt and "<predicted_observation>" in prompt
    assert prompt.replace("robot-arm", "x") == system_prompt("x")


@pytest.mark.parametrize("action, block", [
    ('{"name": "ls", "arguments": {}}', '```json\n{"name": "ls", "arguments": {}}\n```'),
    ('click("12")', '```\nclick("12")\n```'),
    ('"just a string"', '```\n"just a string"\n```'),
    ('{"path": "a.md", "text": "```py\\nx\\n```"}', '````json\n{"path": "a.md", "text": "```py\\nx\\n```"}\n````'),
    ("echo ````` done", "``````\necho ````` done\n``````"),
    (' \n[1, 2]\t', '```json\n \n[1, 2]\t\n```'),  # JSON's own whitespace around it
    ("[1,", "```\n[1,\n```"),
    ("", "```\n\n```"),
    # Deeper than the parser recurses: not taken for JSON, and no error.
    pytest.param("[" * 100_000, "```\n" + "[" * 100_000 + "\n```", id="deep-nesting"),
])
def test_action_block_fences(action, block):
    assert action_block(action) == block


@pytest.mark.parametrize("action", ["[1] x", "[1]\n", "\ufeff[1]", " {}\x0b", "\x0b{}", "[NaN]", '{"a": 1} {"b": 2}',
                                    '{"a": 1}}', "[1, 2, [3, {}]]\r\n", '"[1]"', "[\"\\ud800\"]", "{'a': 1}", "[1e999]"])
def test_an_action_is_json_where_json_loads_reads_an_object_or_array(action):
    try:
        is_json = isinstance(json.loads(action), (dict, list))
    except ValueError:
        is_json = False
    assert action_block(action).startswith("```json\n") == is_json


def test_turn_prompt_sections():
    assert turn_prompt(1, "ls", "list files", "$") == \
        "### Turn 1\n**Task Instruction:**\nlist files\n\n**Current State:**\n```\n$\n```\n\n**Action:**\n```\nls\n```"
    assert turn_prompt(4, "ls") == "### Turn 4\n**Action:**\n```\nls\n```"
    # An empty or missing task or state is left out, not shown as an empty section.
    assert turn_prompt(1, "ls", None, "$") == "### Turn 1\n**Current State:**\n```\n$\n```\n\n**Action:**\n```\nls\n```"
    # The AgentWorldBench export writes the state as the benchmark does.
    assert turn_prompt(1, "ls", None, "$", fence_state=False) == \
        "### Turn 1\n**Current State:**\n$\n\n**Action:**\n```\nls\n```"
    assert turn_prompt(2, "ls", "list files", "") == \
        "### Turn 2\n**Task Instruction:**\nlist files\n\n**Action:**\n```\nls\n```"
