"""The dataset card says what a `load_dataset` user needs (audit D7): every column, that stage 2's `messages` ends
with the user turn and the answer is `target`, that the stages share their transitions (with a task-level split
that works), what `rubric_id` and the span kinds mean, code-point offsets, and the third-party content in the rows.
Its snippets are run as written, on a real curation, offline."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from collectors.store import EpisodeStore
from pipelines.curate import run_curation
from tests.pipelines.curation_raw_collection import write_episode
from transforms.card import dataset_card
from transforms.curate import OUTPUT_SCHEMAS
from transforms.masking import KINDS
from transforms.prompts import turn_prompt
from transforms.replay import KIND as REPLAY_KIND

ROOT = Path(__file__).resolve().parents[2]
STATS = {"in": 3, "out": 3, "deduped": 0, "dead_lettered": 0,
         "domains": {"search": {"in": 1, "out": 1, "dead_lettered": 0, "deduped_exact": 0, "deduped_near": 0},
                     "terminal": {"in": 2, "out": 2, "dead_lettered": 0, "deduped_exact": 0, "deduped_near": 0}}}


def _header_and_body(card: str) -> tuple[dict, str]:
    _, header, body = card.split("---\n", 2)
    return yaml.safe_load(header), body


def test_every_column_of_every_table_is_named():
    _, body = _header_and_body(dataset_card(STATS, {}, "run"))
    for name, schema in OUTPUT_SCHEMAS.items():
        assert f"- `{name}/`: " in body
        for column in schema.names:
            assert f"`{column}`" in body, (name, column)


def test_stage2_target_splitting_rubric_offsets_and_license_are_explained():
    header, body = _header_and_body(dataset_card(STATS, {}, "run"))
    assert "license" not in header  # `other` said nothing; the body says what the rows hold
    assert "**ending with the user turn of the action to predict**" in body
    assert "the separate `target` column" in body
    assert "built from the same curated transitions" in body and "split by environment group" in body
    assert "Python `str` offsets (Unicode code points" in body
    assert "`rubric_id` `worldline/<domain>/v1`" in body
    # The kinds listed are the kinds the masker and replays give, no more, no fewer.
    listed = re.search(r"format of its kind \(([^)]*)\)", body)[1]
    assert sorted(set(re.findall(r"`(\w+)`", listed))) == sorted([*KINDS, REPLAY_KIND])
    license_text = body.split("## License\n\n")[1].split("\n")[0]
    assert "PyPI and Debian package READMEs" in license_text  # search is in this run
    assert "SWE" not in license_text and "MCP" not in license_text  # swe and mcp are not


def test_formats_doc_defines_the_rubric_and_every_span_kind():
    doc = (ROOT / "docs" / "formats.md").read_text()
    rubric = doc.split("### Rubric")[1].split("\n## ")[0]
    prose = " ".join(rubric.split())
    assert "worldline/{domain}/v1" in rubric and "exact spans must match exactly" in prose
    for kind in KINDS:
        assert f"| `{kind}` |" in rubric, kind


RUN_SNIPPETS = """import json, sys
{sft}
{split}
print(json.dumps({{"sft": [[row["id"], row["prompt"], row["completion"], row["target"]] for row in sft],
                  "train": list(sft_train["id"]), "test": list(rl_test["id"])}}))
