"""docs/formats.md describes every column of every table worldline writes, as the Arrow schemas have them (names,
nested struct fields and types), so the docs cannot drift from the Parquet files again. The second walkthrough (F10)
found the curated transitions, dedupe and dead_letter tables undescribed, and curation.md naming dead_letter columns
(`id`, `step`) that do not exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from schemas.stages import (CURATED_TRANSITION_SCHEMA, DEAD_LETTER_SCHEMA, MESSAGE, SPAN, STAGE1_SCHEMA,
                            STAGE2_SCHEMA, STAGE3_SCHEMA)
from schemas.transition import EPISODE_SCHEMA, OBSERVATION, TRANSITION_SCHEMA
from transforms.dedupe import DUPLICATE_SCHEMA

DOCS = Path(__file__).resolve().parents[1] / "docs"
FORMATS = (DOCS / "formats.md").read_text()
CURATED = {"transitions": CURATED_TRANSITION_SCHEMA, "stage1": STAGE1_SCHEMA, "stage2": STAGE2_SCHEMA,
           "stage3": STAGE3_SCHEMA, "dedupe": DUPLICATE_SCHEMA, "dead_letter": DEAD_LETTER_SCHEMA}
NAMED_STRUCTS = {"span": SPAN, "message": MESSAGE, "observation": OBSERVATION}


def section(heading: str) -> str:
    return FORMATS.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]


def ticked(text: str) -> list[str]:
    """The names in backticks, a backticked list `a, b` giving each of its names."""
    return [name.strip() for group in re.findall(r"`([^`]+)`", text) for name in group.split(",")]


def rows(text: str) -> list[tuple[list[str], str]]:
    """(column names, type cell) of each row of the first markdown table in `text`."""
    table = re.search(r"\| column \| type \| holds \|\n\|[-|]+\|\n((?:\|.*\n?)+)", text).group(1)
    return [(ticked(cells[1]), cells[2].strip())
            for cells in (line.split("|") for line in table.strip().splitlines())]


def paragraph(text: str, bold: str) -> str:
    return text.split(f"**{bold}**", 1)[1].split("\n**", 1)[0]


def doc_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_list(arrow_type):
        return f"list of {doc_type(arrow_type.value_type)}"
    if pa.types.is_struct(arrow_type):
        return next((word for word, known in NAMED_STRUCTS.items() if known == arrow_type), "struct")
    return {pa.string(): "string", pa.int32(): "int32", pa.bool_(): "bool",
            pa.timestamp("us", tz="UTC"): "timestamp us UTC"}[arrow_type]


def check_rows(documented: list[tuple[list[str], str]], schema: pa.Schema) -> set[str]:
    """Each documented column is in the schema with the documented type (and struct fields); returns the names."""
    for names, type_cell in documented:
        assert set(names) <= set(schema.names), f"documented but not in the schema: {set(names) - set(schema.names)}"
        if "`" in type_cell:  # struct `a, b` or list of span `start, end, kind`: one type, its fields listed
            for name in names:
                arrow_type = schema.field(name).type
                assert doc_type(arrow_type) == type_cell.split("`")[0].strip(), (name, type_cell)
                fields = arrow_type.value_type if pa.types.is_list(arrow_type) else arrow_type
                assert ticked(type_cell) == [field.name for field in fields], (name, type_cell)
            continue
        types = [part.strip() for part in type_cell.split(",")]
        for name, written in zip(names, types if len(types) > 1 else types * len(names)):
            assert doc_type(schema.field(name).type) == written, (name, written)
    return {name for names, _ in documented for name in names}


@pytest.mark.parametrize("table", sorted(CURATED))
def test_every_curated_column_is_described_with_its_type(table):
    text = section("Curated tables")
    common = rows(text)  # id, domain, episode_id, step: the columns the tables share
    schema = CURATED[table]
    own = rows(paragraph(text, table)) if "| column |" in paragraph(text, table) else []
    shared = [row for row in common if row[0][0] in schema.names]  # dedupe has no `step`, dead_letter none of them
    described = check_rows(own, schema) | check_rows(shared, schema)
    if table == "stage1":  # a single own column, told in a sentence
        described |= {"text"} if "`text` (string)" in paragraph(text, table) else set()
    assert described == set(schema.names), f"{table}: not described: {set(schema.names) - described}"


def test_the_shared_structs_are_described_with_their_fields():
    curated, raw = section("Curated tables"), section("Raw collection")
    assert ticked(re.search(r"A span is a struct (`[^`]+`)", curated).group(1)) == SPAN.names
    assert ticked(re.search(r"A message is a struct (`[^`]+`)", curated).group(1)) == MESSAGE.names
    assert ticked(re.search(r"An observation is a struct (`[^`]+`)", raw).group(1)) == OBSERVATION.names


def test_every_raw_transition_column_is_described_with_its_type():
    documented = rows(paragraph(section("Raw collection"), "Transition row"))
    assert check_rows(documented, TRANSITION_SCHEMA) == set(TRANSITION_SCHEMA.names)


def test_the_episode_record_example_has_every_field():
    example = json.loads(re.search(r"\*\*Episode record\*\*.*?```json\n(.*?)```", section("Raw collection"),
                                   re.DOTALL).group(1).replace('"{...}"', '"{}"'))
    assert list(example) == EPISODE_SCHEMA.names
    for name in ("env", "task", "provenance"):
        assert list(example[name]) == EPISODE_SCHEMA.field(name).type.names, name


def test_curation_md_names_the_real_dead_letter_columns():
    curation = (DOCS / "curation.md").read_text()
    row = next(line for line in curation.splitlines() if line.startswith("| `dead_letter/` |"))
    named = [name for name in ticked(row.split("|")[2]) if re.fullmatch(r"[a-z_]+", name)]
    assert named == DEAD_LETTER_SCHEMA.names, row
