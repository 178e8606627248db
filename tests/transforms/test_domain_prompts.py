"""A plugin describes its domain to curation through a `worldline.domains` entry point (transforms.prompts.Domain):
its prompt, its rubric id and its characters per token; a plugin cannot replace a shipped domain's prompt, and an
entry point that cannot be used is refused with one message naming it and what to fix.

Each case installs distributions into a folder of its own and reads them in a fresh Python process with that folder
on PYTHONPATH, as tests/plugin_example does: the plugins are read once per process, and a process is what a Beam
worker is. A distribution is installed as pip installs a wheel: its modules, and a dist-info folder whose METADATA
and entry_points.txt importlib.metadata reads (the plugin example covers pip's build of a real project)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin_sites import install
from transforms.prompts import DOMAINS, Domain, system_prompt

DESCRIPTION = "You simulate a robot arm on a table. Each action is a JSON joint command."


def run(site: Path, code: str, *sites: Path) -> subprocess.CompletedProcess:
    path = [str(folder) for folder in (site, *sites)] + [os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def plugin_error(site: Path, *sites: Path) -> str:
    """The DomainPluginError the installed plugins give, as a curation starting would meet it."""
    done = run(site, "from transforms.prompts import DomainPluginError, plugin_domains\n"
                     "try:\n    plugin_domains()\nexcept DomainPluginError as exc:\n    print(exc)\n"
                     "else:\n    print('no error')", *sites)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


ROBOT = f"from transforms.prompts import Domain\nDOMAIN = Domain(environment={DESCRIPTION!r}, chars_per_token=2.5)\n"


def test_a_registered_domain_gets_its_prompt_rubric_and_token_figure(tmp_path):
    site = tmp_path / "site"
    install(site, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN"}, {"robot_domain": ROBOT})
    done = run(site, """
import json
from transforms.card import _tokens
from transforms.prompts import system_prompt
from transforms.rewards import RUBRICS, score
from transforms.stages import build_stage_rows, rubric_id
row = {"id": "e:0", "domain": "robot-arm", "episode_id": "e", "step": 0, "instruction": "grasp",
       "state_text": "arm at rest", "action_text": '{"joint": 1}', "next_text": "arm moved"}
stage1, stage2, stage3 = build_stage_rows([], row, "the arm moves")
reward = score("arm moved", "arm moved", [{"start": 0, "end": 9}], [], stage3["rubric_id"]).reward
print(json.dumps({"prompt": system_prompt("robot-arm"), "stage2": stage2["messages"][0]["content"],
                  "stage3": stage3["prompt"][0]["content"], "rubric": rubric_id("robot-arm"),
                  "stage3_rubric": stage3["rubric_id"], "reward": reward, "known": "worldline/robot-arm/v1" in RUBRICS,
                  "tokens": _tokens("robot-arm", 1000), "other": system_prompt("other-arm")}))
