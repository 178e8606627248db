"""Version stamps written into every record so old shards stay readable after the schema moves on."""

SCHEMA_VERSION = "1.0"
SUPPORTED_SCHEMA_VERSIONS = frozenset({"1.0"})
WORLDLINE_VERSION = "0.1.0"