"""


def test_the_card_snippets_run_and_split_by_environment_group(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    store = EpisodeStore(raw)
    task_of, group_of = {}, {}
    # Two tasks in each of 12 environment groups, two episodes each: a split by task (task-0-b and task-3-b hash
    # into the held-out tenth, their siblings do not) or by episode would put one group on both sides.
    for number in range(12):
        group = f"env-{number}"
        for task in (f"task-{number}-a", f"task-{number}-b"):
            for seed in range(2):
                episode = f"{task}-s{seed}"
                write_episode(store, episode, task, [(f"echo {task} {seed} {step}", f"{task} seed {seed} says {step}")
                                                     for step in range(2)], group)
                task_of.update({f"{episode}:{step}": task for step in range(2)})
                group_of.update({f"{episode}:{step}": group for step in range(2)})
    # A domain with only three groups, none of them in the lowest tenth by md5, still gets one held out; one with a
    # single group stays in training.
    for domain, groups in (("web", ("shop", "forum", "tracker")), ("os", ("galculator",))):
        for group in groups:
            episode = f"{domain}-{group}-s0"
            write_episode(store, episode, f"{group}-task", [(f"open {group} {step}", f"{group} page {step}")
                                                           for step in range(2)], group, domain)
            task_of.update({f"{episode}:{step}": f"{group}-task" for step in range(2)})
            group_of.update({f"{episode}:{step}": group for step in range(2)})
    stats = run_curation(str(raw), str(out))
    assert stats["out"] == len(task_of)

    card = (out / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(blocks) == 4 and blocks[1].startswith(blocks[0])  # the first is the loading example
    row = pq.read_table(out / "stage3").to_pylist()[0]  # the last, the rewards snippet, scores its reference 1.0
    scope = {"row": row, "completion": f"<predicted_observation>{row['reference']}</predicted_observation>"}
    exec(blocks[3], scope)
    assert scope["result"].reward == 1.0
    script = RUN_SNIPPETS.format(sft=blocks[1], split=blocks[2]).replace("PATH/TO/THIS/FOLDER", str(out))
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ran = json.loads(result.stdout.splitlines()[-1])

    assert len(ran["sft"]) == len(task_of)
    for _, prompt, completion, target in ran["sft"]:  # the loss goes on the completion only: the target
        assert prompt[0]["role"] == "system" and prompt[-1]["role"] == "user"
        assert completion == [{"role": "assistant", "content": target}] and "<think>" in target
    train, test = set(ran["train"]), set(ran["test"])
    assert train | test == set(task_of) and not train & test and test
    assert not {group_of[i] for i in train} & {group_of[i] for i in test}  # no environment group on both sides
    assert not {task_of[i] for i in train} & {task_of[i] for i in test}
    held = {group_of[i] for i in test}
    assert len(held & {"shop", "forum", "tracker"}) == 1 and "galculator" not in held


def _held_by_the_card(groups: dict) -> set:
    """The card's split snippet's held-out (domain, group) pairs for `groups` (domain -> its groups), computed by
    the snippet's own lines (those between gathering the groups and selecting the test ids)."""
    import hashlib
    from transforms.card import SPLIT_SNIPPET

    code = SPLIT_SNIPPET.split("groups[domain].add(group)\n")[1].split("def held_out")[0]
    scope = {"hashlib": hashlib, "groups": groups}
    exec(code, scope)
    return scope["held"]


def test_the_card_split_never_moves_a_training_group_into_test_as_groups_are_added():
    # A collection growing one group at a time (audit R1: by md5 rank, the 20th group made n // 10 two and pulled
    # an old training group into test; a new group ranked first displaced one).
    names = [f"task-{number}" for number in range(300)]
    held_before = None
    for size in range(2, len(names) + 1):
        held = {group for _, group in _held_by_the_card({"terminal": set(names[:size])})}
        assert held, size  # a domain of two or more groups has one held out
        if held_before is not None:
            assert not (held - held_before) & set(names[:size - 1]), size  # no old training group into test
            # Only the fallback (the single lowest group, none in the tenth) can go back to training.
            assert held_before <= held or len(held_before) == 1, size
        held_before = held
    assert 0.05 < len(held) / len(names) < 0.15  # about a tenth
    assert _held_by_the_card({"os": {"galculator"}}) == set()  # one group stays in training


def test_the_stage1_rule_of_the_card_covers_every_observation_about_once(tmp_path):
    import duckdb

    raw, out = tmp_path / "raw", tmp_path / "out"
    store = EpisodeStore(raw)
    lengths = {"long": 13, "short": 3, "five": 5}
    for name, steps in lengths.items():
        write_episode(store, name, name, [(f"echo {name} {step}", f"observation {name} {step} " + "word " * 30)
                                          for step in range(steps)])
    run_curation(str(raw), str(out))
    assert "keep the rows whose `step % 5 == 4` and each episode's last row" in (out / "README.md").read_text()
    con = duckdb.connect()
    kept = con.execute(f"""
        SELECT episode_id, step, text FROM read_parquet('{out}/stage1/*.parquet') AS s
        WHERE step % 5 = 4 OR step = (SELECT max(step) FROM read_parquet('{out}/stage1/*.parquet') AS t
                                      WHERE t.episode_id = s.episode_id)""").fetchall()
    texts = " ".join(text for *_, text in kept)
    for name, steps in lengths.items():
        for step in range(steps):
            assert texts.count(f"observation {name} {step} ") >= 1, (name, step)
    # About once: each observation in at most two kept documents (the shared one at a boundary).
    assert all(texts.count(f"observation {name} {step} ") <= 2 for name, steps in lengths.items()
               for step in range(steps))
    assert len(kept) == 3 + 1 + 1  # long: steps 4, 9 and 12; short: 2; five: 4


