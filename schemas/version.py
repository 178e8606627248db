"""Version stamps written into every record so old shards stay readable after the schema moves on."""

# 1.1 added replay_observations (collect --replays); 1.0 files read as 1.1 ones without replays. 1.2 added
# task.group (the environment a task ran in); older files read with a null group, which curation takes as the task id.
SCHEMA_VERSION = "1.2"
SUPPORTED_SCHEMA_VERSIONS = frozenset({"1.0", "1.1", "1.2"})
WORLDLINE_VERSION = "0.1.0"
