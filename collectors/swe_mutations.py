"""Plant one-token bugs in real Python code, found with `ast`, applied as minimal text edits.

A mutation changes the smallest span it can (one operator, one constant, or whole lines of one statement) and leaves
every other byte of the file as it was, so the fix an agent must make is exactly the inverse edit and `git diff`
after the fix is empty. Only code inside function bodies is mutated: a broken module-level line breaks every import,
which makes a bug that needs no localizing. Which mutations matter (make some existing test fail) is decided by
running the tests, in collectors/swe.py.
"""

from __future__ import annotations

import ast
import random
import re
import threading
from dataclasses import dataclass, replace

# Each comparison flips to its nearest wrong neighbour: off-by-one boundaries and inverted tests.
COMPARISON_FLIPS = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">", ast.Eq: "!=", ast.NotEq: "==",
                    ast.Is: "is not", ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in"}
COMPARISON_TOKENS = {ast.Lt: r"<", ast.LtE: r"<=", ast.Gt: r">", ast.GtE: r">=", ast.Eq: r"==", ast.NotEq: r"!=",
                     ast.Is: r"is", ast.IsNot: r"is\s+not", ast.In: r"in", ast.NotIn: r"not\s+in"}
DROPPABLE = (ast.Assign, ast.AugAssign, ast.Return, ast.Expr)
VIEW_CONTEXT_LINES = 8
_AST_LOCK = threading.Lock()


@dataclass(frozen=True)
class Mutation:
    path: str  # relative to the repository root
    kind: str  # flip_comparison | swap_boolop | change_constant | drop_statement
    line: int  # 1-based line of the change
    description: str
    original: str
    mutated: str
    ordinal: int = 0  # tells apart two mutations of one kind on one line (`a < b < c`)

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}:{self.kind}:{self.ordinal}"


