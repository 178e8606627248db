"""Validate raw records against the Arrow schemas, naming the record and the field that is wrong."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

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


def _python_type_ok(value, arrow_type: pa.DataType) -> bool:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return isinstance(value, str)
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return isinstance(value, (bytes, bytearray))
    if pa.types.is_boolean(arrow_type):
        return isinstance(value, bool)
    if pa.types.is_integer(arrow_type):
        return isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_floating(arrow_type):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if pa.types.is_timestamp(arrow_type):
        return isinstance(value, datetime)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return isinstance(value, (list, tuple))
    if pa.types.is_struct(arrow_type):
        return isinstance(value, dict)
    return True


def _check_type(value, arrow_field: pa.Field, path: str, errors: list[FieldError]) -> None:
    if value is None:
        if not arrow_field.nullable:
            errors.append(FieldError(path, "is missing"))
        return
    arrow_type = arrow_field.type
    if not _python_type_ok(value, arrow_type):
        errors.append(FieldError(path, f"expected {arrow_type}, got {type(value).__name__} {value!r:.60}"))
        return
    if pa.types.is_struct(arrow_type):
        known = {arrow_type.field(i).name for i in range(arrow_type.num_fields)}
        for extra in sorted(set(value) - known):
            errors.append(FieldError(f"{path}.{extra}", "is not a field of the schema"))
        for i in range(arrow_type.num_fields):
            child = arrow_type.field(i)
            _check_type(value.get(child.name), child, f"{path}.{child.name}", errors)
    elif pa.types.is_list(arrow_type):
        for i, item in enumerate(value):
            _check_type(item, arrow_type.value_field, f"{path}[{i}]", errors)


def check_against_schema(row: dict, schema: pa.Schema) -> list[FieldError]:
    if not isinstance(row, dict):
        return [FieldError("<record>", f"expected an object, got {type(row).__name__}")]
    errors: list[FieldError] = []
    for extra in sorted(set(row) - set(schema.names)):
        errors.append(FieldError(extra, "is not a field of the schema"))
    for arrow_field in schema:
        _check_type(row.get(arrow_field.name), arrow_field, arrow_field.name, errors)
    return errors


def _get(row: dict, dotted: str):
    value = row
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


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
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                errors.append(FieldError(dotted, f"is not valid JSON ({exc.msg} at {exc.pos})"))
    start, end = _get(row, "timings.action_start"), _get(row, "timings.action_end")
    if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
        errors.append(FieldError("timings.action_end", "is before timings.action_start"))
    return errors


def validate_transition(row: dict) -> dict:
    """Return the row unchanged, or raise RecordError naming the record and its wrong fields."""
    errors = transition_errors(row)
    if errors:
        raise RecordError(record_id(row), errors)
    return row


def episode_errors(row: dict) -> list[FieldError]:
    return check_against_schema(row, EPISODE_SCHEMA)
