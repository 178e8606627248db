"""The task files worldline ships (the default tasks of the collectors, the MCP servers file): where to read them.

In a checkout they are its tasks/ folder, the one users name on the command line (`--tasks tasks/terminal.yaml`).
Installed, the same files are the package `worldline_tasks` (pyproject.toml maps it onto tasks/): a folder named
`tasks` at the top of site-packages could be any distribution's, and pip would overwrite or uninstall it with that
distribution's files.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from schemas.home import PACKAGES_ROOT, is_checkout

CHECKOUT_FOLDER = "tasks"
PACKAGE = "worldline_tasks"


def shipped_task_file(name: str) -> Path:
    """The absolute path of the shipped file `name` ("terminal.yaml"). The file may be missing (an install that left
    it out, the MCP sandbox, which mounts only the code packages): the path is still returned, so that the caller's
    own check reports which file is missing, rather than an import failing here."""
    if is_checkout():
        # Checked first: an editable install's finder maps `worldline_tasks` onto tasks/ as well, but a `tasks`
        # folder merely beside the packages (another distribution's, in site-packages) must not be taken for ours.
        return PACKAGES_ROOT / CHECKOUT_FOLDER / name
    try:
        found = importlib.resources.files(PACKAGE).joinpath(name)
    except (ImportError, OSError):  # not installed, or its folder gone (a namespace package's path is checked)
        return PACKAGES_ROOT / PACKAGE / name  # where the wheel puts it, to be named as missing
    # pip installs a wheel unpacked, so this is a file on disk; resolved because the MCP servers file is recognised
    # by comparing resolved paths (sandboxes.mcp_server_spec).
    return Path(str(found)).resolve()