def test_the_rewards_section_says_how_to_get_the_reward_code_and_what_it_loads():
    rewards = " ".join(dataset_card(STATS, {}, "run").split("## Rewards (stage 3)")[1].split("## License")[0].split())
    # Not `pip install -e`: it would bring the collectors' and Beam's ~135 packages into a training venv (trainer
    # walkthrough P5); tests/pipelines/test_card_scorer_recipe.py scores rows with only the packages named here.
    assert "`pip install --no-deps /path/to/worldline` and `pip install python-dateutil pyarrow numpy`" in rewards
    assert "pip install -e" not in rewards and "pandas" not in rewards
    # What the card claims, in a fresh interpreter: those packages (and six, python-dateutil's), nothing else.
    # Modules the interpreter loads before any import (site's .pth hooks) and private ones (Cython's) are not the
    # snippet's.
    show = "import sys; print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    loaded, at_start = (set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                           check=True).stdout.split())
                        for code in (f"from transforms.rewards import extract_prediction, score; {show}", show))
    third_party = {name for name in loaded - at_start - set(sys.stdlib_module_names) if not name.startswith("_")}
    assert third_party - {"transforms", "schemas", "cython_runtime"} <= {"pyarrow", "numpy", "dateutil", "six"}, \
        third_party


def test_the_rewards_snippet_scores_text_and_conversational_completions():
    # The card's own stage-2 recipe trains on conversational completions, so a trainer's generated completion is a
    # list of messages as often as a string (h202: the snippet took only text and raised AttributeError on a list).
    body = dataset_card(STATS, {}, "run").split("## Rewards (stage 3)")[1].split("## License")[0]
    [snippet] = re.findall(r"```python\n(.*?)```", body, re.S)
    reference = "root@sandbox:/work# ls\nnotes.txt\nroot@sandbox:/work# "
    row = {"reference": reference, "exact_spans": [{"start": 0, "end": len(reference), "kind": "exact"}],
           "format_spans": [], "rubric_id": "worldline/terminal/v1"}
    answer = f"<think>The action runs `ls`.</think>\n<predicted_observation>{reference}</predicted_observation>"
    wrong = answer.replace("notes.txt", "notes.md")
    for completion, reward in ((answer, 1.0), ([{"role": "assistant", "content": answer}], 1.0),
                               ([{"role": "assistant", "content": wrong}], 0.0)):
        scope = {"row": row, "completion": completion}
        exec(snippet, scope)
        assert scope["result"].reward == reward, (completion, scope["result"].reason)


def test_the_stage2_columns_say_how_to_read_the_state_and_turn_numbers_back(curated):
    # What a trainer parsing prompts needs (h202): the state's fence and what `### Turn N` counts. Read back by the
    # card's words alone on a real curation: the state is the text between the fence lines, and N - 1 names the
    # transition it was taken from.
    out, _, _ = curated
    card = (out / "README.md").read_text()
    assert "one more than the state's longest run of them and at least three" in card
    assert "`### Turn N`, N its recorded step + 1" in card
    states = dict(zip(*pq.read_table(out / "transitions", columns=["id", "state_text"]).to_pydict().values()))
    read = 0
    for row in pq.read_table(out / "stage2").to_pylist():
        first = row["messages"][1]["content"]
        turn = int(re.match(r"### Turn (\d+)\n", first)[1])
        last = [m["content"] for m in row["messages"] if m["role"] == "user"][-1]
        assert last.startswith(f"### Turn {row['step'] + 1}\n")
        numbers = [int(re.match(r"### Turn (\d+)\n", m["content"])[1]) for m in row["messages"] if m["role"] == "user"]
        assert numbers == list(range(turn, turn + len(numbers)))  # one turn a step, removed duplicates included
        fenced = re.search(r"\*\*Current State:\*\*\n(`{3,})\n(.*?)\n\1\n", first, re.S)
        if fenced and f"{row['episode_id']}:{turn - 1}" in states:
            assert fenced[2] == states[f"{row['episode_id']}:{turn - 1}"]
            assert len(fenced[1]) == max(3, 1 + max(map(len, re.findall("`+", fenced[2])), default=0))
            read += 1
    assert read
    # A state that shows a fence of its own: the prompt's fence is one backtick longer, so it cannot be closed early.
    state = "--- a/notes.md\n```diff\n-### Turn 9\n+**Action:**\n```"
    prompt = turn_prompt(1, "cat notes.md", "Read the notes.", state)
    assert re.search(r"\*\*Current State:\*\*\n(````)\n(.*?)\n\1\n", prompt, re.S)[2] == state
