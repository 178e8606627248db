"""mask_many scans texts joined by newlines; it must give each text exactly what masking it alone gives."""

import random


from tests.transforms.test_masking_reference import random_text, reference_mask, screens
from transforms.masking import core
from transforms.masking import mask_many

# Texts whose ends, when joined with "\n", sit next to the start of a rule's match in the next text: a rule that
# read across the newline would find a match in the join that neither text has alone (or lose one).
SEAMS = ["2026-11-25", "T21:58:00Z", "pid", " 42", "550e8400-e29b-41d4-a716-", "446655440000", "/tmp", "/x", "12",
         "ms", "localhost:", "43123", "[1]", " 12345", "[1] 12345", "x", "1764107880", "3f9a2b1", "c0d", "Wed Nov",
         " 25 21:58:00", "0x", "7fff", "tmpab", "cd1234", "port", " 55555", "é", "12s\n", "\n[2] 777", "\r", "\n"]


def _groupings(rng, texts):
    """texts cut into consecutive batches of random sizes, from a single text to dozens."""
    position = 0
    while position < len(texts):
        size = rng.choice([1, 2, 3, 7, 40])
        yield texts[position:position + size]
        position += size


def _assert_each_as_alone(batch):
    assert mask_many(batch) == [core._spans_and_masked(text) for text in batch] == list(map(reference_mask, batch))


def test_random_texts_in_varied_batches_match_each_text_alone():
    rng = random.Random(23)
    texts = [random_text(rng) for _ in range(1500)]
    texts += ["", "", "\n", "no newline here 12ms", "ends in a newline pid 42\n", "Ünïcode ça 12µs é3f9a2b1c0d\n"]
    rng.shuffle(texts)
    assert any("\n" in text for text in texts) and any(text and "\n" not in text for text in texts)
    for batch in _groupings(rng, texts):
        _assert_each_as_alone(batch)


def test_multi_line_screens_in_one_batch_match_each_screen_alone():
    _assert_each_as_alone(list(screens(random.Random(29), 300)))


def test_seams_between_texts_find_nothing_neither_text_has_alone():
    rng = random.Random(31)
    for _ in range(300):
        _assert_each_as_alone([rng.choice(SEAMS) for _ in range(rng.randint(2, 12))])
    _assert_each_as_alone(SEAMS)


def test_groups_split_anywhere_give_the_same_results(monkeypatch):
    texts = [random_text(random.Random(seed)) for seed in range(200)]
    whole = mask_many(texts)
    for group_chars in (1, 50, 999):
        monkeypatch.setattr(core, "_GROUP_CHARS", group_chars)
        assert mask_many(texts) == whole


def test_rule_runs_only_where_its_precheck_hits_but_finds_every_match():
    # One UUID among texts without any: the UUID rule scans only its text; its neighbours keep their own spans.
    texts = ["pid 1", "id 550e8400-e29b-41d4-a716-446655440000 at 21:58:00", "", "pid 2\n", "no volatile part"]
    assert [masked for _, masked in mask_many(texts)] == ["pid <pid>", "id <uuid> at <timestamp>", "", "pid <pid>\n",
                                                 "no volatile part"]
    _assert_each_as_alone(texts)


def test_empty_batch():
    assert mask_many([]) == []


def test_benchmark_screens_match_each_screen_alone():
    """Screens of the curation benchmark's generated collection, normalized as curation does."""
    from benchmarks.bench_curate import _episode_rows
    from transforms.prepare import curated_row

    texts = [curated_row(row)["next_text"] for number, domain in enumerate(
        ("terminal", "web", "mcp", "android", "os", "swe", "search")) for row in _episode_rows(
        domain, f"{domain}-{number}", number, number + 100, edit=number % 2 == 1)]
    assert len(texts) == 140 and all(core._spans_and_masked(text)[0] for text in texts)
    assert mask_many(texts) == [core._spans_and_masked(text) for text in texts] == list(map(reference_mask, texts))
