"""The installed `worldline` without the collect extra (what `pip install worldline` gives, as on a Dataflow worker):
`worldline collect --help` lists every collector, `worldline collect NAME --help` shows the collector's help and says
the extra is needed, and running one stops with one line naming the extra. Run in a real venv: worldline installed
by pip from a wheel of this checkout, beside exactly the distributions its core requirements bring (linked from the
venv running the tests), so the extra's modules are absent to the import system and to importlib.metadata alike."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from collectors.registry import COLLECT_ONLY_MODULES, INSTALL_COLLECT

REPO = Path(__file__).resolve().parents[2]
BUILT_IN = ("android", "mcp", "os", "swe", "terminal", "web")


def _copy_checkout(src: Path) -> None:
    # What the checkout holds (tracked and untracked, not ignored), as tests/pipelines/test_packaging.py builds: an
    # in-place build would rewrite worldline.egg-info under other tests.
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)


def _core_closure(wheel: Path) -> set[str]:
    """The distributions `pip install wheel` (no extra) brings: its unconditional requirements, followed through
    the requirements of what this venv has installed."""
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        requires = Parser().parsestr(archive.read(metadata).decode()).get_all("Requires-Dist")
    wanted, seen = [(Requirement(line), ()) for line in requires], set()
    while wanted:
        requirement, extras = wanted.pop()
        if requirement.marker is not None and \
                not any(requirement.marker.evaluate({"extra": extra}) for extra in (*extras, "")):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        wanted += [(Requirement(line), tuple(requirement.extras)) for line in distribution(name).requires or ()]
    return seen


def _link_distribution(name: str, site: Path) -> None:
    # Each top-level entry the distribution installed (its packages, modules, .pth files and dist-info), linked.
    dist = distribution(name)
    here = Path(dist.locate_file(""))
    # __pycache__ of single-module distributions is left out: this venv's bytecode is not written into the test's.
    for top in {Path(file).parts[0] for file in dist.files or () if not str(file).startswith("..")} - {"__pycache__"}:
        if not (site / top).exists() and (here / top).exists():
            (site / top).symlink_to(here / top)


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("core-venv")
    src, dist = root / "src", root / "dist"
    _copy_checkout(src)
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(dist),
                            str(src)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]
    [wheel] = dist.glob("*.whl")
    venv = root / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)],
                   check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    core = _core_closure(wheel)
    for name in core:
        _link_distribution(name, site)
    # pip installs worldline as a user's `pip install worldline-*.whl` does: the console script and its metadata.
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                                "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, (installed.stdout + installed.stderr)[-3000:]
    return venv, core, dist


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the linked packages are the test venv's own folders
    return subprocess.run([venv / "bin" / args[0], *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_venv_lacks_the_extra_and_runs_the_installed_worldline(core_venv, tmp_path):
    venv, core, _ = core_venv
    assert not core & {"docker", "playwright", "flask", "mcp", "jsonschema", "adbutils", "pyseccomp"}, core
    assert {"apache-beam", "click", "typer", "pyarrow"} <= core
    found = run(venv, "python", "-c", "import importlib.util, sys, pipelines.cli; "
                f"print([m for m in {COLLECT_ONLY_MODULES!r} if importlib.util.find_spec(m)]); "
                "print(pipelines.cli.__file__)", cwd=tmp_path)
    assert found.returncode == 0, found.stderr[-2000:]
    missing, module = found.stdout.splitlines()
    assert missing == "[]"
    assert Path(module).is_relative_to(venv) and not Path(module).resolve().is_relative_to(REPO), module


def test_collect_help_lists_every_collector_without_the_extra(core_venv, tmp_path):
    venv = core_venv[0]
    listed = run(venv, "worldline", "collect", "--help", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    commands = listed.stdout.split("Commands:")[1]
    assert re.findall(r"^  (\S+)", commands, flags=re.MULTILINE) == list(BUILT_IN), listed.stdout


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_collectors_help_works_without_the_extra_and_says_it_is_needed(core_venv, tmp_path, name):
    # terminal, swe and mcp import the extra's modules as they load (Docker's SDK, jsonschema): they show the
    # registry's summary; the others their own options.
    shown = run(core_venv[0], "worldline", "collect", name, "--help", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr[-2000:]
    text = " ".join(shown.stdout.split())
    assert text.startswith(f"Usage: worldline collect {name} [OPTIONS]"), text[:300]
    assert (f"Not runnable here: worldline collect {name} needs the collectors' dependencies, which are not "
            f"installed (no module 'docker', 'playwright', ") in text, text[:600]
    assert f"{INSTALL_COLLECT}." in text
    assert ("--out" in text) != ("Its options are listed once the collectors' dependencies are installed." in text)
    assert ("--out" in text) == ("--strict" in text)  # every collector's flag, as where the extra is installed
    assert "--needs-collect-extra" not in text


@pytest.mark.parametrize("name, args", [
    ("web", ["--explore", "shop"]),  # loads without the extra: refused before --out's check and before any work
    ("terminal", ["--tasks", "tasks.yaml"]),  # does not load without the extra: the stand-in takes any arguments
    ("terminal", []),
])
def test_running_a_collector_without_the_extra_stops_with_one_line(core_venv, tmp_path, name, args):
    out = tmp_path / "raw"
    ran = run(core_venv[0], "worldline", "collect", name, *args, *(["--out", str(out)] if args else []),
              cwd=tmp_path)
    assert ran.returncode == 2, (ran.stdout + ran.stderr)[-2000:]
    [line] = ran.stderr.splitlines()
    assert line.startswith(f"Error: worldline collect {name} needs the collectors' dependencies, which are not "
                           "installed (no module 'docker', 'playwright', "), line
    assert line.endswith(INSTALL_COLLECT) and ran.stdout == ""
    assert not out.exists()


def test_the_sqlite_example_plugin_needs_no_extra(core_venv, tmp_path):
    """tests/plugin_example declares `dependencies = ["worldline"]`: what it ships collects where the extra is not
    installed."""
    venv, _, dist = core_venv
    source = tmp_path / "plugin"
    shutil.copytree(REPO / "tests" / "plugin_example", source,
                    ignore=shutil.ignore_patterns("test_*", "__pycache__", "*.egg-info", "build"))
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(wheels), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = wheels.glob("*.whl")
    # With its declared dependencies, resolved against worldline's wheel only: nothing else may be asked for.
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                                "--quiet", "--no-index", "--find-links", str(dist), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    try:
        out = tmp_path / "out"
        ran = run(venv, "worldline", "collect", "sqlite-demo", "--tasks", str(source / "tasks.yaml"), "--out",
                  str(out), cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr[-2000:]
        assert len(list((out / "transitions" / "sqlite").glob("*.parquet"))) == 1
    finally:
        removed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                                  "uninstall", "--quiet", "--yes", "worldline-sqlite-demo"],
                                 capture_output=True, text=True, timeout=300)
        assert removed.returncode == 0, removed.stderr[-2000:]
