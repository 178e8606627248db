"""The card's YAML header has the Hub metadata a dataset author sets, where it is true of every output (trainer
walkthrough P7): pretty_name, task_categories and size_categories by the Hub's buckets, and no license, which the
License section tells the publisher to set. Read back with huggingface_hub's own card classes, offline."""

import pytest
from huggingface_hub import DatasetCard, DatasetCardData

from transforms.card import dataset_card, size_category

STATS = {"in": 3, "out": 3, "deduped": 0, "dead_lettered": 0,
         "domains": {"terminal": {"in": 3, "out": 3, "dead_lettered": 0, "deduped_exact": 0, "deduped_near": 0}}}


@pytest.mark.parametrize("rows, bucket", [(0, "n<1K"), (999, "n<1K"), (1_000, "1K<n<10K"), (9_999, "1K<n<10K"),
                                          (10_000, "10K<n<100K"), (678_000, "100K<n<1M"), (10**9, "1B<n<10B"),
                                          (10**12 - 1, "100B<n<1T"), (10**12, "n>1T")])
def test_the_size_category_is_the_hubs_bucket_of_the_row_count(rows, bucket):
    assert size_category(rows) == bucket


@pytest.mark.parametrize("out, bucket", [(3, "n<1K"), (1_500, "1K<n<10K")])
def test_huggingface_hub_reads_the_header(out, bucket):
    card = DatasetCard(dataset_card({**STATS, "out": out}, {}, "run"))
    data = card.data
    assert isinstance(data, DatasetCardData)
    assert data.pretty_name == "worldline curated transitions"
    assert data.task_categories == ["text-generation"]
    assert data.size_categories == [bucket]
    assert data.license is None
    assert [config["config_name"] for config in data.configs] == ["stage1", "stage2", "stage3", "transitions"]
    # What huggingface_hub would write back is the same header.
    assert DatasetCard(f"---\n{data.to_yaml()}\n---\n{card.text}").data.to_dict() == data.to_dict()


def test_the_license_section_tells_the_publisher_to_set_it():
    license_text = dataset_card(STATS, {}, "run").split("## License\n\n")[1].split("\n")[0]
    assert "the YAML header above has no `license`: whoever publishes the data must add it" in license_text