class _Offsets:
    """(line, utf-8 column) from ast -> character offsets in the text (ast columns count bytes, not characters)."""

    def __init__(self, source: str):
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def at(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    def start(self, node) -> int:
        return self.at(node.lineno, node.col_offset)

    def end(self, node) -> int:
        return self.at(node.end_lineno, node.end_col_offset)


def _function_nodes(tree: ast.AST):
    """Every node inside a function body (nested definitions included), each once."""
    seen: set[int] = set()
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for statement in func.body:
                for node in ast.walk(statement):
                    if id(node) not in seen:
                        seen.add(id(node))
                        yield node


def _operator_span(source: str, start: int, end: int, pattern: str) -> tuple[int, int] | None:
    """The single operator token between two operands, when nothing but spaces and parentheses surround it."""
    segment = source[start:end]
    matches = list(re.finditer(rf"(?<![<>=!\w]){pattern}(?![<>=\w])", segment))
    if len(matches) != 1 or "\n" in segment[matches[0].start():matches[0].end()]:
        return None
    rest = segment[:matches[0].start()] + segment[matches[0].end():]
    if rest.strip(" ()\t\\\n"):
        return None  # a comment or something unexpected sits between the operands: leave this site alone
    return start + matches[0].start(), start + matches[0].end()


def _edit(path, kind, source, start, end, replacement, description) -> Mutation:
    mutated = source[:start] + replacement + source[end:]
    return Mutation(path, kind, source.count("\n", 0, start) + 1, description, source, mutated)


def find_mutations(path: str, source: str) -> list[Mutation]:
    """Every single-site mutation of `source` (the text of `path`) that still parses, in file order."""
    # CPython 3.11's ast module is not thread-safe ("AST constructor recursion depth mismatch" under concurrent
    # parses), and the runner's workers are threads.
    with _AST_LOCK:
        return _find_mutations(path, source)


def _find_mutations(path: str, source: str) -> list[Mutation]:
    tree = ast.parse(source)
    offsets = _Offsets(source)
    found: list[Mutation] = []
    for node in _function_nodes(tree):
        if isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                span = _operator_span(source, offsets.end(left), offsets.start(right), COMPARISON_TOKENS[type(op)])
                if span:
                    old = source[span[0]:span[1]]
                    found.append(_edit(path, "flip_comparison", source, *span, COMPARISON_FLIPS[type(op)],
                                       f"`{old}` -> `{COMPARISON_FLIPS[type(op)]}`"))
                left = right
        elif isinstance(node, ast.BoolOp) and len(node.values) >= 2:
            word, other = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            span = _operator_span(source, offsets.end(node.values[0]), offsets.start(node.values[1]), word)
            if span:
                found.append(_edit(path, "swap_boolop", source, *span, other, f"`{word}` -> `{other}`"))
        elif isinstance(node, ast.Constant) and type(node.value) in (bool, int) and node.lineno == node.end_lineno:
            start, end = offsets.start(node), offsets.end(node)
            text = source[start:end]
            if isinstance(node.value, bool):
                new = "False" if node.value else "True"
            elif re.fullmatch(r"\d+", text) and node.value < 10**6:
                new = str(node.value + 1)
            else:
                continue  # hex, underscores, huge values: not the kind of slip this models
            found.append(_edit(path, "change_constant", source, start, end, new, f"`{text}` -> `{new}`"))
    found += _dropped_statements(path, source, tree, offsets)
    # Stable sort: ties keep ast.walk order, which is fixed for a given source, so ordinals are reproducible.
    found = sorted((m for m in found if _parses(m.mutated)), key=lambda m: (m.line, m.kind))
    numbered, seen = [], {}
    for mutation in found:
        key = (mutation.line, mutation.kind)
        seen[key] = seen.get(key, -1) + 1
        numbered.append(replace(mutation, ordinal=seen[key]))
    return numbered


def _dropped_statements(path: str, source: str, tree: ast.AST, offsets: _Offsets) -> list[Mutation]:
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for block in _blocks(func):
            if len(block) < 2:
                continue  # dropping the only statement leaves an empty block (a syntax error)
            for index, statement in enumerate(block):
                if not isinstance(statement, DROPPABLE):
                    continue
                if isinstance(statement, ast.Expr) and not isinstance(statement.value, ast.Call):
                    continue  # docstrings and bare names: dropping them changes nothing
                if not _owns_its_lines(statement, block, index, offsets):
                    continue
                first, last = statement.lineno, statement.end_lineno
                start, end = offsets.starts[first - 1], offsets.starts[last]
                text = source[start:end].strip()
                summary = text.splitlines()[0][:60]
                found.append(_edit(path, "drop_statement", source, start, end, "", f"dropped `{summary}`"))
    return found


def _blocks(func: ast.AST):
    for node in ast.walk(func):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _owns_its_lines(statement, block, index, offsets: _Offsets) -> bool:
    line_text = offsets.lines[statement.lineno - 1]
    if line_text.encode()[:statement.col_offset].decode(errors="ignore").strip():
        return False  # something precedes it on its first line (`if x: y` or `a; b`)
    neighbours = [s for i, s in enumerate(block) if i != index]
    return not any(s.lineno <= statement.end_lineno and s.end_lineno >= statement.lineno for s in neighbours)


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
        return True
    except SyntaxError:
        return False


def sample(mutations: list[Mutation], seed: int) -> list[Mutation]:
    """A reproducible shuffle, spread over kinds so one kind does not crowd out the rest."""
    rng = random.Random(seed)
    by_kind: dict[str, list[Mutation]] = {}
    for mutation in mutations:
        by_kind.setdefault(mutation.kind, []).append(mutation)
    for group in by_kind.values():
        rng.shuffle(group)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    ordered = []
    while any(by_kind.values()):
        for kind in kinds:
            if by_kind[kind]:
                ordered.append(by_kind[kind].pop())
    return ordered


def fix_edit(mutation: Mutation) -> tuple[str, str]:
    """(old_str, new_str) of the str_replace that undoes `mutation`: the changed lines, widened by context lines
    until old_str occurs exactly once in the mutated file (the editor refuses anything else)."""
    before = mutation.original.splitlines(keepends=True)
    after = mutation.mutated.splitlines(keepends=True)
    prefix = 0
    while prefix < min(len(before), len(after)) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(before), len(after)) - prefix
           and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]):
        suffix += 1
    for context in range(0, len(after) + 1):
        lo = max(0, prefix - context)
        old = "".join(after[lo:len(after) - suffix + context])
        new = "".join(before[lo:len(before) - suffix + context])
        if old.strip() and mutation.mutated.count(old) == 1:
            if old.endswith("\n") and new.endswith("\n"):
                old, new = old[:-1], new[:-1]
            if mutation.mutated.count(old) == 1:
                return old, new
    raise ValueError(f"no unique str_replace undoes mutation {mutation.id}")


def enclosing_function(mutation: Mutation) -> str:
    """Name of the innermost function around the change in the mutated file: what an agent greps for after
    reading a traceback."""
    with _AST_LOCK:
        tree = ast.parse(mutation.mutated)
    around = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
              and node.lineno <= mutation.line <= node.end_lineno]
    return max(around, key=lambda node: node.lineno).name if around else ""


def view_range(mutation: Mutation) -> list[int]:
    """Lines around the change, as an agent would open them from a traceback."""
    count = len(mutation.mutated.split("\n"))
    return [max(1, mutation.line - VIEW_CONTEXT_LINES), min(count, mutation.line + VIEW_CONTEXT_LINES)]