""")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert DESCRIPTION in found["prompt"] and "(domain: robot-arm)" in found["prompt"]
    assert found["prompt"] != system_prompt("robot-arm")  # this process has no plugin: the generic prompt
    assert found["stage2"] == found["stage3"] == found["prompt"]
    assert found["rubric"] == found["stage3_rubric"] == "worldline/robot-arm/v1" and found["known"]
    assert found["reward"] == 1.0
    assert found["tokens"] == 400  # 1000 characters at the plugin's 2.5 a token
    assert found["other"] == system_prompt("other-arm")  # a domain no plugin describes stays generic


def test_the_prompt_does_not_depend_on_where_the_plugins_are_installed(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    install(first, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN"}, {"robot_domain": ROBOT})
    install(second, "worldline-crane", {"crane": "crane_domain:DOMAIN"},
            {"crane_domain": "from transforms.prompts import Domain\nDOMAIN = Domain('You simulate a crane.')\n"})
    code = ("import json; from transforms.prompts import plugin_domains, system_prompt\n"
            "print(json.dumps([list(plugin_domains()), system_prompt('crane'), system_prompt('robot-arm')]))")
    one, other = run(first, code, second), run(second, code, first)
    assert one.returncode == other.returncode == 0, one.stderr + other.stderr
    assert one.stdout == other.stdout and json.loads(one.stdout)[0] == ["crane", "robot-arm"]


def test_a_plugin_cannot_replace_a_shipped_prompt(tmp_path):
    site = tmp_path / "site"
    # The module does not exist: the refusal comes from the name alone, before anything of the plugin is imported.
    install(site, "worldline-my-terminal", {"terminal": "my_terminal:DOMAIN"})
    assert plugin_error(site) == (
        "entry point 'terminal = my_terminal:DOMAIN' (worldline.domains, distribution worldline-my-terminal 1.0) "
        "would replace the system prompt worldline ships for the 'terminal' domain, which a plugin cannot do: give "
        "your collector a domain of its own and register that, or uninstall the distribution")
    # Shipped domains' rows do not read the plugins, and keep their prompts.
    done = run(site, "from transforms.prompts import system_prompt; from transforms.stages import rubric_id\n"
                     "print(system_prompt('terminal') + rubric_id('terminal'))")
    assert done.returncode == 0 and done.stdout.strip() == system_prompt("terminal") + "worldline/terminal/v1"


@pytest.mark.parametrize("name, wanted", [
    ("generic", "'generic' names the rubric of undescribed domains and cannot be registered"),
    ("Robot", "'Robot' is not a domain name (lowercase letters, digits, - or _, at most 32): name the entry point "
              "after the `domain` attribute of your collector"),
])
def test_a_name_that_cannot_be_a_domain_is_refused(tmp_path, name, wanted):
    site = tmp_path / "site"
    install(site, "worldline-robot", {name: "robot_domain:DOMAIN"}, {"robot_domain": ROBOT})
    message = plugin_error(site)
    assert message.startswith(f"entry point '{name} = robot_domain:DOMAIN' (worldline.domains, distribution "
                              "worldline-robot 1.0)") and wanted in message


@pytest.mark.parametrize("module, wanted", [
    (None, "could not be loaded: ModuleNotFoundError: No module named 'robot_domain'. Its value must name a module "
           "and attribute of the installed package (module:attribute) that holds a transforms.prompts.Domain"),
    ("DOMAINS = None\n", "could not be loaded: AttributeError: module 'robot_domain' has no attribute 'DOMAIN'"),
    (f"DOMAIN = {DESCRIPTION!r}\n", "is a str, not a transforms.prompts.Domain: point it at "
                                    "Domain(environment=\"...\") in your package"),
    ("from transforms.prompts import Domain\nDOMAIN = Domain(environment='  ')\n",
     "could not be loaded: ValueError: Domain(environment=...) must describe the environment as non-empty text, "
     "got '  '"),
    (f"from transforms.prompts import Domain\nDOMAIN = Domain({DESCRIPTION!r}, chars_per_token=0)\n",
     "could not be loaded: ValueError: Domain(chars_per_token=...) must be a positive number of characters per "
     "token, or None, got 0"),
    ("import robot_sdk\n", "could not be loaded: ModuleNotFoundError: No module named 'robot_sdk'. The plugin needs "
                           "it: install the plugin's dependencies where curation runs"),
])
def test_a_broken_entry_point_is_named_with_what_to_fix(tmp_path, module, wanted):
    site = tmp_path / "site"
    install(site, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN"},
            {"robot_domain": module} if module is not None else {})
    message = plugin_error(site)
    assert message.startswith("entry point 'robot-arm = robot_domain:DOMAIN' (worldline.domains, distribution "
                              "worldline-robot 1.0) ") and wanted in message
    assert "\n" not in message  # one line, as curation shows it


def test_two_plugins_for_one_domain_are_refused_naming_both(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    install(first, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN"}, {"robot_domain": ROBOT})
    install(second, "worldline-arm", {"robot-arm": "arm_domain:DOMAIN"},
            {"arm_domain": ROBOT.replace("a robot arm", "an arm")})
    message = plugin_error(first, second)
    assert message == plugin_error(second, first)
    assert message == (
        "entry point 'robot-arm = robot_domain:DOMAIN' (worldline.domains, distribution worldline-robot 1.0) "
        "registers the domain 'robot-arm' that entry point 'robot-arm = arm_domain:DOMAIN' (worldline.domains, "
        "distribution worldline-arm 1.0) registers too: uninstall one of them")


def test_every_broken_entry_point_is_named_at_once(tmp_path):
    site = tmp_path / "site"
    install(site, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN", "web": "robot_domain:DOMAIN",
                                      "crane": "crane_domain:DOMAIN"}, {"robot_domain": ROBOT})
    message = plugin_error(site)
    assert [part.split(" = ")[0] for part in message.split("; ")] == [
        "entry point 'crane", "entry point 'web"]  # sorted by name; robot-arm is fine


def test_importing_curation_reads_no_plugin(tmp_path):
    # The plugins are read when a prompt, rubric or token figure of a domain worldline does not ship is asked for
    # (or when curation starts), not when a module is imported: a broken one does not stop `worldline score` of
    # shipped domains, or an import.
    site = tmp_path / "site"
    install(site, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN"},
            {"robot_domain": "raise RuntimeError('robot_domain was imported')\n"})
    done = run(site, "import transforms.card, transforms.rewards, transforms.stages\n"
                     "from transforms.rewards import score\n"
                     "print(score('ok', 'ok', [{'start': 0, 'end': 2}], [], 'worldline/terminal/v1').reward)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1.0"
    failed = run(site, "from transforms.prompts import system_prompt; system_prompt('robot-arm')")
    assert failed.returncode == 1
    assert ("DomainPluginError: entry point 'robot-arm = robot_domain:DOMAIN' (worldline.domains, distribution "
            "worldline-robot 1.0) could not be loaded: RuntimeError: robot_domain was imported") in failed.stderr


def test_a_domain_checks_its_fields_where_the_plugin_builds_it():
    assert Domain("  You simulate a crane.\n").environment == "You simulate a crane."
    assert Domain("x", chars_per_token=3).chars_per_token == 3
    for environment in ("", " \n", None, b"bytes"):
        with pytest.raises(ValueError, match=r"Domain\(environment=\.\.\.\) must describe the environment"):
            Domain(environment)
    for ratio in (0, -1.5, float("nan"), float("inf"), True, "3.4"):
        with pytest.raises(ValueError, match=r"Domain\(chars_per_token=\.\.\.\) must be a positive number"):
            Domain("x", chars_per_token=ratio)
    with pytest.raises(TypeError):
        Domain(environment="x", chars_per_tokens=3)  # a misspelled field fails in the plugin, not later
    assert "robot" not in DOMAINS


def test_the_documented_example_is_the_plugin_example():
    repo = Path(__file__).resolve().parents[2]
    doc = (repo / "docs" / "adding-a-collector.md").read_text()
    plugin = repo / "tests" / "plugin_example"
    assert (plugin / "sqlite_demo" / "domain.py").read_text() in doc
    pyproject = (plugin / "pyproject.toml").read_text()
    entry = pyproject[pyproject.index("# Named after the collector's domain"):pyproject.index("[tool.setuptools]")]
    assert entry in doc and '[project.entry-points."worldline.domains"]\nsqlite = "sqlite_demo.domain:DOMAIN"' in entry


def test_curate_stops_on_a_broken_plugin_before_any_work(tmp_path):
    site, raw, out = tmp_path / "site", tmp_path / "raw", tmp_path / "out"
    install(site, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN"}, {"robot_domain": "DOMAIN = 'arm'\n"})
    (raw / "transitions" / "terminal").mkdir(parents=True)
    path = [str(site), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                           str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr == ("Error: entry point 'robot-arm = robot_domain:DOMAIN' (worldline.domains, distribution "
                           "worldline-robot 1.0) is a str, not a transforms.prompts.Domain: point it at "
                           "Domain(environment=\"...\") in your package\n")
    assert not out.exists()  # nothing written, not even the output folder
