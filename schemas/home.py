"""WORLDLINE_HOME: where worldline keeps what it installs and caches on this machine (the MCP servers' venv and
npm packages), as opposed to the data files shipped inside its packages, which it reads beside its own modules.

Run from a checkout (an editable install included) that is the checkout, as `make setup` has always filled it;
installed (site-packages, a Dataflow worker) the packages' folder is no place to write, so it is the XDG data folder.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

HOME_VARIABLE = "WORLDLINE_HOME"
PROJECT_NAME = "worldline"
# The folder that holds worldline's packages: the checkout, or site-packages once installed.
PACKAGES_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def is_checkout(root: Path = PACKAGES_ROOT) -> bool:
    """Whether `root` is worldline's source tree (a checkout, an editable install, an unpacked sdist): it holds the
    pyproject.toml of the project. Its name is checked, not only the file: site-packages never holds one, but a
    tree that vendors worldline beside its own pyproject is not worldline's checkout."""
    try:
        with open(root / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle).get("project", {}).get("name") == PROJECT_NAME
    except (OSError, tomllib.TOMLDecodeError):
        return False


def xdg_data_home(environ: Mapping[str, str] = os.environ) -> Path:
    # The XDG spec says a relative XDG_DATA_HOME is invalid and to be ignored.
    value = environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path(os.path.expanduser("~")) / ".local" / "share"


def worldline_home(environ: Mapping[str, str] = os.environ, root: Path = PACKAGES_ROOT) -> Path:
    """$WORLDLINE_HOME (made absolute: the sandboxes bind its folders by path), else the checkout `root` when run
    from one, else ${XDG_DATA_HOME:-~/.local/share}/worldline."""
    value = environ.get(HOME_VARIABLE, "")
    if value.strip():
        return Path(os.path.abspath(os.path.expanduser(value)))
    if is_checkout(root):
        return root
    return xdg_data_home(environ) / PROJECT_NAME
