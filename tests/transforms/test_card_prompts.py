"""The dataset card says which system prompt a domain worldline does not ship was given."""

from transforms.card import dataset_card


def _stats(*domains: str) -> dict:
    return {"domains": {domain: {"in": 1, "out": 1, "dead_lettered": 0, "deduped_exact": 0, "deduped_near": 0}
                        for domain in domains}}


def test_an_undescribed_plugin_domain_is_named_with_the_generic_prompt_and_rubric():
    card = dataset_card(_stats("terminal", "pyrepl"), {})
    assert ("System prompts of domains worldline does not ship: pyrepl: the generic prompt, which names the domain "
            "but does not describe its environment, and the rubric id `worldline/generic/v1`") in card


def test_shipped_domains_need_no_such_note():
    assert "System prompts of domains" not in dataset_card(_stats("terminal", "web"), {})
