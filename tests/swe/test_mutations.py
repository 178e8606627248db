"""Mutations of real Python code: minimal, parseable, and undone exactly by one unique str_replace."""

import ast
import inspect
import textwrap
from itertools import zip_longest

import pytest
from tests.swe.swe_helpers import TINY_FILES

from collectors.swe_mutations import enclosing_function, find_mutations, fix_edit, sample, view_range

CALC = textwrap.dedent(TINY_FILES["calc.py"])


def real_sources():
    import json.encoder
    import textwrap as module
    return {"textwrap.py": inspect.getsource(module), "json/encoder.py": inspect.getsource(json.encoder)}


def test_calc_mutations_are_the_expected_sites():
    found = {m.id: m.description for m in find_mutations("calc.py", CALC)}
    assert found["calc.py:2:flip_comparison:0"] == "`<` -> `<=`"
    assert found["calc.py:4:flip_comparison:0"] == "`>` -> `>=`"
    assert found["calc.py:10:change_constant:0"] == "`0` -> `1`"
    assert found["calc.py:10:drop_statement:0"] == "dropped `total = 0`"
    assert found["calc.py:6:drop_statement:0"] == "dropped `return x`"
    by_id = {m.id: m for m in find_mutations("calc.py", CALC)}
    assert enclosing_function(by_id["calc.py:2:flip_comparison:0"]) == "clamp"
    assert enclosing_function(by_id["calc.py:10:drop_statement:0"]) == "mean"
    # alone in their blocks: dropping either would leave an empty `if` / `for`
    assert "calc.py:3:drop_statement:0" not in found and "calc.py:12:drop_statement:0" not in found


@pytest.mark.parametrize("path", ["textwrap.py", "json/encoder.py"])
def test_every_mutation_of_real_code_is_minimal_and_exactly_undone(path):
    source = real_sources()[path]
    mutations = find_mutations(path, source)
    assert {m.kind for m in mutations} == {"flip_comparison", "swap_boolop", "change_constant", "drop_statement"}
    assert len({m.id for m in mutations}) == len(mutations)
    for mutation in mutations:
        assert mutation.mutated != source
        ast.parse(mutation.mutated)
        old, new = fix_edit(mutation)
        assert mutation.mutated.count(old) == 1, mutation.id
        assert mutation.mutated.replace(old, new) == source, mutation.id
        pairs = zip_longest(source.splitlines(), mutation.mutated.splitlines())
        changed = [n for n, (a, b) in enumerate(pairs, 1) if a != b]
        assert changed and changed[0] == mutation.line, mutation.id
        first, last = view_range(mutation)
        assert first <= mutation.line <= last


def test_sampling_is_reproducible_and_mixes_kinds():
    mutations = find_mutations("textwrap.py", real_sources()["textwrap.py"])
    first = sample(mutations, 7)
    assert [m.id for m in first] == [m.id for m in sample(mutations, 7)]
    assert [m.id for m in first] != [m.id for m in sample(mutations, 8)]
    assert sorted(m.id for m in first) == sorted(m.id for m in mutations)
    assert len({m.kind for m in first[:4]}) == 4
