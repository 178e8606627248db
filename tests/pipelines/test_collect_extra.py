"""Curation installs without the collect extra (pyproject's `collect`: Docker, Playwright, Flask, MCP...), as a
Dataflow worker does: the curation commands start without it, and a collector, `sandbox` or `setup` stops with one
line naming the missing module and `pip install 'worldline[collect]'`. The extra's absence is real to the import
system here: a meta path finder refuses its modules in a fresh interpreter, so every import of one fails as it does
where the distribution is not installed."""

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from collectors.registry import COLLECT_MODULES, COLLECT_ONLY_MODULES

REPO = Path(__file__).resolve().parents[2]
INSTALL = "pip install 'worldline[collect]'"

REFUSE = textwrap.dedent("""
    import importlib.abc, sys
    REFUSED = set(sys.argv[1].split(","))

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in REFUSED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    del sys.argv[1]
""")


def worldline(*args: str, refused=COLLECT_ONLY_MODULES, code: str = ""):
    script = REFUSE + (code or "from pipelines.cli import main\nsys.argv[0] = 'worldline'\nmain()\n")
    return subprocess.run([sys.executable, "-c", script, ",".join(refused), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_the_collect_extra_lists_what_the_registry_and_the_contracts_name():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    extra = {re.match(r"[A-Za-z0-9_.-]+", line)[0].lower().replace("-", "_")
             for line in config["project"]["optional-dependencies"]["collect"]}
    assert extra == set(COLLECT_MODULES)
    core = {re.match(r"[A-Za-z0-9_.-]+", line)[0].lower() for line in config["project"]["dependencies"]}
    assert not core & extra, core & extra
    contracts = [c for c in config["tool"]["importlinter"]["contracts"] if "collect extra" in c["name"]]
    assert len(contracts) == 2
    for contract in contracts:
        assert set(contract["forbidden_modules"]) == set(COLLECT_ONLY_MODULES), contract["name"]


def test_curation_commands_start_without_the_extra():
    for command in (["--help"], ["curate", "--help"], ["export", "atif", "--help"], ["query", "--help"],
                    ["score", "--help"], ["pack", "--help"], ["collect", "--help"]):
        result = worldline(*command)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        assert "Usage:" in result.stdout, command
    # What they run imports cleanly too (help loads a command's module, not what its body imports).
    modules = ["transforms.curate", "transforms.card", "transforms.exports.atif", "transforms.reasoning.llm",
               "pipelines.curate", "pipelines.views", "collectors.pack"]
    result = worldline(*modules, code="import importlib\n"
                                      "for m in sys.argv[1:]: importlib.import_module(m)\nprint('ok')")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_a_builtin_collector_without_the_extra_stops_before_any_work(tmp_path):
    out = tmp_path / "raw"
    # web imports Playwright only once its first browser starts: refused before the out folder is made.
    result = worldline("collect", "web", "--explore", "shop", "--out", str(out))
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: worldline collect web needs the collectors' dependencies"), line
    assert "'playwright'" in line and "'docker'" in line and line.endswith(INSTALL), line
    assert not out.exists()


def test_one_missing_module_of_the_extra_is_named(tmp_path):
    needs = ("worldline collect terminal needs the collectors' dependencies, which are not installed (no module "
             f"'pyseccomp'): {INSTALL}")
    result = worldline("collect", "terminal", "--tasks", "tasks/terminal.yaml", "--out", str(tmp_path / "raw"),
                       refused=("pyseccomp",))
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: {needs}"
    # Its help still shows, with its own options (it loads without pyseccomp), and says what is missing.
    result = worldline("collect", "terminal", "--help", refused=("pyseccomp",))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Not runnable here: {needs}." in " ".join(result.stdout.split())
    assert "--image" in result.stdout


def test_sandbox_and_setup_without_the_extra_name_the_module():
    result = worldline("sandbox", "list")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == ("Error: worldline sandbox needs the module 'docker', which is not installed: "
                                     "worldline was installed without the collectors' dependencies; install them "
                                     f"with {INSTALL}")


# The path a plugin takes (no check up front: its needs are its own), here with a built-in collector's module loaded
# through a plain LazyGroup.
LOAD_A_COLLECTOR = textwrap.dedent("""
    from pipelines.cli import LazyGroup
    LazyGroup(name="collect", targets={"demo": ("collectors.terminal:collect_command", "demo")}).main(
        ["demo", "--help"], prog_name="collect")
""")


@pytest.mark.parametrize("refused, expected", [
    ("docker", "needs the module 'docker', which is not installed: worldline was installed without the collectors' "
               f"dependencies; install them with {INSTALL}"),
    ("xxhash", "needs the module 'xxhash', which is not installed: install the distribution that provides it"),
])
def test_a_collector_that_fails_to_load_names_the_module(refused, expected):
    result = worldline(refused=(refused,), code=LOAD_A_COLLECTOR)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == f"Error: collect demo {expected}"


def test_a_missing_module_of_worldline_itself_is_not_blamed_on_the_extra():
    result = worldline(refused=("sandboxes",), code=LOAD_A_COLLECTOR)
    assert result.returncode == 2
    assert result.stderr.strip() == ("Error: 'demo' could not be loaded from collectors.terminal:collect_command: No "
                                     "module named 'sandboxes'. Is worldline installed with all its dependencies "
                                     "(make setup)?")
