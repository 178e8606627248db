"""Record schemas shared by every part of worldline. Imports nothing from the rest of the project."""

from schemas.records import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition, utcnow
from schemas.stages import (CURATED_TRANSITION_SCHEMA, DEAD_LETTER_SCHEMA, STAGE1_SCHEMA, STAGE2_SCHEMA,
                            STAGE3_SCHEMA)
from schemas.transition import EPISODE_SCHEMA, TRANSITION_SCHEMA
from schemas.validate import FieldError, RecordError, transition_errors, validate_transition
from schemas.version import SCHEMA_VERSION, WORLDLINE_VERSION

__all__ = [
    "Action", "EnvInfo", "Episode", "Observation", "Provenance", "Timings", "Transition", "utcnow",
    "CURATED_TRANSITION_SCHEMA", "DEAD_LETTER_SCHEMA", "STAGE1_SCHEMA", "STAGE2_SCHEMA", "STAGE3_SCHEMA",
    "EPISODE_SCHEMA", "TRANSITION_SCHEMA", "FieldError", "RecordError", "transition_errors", "validate_transition",
    "SCHEMA_VERSION", "WORLDLINE_VERSION",
]
