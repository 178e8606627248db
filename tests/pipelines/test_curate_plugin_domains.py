"""What `worldline curate` says of the domains collector plugins describe: which plugin (distribution and version)
described each (stats.json and the card, since a plugin takes a new version when its text changes), and, on the
console, which domains got the generic prompt because no installed plugin describes them (an entry point named
after the collector's command, not its domain). And a second --input is refused rather than silently winning."""

import json
import os
import subprocess
import sys
from pathlib import Path

from collectors.store import EpisodeStore
from pipelines.commands.curate import one_input
from pipelines.curate import undescribed_domains
from tests.pipelines.curation_raw_collection import _episode
from tests.plugin_sites import install

REPO = Path(__file__).resolve().parents[2]
ROBOT = "from transforms.prompts import Domain\nDOMAIN = Domain(environment='You simulate a robot arm.')\n"
ECHO = "from transforms.prompts import Domain\nDOMAIN = Domain(environment='You simulate an echo server.')\n"


def curate(*args: str, site: Path | None = None) -> subprocess.CompletedProcess:
    path = [str(site)] if site else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [*path, os.environ.get("PYTHONPATH", "")]))}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)


def test_a_second_input_is_refused_with_how_to_curate_both(raw_collection, tmp_path):
    other = tmp_path / "other"
    _episode(EpisodeStore(other), "terminal", "term-z", [("ls", "a b")])
    result = curate("--input", str(raw_collection[0]), "--input", str(other), "--output", str(tmp_path / "two"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: --input given 2 times ({raw_collection[0]}, {other}): curate reads one raw "
                               "collection. Curate each into an --output of its own, or first copy the other's "
                               f"episode files into one, as `cp -r {other}/transitions/. "
                               f"{raw_collection[0]}/transitions/ && cp -r {other}/episodes/. "), lines[0]
    assert not (tmp_path / "two").exists()
    # The same folder twice names one collection.
    assert one_input([str(other), str(other)]) == str(other) and one_input(None) is None


def test_the_plugin_of_each_domain_is_recorded_and_an_undescribed_domain_is_named(tmp_path):
    raw = tmp_path / "raw"
    store = EpisodeStore(raw)
    for domain in ("terminal", "robot-arm", "echo"):
        _episode(store, domain, f"{domain}-a", [("go", f"{domain} moved"), ("stop", f"{domain} stopped")])
    site = tmp_path / "site"
    install(site, "worldline-robot", {"robot-arm": "robot_domain:DOMAIN"}, {"robot_domain": ROBOT}, "2.3.1")
    # The mistake docs/adding-a-collector.md item 5 warns of: the entry point named after the command.
    install(site, "uxcmd", {"echo-demo": "echo_domain:DOMAIN"}, {"echo_domain": ECHO})
    out = tmp_path / "shards"
    result = curate("--input", str(raw), "--output", str(out), site=site)
    assert result.returncode == 0, result.stderr[-3000:]
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note: ")]
    assert notes == ["Note: domain 'echo' got the generic system prompt and rubric worldline/generic/v1, as no "
                     "installed plugin describes it (installed entry points that match no domain of the input: "
                     "'echo-demo' of uxcmd 1.0): a collector plugin describes its domain with a `worldline.domains` "
                     "entry point named after the collector's domain, not its command (docs/adding-a-collector.md, "
                     "item 5)."], result.stderr
    settings = json.loads((out / "stats.json").read_text())["settings"]
    assert settings["domain_plugins"] == {"robot-arm": "worldline-robot 2.3.1"}
    card = " ".join((out / "README.md").read_text().split())
    assert ("System prompts of domains worldline does not ship: robot-arm (from worldline-robot 2.3.1): the "
            "description its collector plugin gives (`worldline.domains`), the plugin's distribution and version "
            "being recorded in stats.json `settings.domain_plugins`; echo: the generic prompt") in card


def test_shipped_domains_get_no_note_and_no_plugin_is_named_when_none_is_installed():
    counts = {"in": 1, "out": 1, "dead_lettered": 0, "deduped_exact": 0, "deduped_near": 0}
    assert undescribed_domains({"domains": {"terminal": counts, "web": counts}}) is None
    note = undescribed_domains({"domains": {"terminal": counts, "echo": counts, "pyrepl": counts}})
    assert note.startswith("Note: domains 'echo', 'pyrepl' got the generic system prompt and rubric "
                           "worldline/generic/v1, as no installed plugin describes them (no plugin is installed): ")
