"""Where `worldline collect NAME` finds collectors; read by the CLI and by task-file checks alike, so it imports
nothing."""

COLLECTOR_GROUP = "worldline.collectors"

# Domains (README's table) that another collector records: `collect search` said only "No such command".
DOMAINS_OF_OTHER_COLLECTORS = {
    "search": "the search domain is recorded by the mcp collector from the search servers: "
              "worldline collect mcp --tasks tasks/search.yaml --out DIR (docs/mcp.md)",
}
