from transforms.prompts import DOMAINS, system_prompt


def test_every_domain_has_its_own_prompt_with_the_answer_format():
    assert set(DOMAINS) == {"terminal", "swe", "web", "android", "mcp", "search", "os"}
    prompts = {domain: system_prompt(domain) for domain in DOMAINS}
    assert len(set(prompts.values())) == len(DOMAINS)
    for domain, prompt in prompts.items():
        assert f"(domain: {domain})" in prompt
        assert "<predicted_observation>...</predicted_observation>" in prompt
    assert "tmux" in prompts["terminal"] and "[bid] role 'name'" in prompts["web"]
    assert "bounds=[x1,y1][x2,y2]" in prompts["android"] and "[tool error]" in prompts["mcp"]


def test_new_domains_get_the_generic_prompt():
    prompt = system_prompt("robot-arm")
    assert "(domain: robot-arm)" in prompt and "<predicted_observation>" in prompt
    assert prompt.replace("robot-arm", "x") == system_prompt("x")
