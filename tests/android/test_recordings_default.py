"""Where the replay device finds the recorded screens by default: beside a checkout, the build machines' shared/;
installed, nowhere (the packages' folder is site-packages, whose parent is a Python's lib/), so it stops naming
WORLDLINE_ANDROID_RECORDINGS rather than reading a folder that happens to be there. Run for real: worldline's
packages copied into a site-packages folder of their own, imported from there."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sandboxes.adb_replay.recording import RECORDINGS_ENV, SHARED_RECORDINGS, default_recordings_dir

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("from sandboxes.adb_replay import RecordingError, default_recordings_dir\n"
         "try:\n    print(default_recordings_dir())\nexcept RecordingError as e:\n    print('Error:', e)")


def recordings(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "actions.json").write_text(json.dumps({"tasks": []}))
    return folder


def installed_probe(tmp_path: Path, **env) -> str:
    """default_recordings_dir() as an installed worldline answers it."""
    site = tmp_path / "lib" / "python3" / "site-packages"
    for name in ("schemas", "sandboxes"):
        shutil.copytree(ROOT / name, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    base = {k: v for k, v in os.environ.items() if k not in (RECORDINGS_ENV, "WORLDLINE_HOME")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**base, "PYTHONPATH": str(site), **env})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_installed_there_is_no_default_even_with_a_folder_where_the_checkout_would_have_it(tmp_path):
    # Where `parents[2].parent / shared` lands once installed: the Python's lib/ folder, no place for data.
    recordings(tmp_path.joinpath("lib", "python3", *SHARED_RECORDINGS))
    said = installed_probe(tmp_path)
    assert said.startswith("Error: recorded Android screens not found: worldline is installed"), said
    assert RECORDINGS_ENV in said and "Untergang1__AppAgent" in said, said


def test_installed_the_variable_names_the_folder(tmp_path):
    folder = recordings(tmp_path / "elsewhere" / "appagent")
    assert installed_probe(tmp_path, **{RECORDINGS_ENV: str(folder)}) == str(folder)


def test_a_checkout_reads_the_shared_folder_beside_it_and_the_variable_wins(tmp_path):
    checkout = tmp_path / "clone"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text('[project]\nname = "worldline"\n')
    beside = recordings(tmp_path.joinpath(*SHARED_RECORDINGS))
    assert default_recordings_dir({}, root=checkout) == beside
    other = recordings(tmp_path / "other")
    assert default_recordings_dir({RECORDINGS_ENV: str(other)}, root=checkout) == other
    assert default_recordings_dir({RECORDINGS_ENV: " "}, root=checkout) == beside  # blank: unset
