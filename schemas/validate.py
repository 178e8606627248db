"""Validate raw records against the Arrow schemas, naming the record and the field that is wrong."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import pyarrow as pa

from schemas.transition import EPISODE_SCHEMA, TRANSITION_SCHEMA
from schemas.version import SUPPORTED_SCHEMA_VERSIONS

DOMAIN_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
REQUIRED_TRANSITION_FIELDS = ("schema_version", "episode_id", "step", "domain", "action", "next_observation")
JSON_FIELDS = ("action.arguments_json", "state.meta_json", "next_observation.meta_json", "env.details_json",
               "provenance.extra_json")


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class RecordError(ValueError):
    """A record that failed validation; the message names the record and every wrong field."""

    def __init__(self, record_id: str, errors: list[FieldError]):
        self.record_id = record_id
        self.errors = errors
        super().__init__(f"record {record_id}: " + "; ".join(str(e) for e in errors))


def record_id(row: dict) -> str:
    if isinstance(row, dict) and row.get("episode_id") is not None and row.get("step") is not None:
        return f"{row['episode_id']}:{row['step']}"
    return "<unknown>"


def _type_test(arrow_type: pa.DataType):
    """The Python types a value of `arrow_type` may have (a tuple for isinstance), or None for any; bool is an int
    in Python but never a valid integer or float here."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return (str,), False
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return (bytes, bytearray), False
    if pa.types.is_boolean(arrow_type):
        return (bool,), False
    if pa.types.is_integer(arrow_type):
        return (int,), True
    if pa.types.is_floating(arrow_type):
        return (int, float), True
    if pa.types.is_timestamp(arrow_type):
        return (datetime,), False
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return (list, tuple), False
    if pa.types.is_struct(arrow_type):
        return (dict,), False
    return None, False


def _integer_range(arrow_type: pa.DataType) -> range | None:
    """The values an integer column holds: a Python int is unbounded, and one past the range (a JSONL step of 2**40,
    an int64 column's) passed the type check and then failed the whole run where curation wrote it as int32."""
    if not pa.types.is_integer(arrow_type):
        return None
    bits = arrow_type.bit_width
    if pa.types.is_unsigned_integer(arrow_type):
        return range(0, 1 << bits)
    return range(-(1 << (bits - 1)), 1 << (bits - 1))


# A checker is (value, path, errors) -> None. The schema is compiled once into a tree of them: walking the Arrow
# type with pa.types.is_* for every value of every row cost about a third of curation's per-row time.
def _compile_field(arrow_field: pa.Field):
    arrow_type, nullable = arrow_field.type, arrow_field.nullable
    types, no_bool = _type_test(arrow_type)
    bounds = _integer_range(arrow_type)
    children = None
    if pa.types.is_struct(arrow_type):
        children = tuple((arrow_type.field(i).name, _compile_field(arrow_type.field(i)))
                         for i in range(arrow_type.num_fields))
        known = frozenset(name for name, _ in children)
    item_check = _compile_field(arrow_type.value_field) if pa.types.is_list(arrow_type) else None

    def check(value, path: str, errors: list[FieldError]) -> None:
        if value is None:
            if not nullable:
                errors.append(FieldError(path, "is missing"))
            return
        if types is not None and (not isinstance(value, types) or (no_bool and value.__class__ is bool)):
            errors.append(FieldError(path, f"expected {arrow_type}, got {type(value).__name__} {value!r:.60}"))
            return
        if bounds is not None and value not in bounds:
            errors.append(FieldError(path, f"{value!r:.60} does not fit in {arrow_type}"))
            return
        if children is not None:
            if not known.issuperset(value):
                for extra in sorted(set(value) - known):
                    errors.append(FieldError(f"{path}.{extra}", "is not a field of the schema"))
            get = value.get
            for name, child in children:
                child(get(name), f"{path}.{name}", errors)
        elif item_check is not None:
            for i, item in enumerate(value):
                item_check(item, f"{path}[{i}]", errors)
    return check


_COMPILED_SCHEMAS: dict[int, tuple] = {}


def _compiled(schema: pa.Schema) -> tuple:
    found = _COMPILED_SCHEMAS.get(id(schema))
    if found is None or found[0] is not schema:
        found = (schema, frozenset(schema.names), tuple((f.name, _compile_field(f)) for f in schema))
        _COMPILED_SCHEMAS[id(schema)] = found
    return found


def check_against_schema(row: dict, schema: pa.Schema) -> list[FieldError]:
    if not isinstance(row, dict):
        return [FieldError("<record>", f"expected an object, got {type(row).__name__}")]
    _, names, fields = _compiled(schema)
    errors: list[FieldError] = []
    if not names.issuperset(row):
        for extra in sorted(set(row) - names):
            errors.append(FieldError(extra, "is not a field of the schema"))
    get = row.get
    for name, check in fields:
        check(get(name), name, errors)
    return errors


def _get(row: dict, dotted: str):
    value = row
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


# Rows repeat the same JSON strings ("{}", and a state's meta is the previous step's next observation's meta).
@lru_cache(maxsize=1024)
def json_error(value: str) -> str | None:
    try:
        json.loads(value)
    except json.JSONDecodeError as exc:
        return f"is not valid JSON ({exc.msg} at {exc.pos})"
    except RecursionError:  # deep nesting ("[[[[..."): parsing it later would fail the run, not only this row
        return "nests too deeply to parse"
    except ValueError as exc:  # valid JSON Python will not read, such as an integer of more than 4,300 digits
        return f"cannot be parsed: {exc}"
    return None


def transition_errors(row: dict) -> list[FieldError]:
    """Every problem with one raw transition row; an empty list means it is valid."""
    errors = check_against_schema(row, TRANSITION_SCHEMA)
    if not isinstance(row, dict):
        return errors
    for name in REQUIRED_TRANSITION_FIELDS:
        if row.get(name) is None and not any(e.field == name for e in errors):
            errors.append(FieldError(name, "is missing"))
    version = row.get("schema_version")
    if isinstance(version, str) and version not in SUPPORTED_SCHEMA_VERSIONS:
        errors.append(FieldError("schema_version", f"{version!r} is not one of {sorted(SUPPORTED_SCHEMA_VERSIONS)}"))
    step = row.get("step")
    if isinstance(step, int) and step < 0:
        errors.append(FieldError("step", f"must be >= 0, got {step}"))
    domain = row.get("domain")
    if isinstance(domain, str) and not DOMAIN_PATTERN.match(domain):
        errors.append(FieldError("domain", f"{domain!r} is not a domain name (lowercase letters, digits, - or _)"))
    if isinstance(row.get("action"), dict) and not _get(row, "action.kind"):
        errors.append(FieldError("action.kind", "is empty"))
    for dotted in JSON_FIELDS:
        value = _get(row, dotted)
        if isinstance(value, str) and value:
            reason = json_error(value)
            if reason:
                errors.append(FieldError(dotted, reason))
    start, end = _get(row, "timings.action_start"), _get(row, "timings.action_end")
    if isinstance(start, datetime) and isinstance(end, datetime) and _as_utc(end) < _as_utc(start):
        errors.append(FieldError("timings.action_end", "is before timings.action_start"))
    return errors


def _as_utc(moment: datetime) -> datetime:
    """A JSONL time without an offset is UTC, as Arrow stores it; comparing it with one that has an offset raised
    TypeError."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def validate_transition(row: dict) -> dict:
    """Return the row unchanged, or raise RecordError naming the record and its wrong fields."""
    errors = transition_errors(row)
    if errors:
        raise RecordError(record_id(row), errors)
    return row
