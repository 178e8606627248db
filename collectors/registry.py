"""Where `worldline collect NAME` finds collectors, and whether what they need is installed; read by the CLI and by
task-file checks alike, so it imports nothing of worldline."""

from __future__ import annotations

import importlib.util

COLLECTOR_GROUP = "worldline.collectors"

# Domains (README's table) that another collector records: `collect search` said only "No such command".
DOMAINS_OF_OTHER_COLLECTORS = {
    "search": "the search domain is recorded by the mcp collector from the search servers: "
              "worldline collect mcp --tasks tasks/search.yaml --out DIR (docs/mcp.md)",
}

INSTALL_COLLECT = "pip install 'worldline[collect]'"

# The top-level modules of pyproject's `collect` extra, one per distribution there (tests/pipelines/
# test_collect_extra.py keeps the two lists equal). Names, not installed metadata: a distribution that is not
# installed has no metadata to say which modules it would have brought.
COLLECT_MODULES = ("docker", "playwright", "flask", "mcp", "jsonschema", "adbutils", "pyseccomp", "httpx2",
                   "httpcore2", "anyio")
# What an install without the extra lacks: the extra's modules but httpx2, httpcore2 and anyio (openai, a core
# dependency, brings them, in its own version range), and what only the extra's distributions bring (flask's
# werkzeug, mcp's mcp_types). The import-linter contracts in pyproject.toml forbid these to curation.
COLLECT_ONLY_MODULES = ("docker", "playwright", "flask", "werkzeug", "mcp", "mcp_types", "jsonschema", "adbutils",
                        "pyseccomp")


def is_collect_module(name: str) -> bool:
    """Whether the module `name` (dotted or not) is one only the collect extra installs."""
    return name.partition(".")[0] in COLLECT_ONLY_MODULES


def needs_collect_message(command: str, missing: list[str]) -> str:
    """Why `command` (e.g. "worldline collect web") cannot run in this install, and what to install."""
    return (f"{command} needs the collectors' dependencies, which are not installed (no module "
            f"{', '.join(repr(m) for m in missing)}): {INSTALL_COLLECT}")


def missing_collect_modules() -> list[str]:
    """The collect extra's modules the import system cannot find, without importing any of them (Playwright and the
    MCP SDK take a while): an install without the extra lacks them all, the built-in collectors need them all."""
    missing = []
    for name in COLLECT_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a finder that refuses the name; a module in sys.modules without a spec
            found = False
        if not found:
            missing.append(name)
    return missing
