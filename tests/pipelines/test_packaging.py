"""What an installed worldline holds: the sdist Beam stages for Dataflow (`--setup_file=pyproject.toml`, built with
`python -m build --no-isolation`) and the wheel pip builds from it on a worker, or for a user. A file the code reads
at run time but the build leaves out works from the checkout and fails only once installed (the collectors' default
task files, the desktop guest's start script), so the lists checked here come from the tree and the code itself."""

import ast
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

REPO = Path(__file__).resolve().parents[2]
# Compiled from (the sdist holds them) or compiled to (the wheel) by the build, or left behind by Python.
NOT_SHIPPED_AS_IS = {".c", ".so", ".pyc"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(source copy, sdist names, wheel names). Built from a copy of what the checkout holds (tracked and untracked,
    not ignored) rather than in place: an in-place build rewrites worldline.egg-info, which the Dataflow translation
    test's build may be reading at the same time, and a stale one there would add its own file list."""
    root = tmp_path_factory.mktemp("packaging")
    src = root / "src"
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():  # a tracked file deleted in the work tree is not there to ship
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    dist = root / "dist"
    # As Beam's stager runs it, without --sdist: build then makes the wheel from the sdist, as pip does on a worker.
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    with tarfile.open(sdist) as archive:
        sdist_names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = set(archive.namelist())
    return src, sdist_names, wheel_names


def _pyproject(src: Path) -> dict:
    return tomllib.loads((src / "pyproject.toml").read_text())


def _package_folders(src: Path) -> dict[str, Path]:
    """Each package pyproject.toml lists, with the folder it is built from (package-dir maps a name onto another
    folder: worldline_tasks is tasks/)."""
    config = _pyproject(src)["tool"]["setuptools"]
    mapped = config.get("package-dir", {})
    folders = {}
    for name in config["packages"]:
        top, _, rest = name.partition(".")
        folders[name] = (src / mapped[top] if top in mapped else src / top) / rest.replace(".", "/")
    return folders


def _package_dirs(src: Path) -> list[Path]:
    return list(_package_folders(src).values())


def _wheel_name(name: str, src: Path) -> str:
    """Where the file `name` (a path in the source tree) lands in the wheel: under its package's name, which is its
    folder's path but for a mapped package (tasks/terminal.yaml is worldline_tasks/terminal.yaml)."""
    package = {folder: package for package, folder in _package_folders(src).items()}.get((src / name).parent)
    return name if package is None else "/".join([*package.split("."), Path(name).name])


def _shippable(path: Path, src: Path) -> bool:
    parts = path.relative_to(src).parts
    return (path.suffix not in NOT_SHIPPED_AS_IS and "__pycache__" not in parts
            and not any(part.startswith(".") for part in parts))


def _files(path: Path, src: Path) -> set[str]:
    found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return {p.relative_to(src).as_posix() for p in found if _shippable(p, src)}


# Only these expressions are evaluated: path arithmetic that reads nothing and writes nothing.
PATH_ATTRIBUTES = {"parent", "parents", "resolve", "absolute", "with_name", "with_suffix", "joinpath"}


def _pure_path_expression(node: ast.expr) -> bool:
    for part in ast.walk(node):
        if isinstance(part, ast.Attribute) and part.attr not in PATH_ATTRIBUTES:
            return False
        if isinstance(part, ast.Call) and not (isinstance(part.func, ast.Attribute)
                                               or (isinstance(part.func, ast.Name) and part.func.id == "Path")):
            return False
        if isinstance(part, ast.BinOp) and not isinstance(part.op, ast.Div):
            return False
        if not isinstance(part, (ast.Attribute, ast.Call, ast.BinOp, ast.Div, ast.Name, ast.Load, ast.Subscript,
                                 ast.Constant)):
            return False
    return True


def _evaluate(node: ast.expr, names: dict, source: Path):
    if not _pure_path_expression(node):
        return None
    try:
        return eval(compile(ast.Expression(node), str(source), "eval"), {"__builtins__": {}}, dict(names))
    except Exception:  # a name bound elsewhere (an argument, another module's constant): not a path from here
        return None


def _paths_from_own_location(source: Path) -> set[Path]:
    """Every path `source` computes from its own location: `Path(__file__)...` and module constants built on it
    (PROJECT_ROOT / "tasks" / "mcp_servers.yaml"), wherever they appear, in a function body too."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names = {"Path": Path, "__file__": str(source)}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and [type(t) for t in statement.targets] == [ast.Name]:
            value = _evaluate(statement.value, names, source)
            if isinstance(value, Path):
                names[statement.targets[0].id] = value
    located = set(names) - {"Path"}
    paths = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.expr) and any(isinstance(n, ast.Name) and n.id in located for n in ast.walk(node)):
            value = _evaluate(node, names, source)
            if isinstance(value, Path):
                paths.add(value.resolve())
    return paths


def test_the_wheel_holds_every_file_of_every_package(built):
    """Package data is listed by pattern (pyproject.toml); a file of a new kind in a package folder must ship too."""
    src, _, wheel = built
    held = {_wheel_name(name, src) for folder in _package_dirs(src) for path in folder.iterdir() if path.is_file()
            for name in _files(path, src)}
    assert held, "no package files found: the package discovery above is wrong"
    missing = sorted(held - wheel)
    assert not missing, f"in the package folders but not in the wheel (add their pattern to package-data): {missing}"


def test_every_path_the_code_takes_from_its_own_location_is_installed(built):
    """A default task file read as collectors/../tasks/terminal.yaml is there only if the build ships it."""
    src, _, wheel = built
    read = []
    for package in _package_dirs(src):
        for source in package.glob("*.py"):
            for path in _paths_from_own_location(source):
                # The checkout root itself is no file to ship; a path outside it or not in the checkout (.venv-mcp,
                # made by setup scripts) is the machine's, not the package's.
                if path != src and path.is_relative_to(src) and path.exists():
                    read.append((path, source.relative_to(src).as_posix()))
    wanted: dict[str, str] = {}
    for path, reader in sorted(read, key=lambda pair: -len(pair[0].parts)):  # name the module closest to the file
        for name in _files(path, src):
            wanted.setdefault(_wheel_name(name, src), reader)
    assert any(name.startswith("sandboxes/desktop/guest/") for name in wanted), \
        "the scan missed the desktop guest's files (sandboxes/desktop/image.py): it is broken"
    missing = {name: reader for name, reader in sorted(wanted.items()) if name not in wheel}
    assert not missing, f"read by the code but not installed (file: the module whose path leads to it): {missing}"


def test_every_c_extension_is_in_the_sdist_as_source_and_in_the_wheel_built(built):
    src, sdist, wheel = built
    extensions = _pyproject(src)["tool"]["setuptools"]["ext-modules"]
    assert extensions
    for extension in extensions:
        assert set(extension["sources"]) <= sdist, extension
        stem = extension["name"].replace(".", "/")
        assert any(stem + suffix in wheel for suffix in importlib.machinery.EXTENSION_SUFFIXES), extension["name"]


def test_every_folder_of_the_code_packages_is_listed(built):
    """pyproject.toml lists the packages (to install tasks/ as worldline_tasks): a new folder of templates or pages
    left off that list would be missing from the wheel without a word."""
    src, _, _ = built
    folders = _package_folders(src)
    mapped = _pyproject(src)["tool"]["setuptools"].get("package-dir", {})
    code = sorted({name.split(".")[0] for name in folders} - set(mapped))
    found = find_namespace_packages(where=str(src), include=[pattern for top in code for pattern in (top, top + ".*")])
    assert "sandboxes.sites.static" in found, "namespace folders are not found: the check below proves nothing"
    unlisted = sorted(set(found) - set(folders))
    assert not unlisted, f"folders of worldline's packages missing from [tool.setuptools] packages: {unlisted}"


def test_the_wheel_puts_nothing_generic_at_the_top_of_site_packages(built):
    """A top-level `tasks` folder in site-packages could be another distribution's: the task files install as
    worldline_tasks, every one of them."""
    src, _, wheel = built
    tops = {name.split("/")[0] for name in wheel if not name.split("/")[0].endswith(".dist-info")}
    assert "tasks" not in tops
    assert tops == {name.split(".")[0] for name in _package_folders(src)}, tops
    shipped = {path.name for path in (src / "tasks").iterdir() if path.is_file()}
    assert shipped, "the checkout's tasks/ folder is empty"
    assert {f"worldline_tasks/{name}" for name in shipped} <= wheel


# Each default the code reads from the shipped task files, as the installed copy of its module names it, and how
# many entries its own loader reads from it.
INSTALLED_DEFAULTS = """
import json
from collectors import mcp, os_desktop, swe, terminal
from collectors.tasks import load_tasks
from sandboxes import mcp_server_spec
from sandboxes.swe_repos import load_repo_specs
files = {terminal.DEFAULT_TASKS: load_tasks, mcp.DEFAULT_TASKS_FILE: load_tasks, os_desktop.DEFAULT_TASKS: load_tasks,
         mcp.DEFAULT_SERVERS_FILE: mcp_server_spec.load_servers, swe.shipped_repos_file(): load_repo_specs}
files[mcp_server_spec.SHIPPED_SERVERS_FILE] = mcp_server_spec.load_servers
print(json.dumps({"modules": [m.__file__ for m in (mcp, os_desktop, swe, terminal, mcp_server_spec)],
                  "files": {str(path): len(load(path)) for path, load in files.items()}}))
"""


def test_the_installed_collectors_find_their_task_files(built, tmp_path):
    """Installed from the wheel (by pip, into a folder laid out as site-packages), the collectors' defaults are the
    installed worldline_tasks files, and no `tasks` folder is installed."""
    src, _, _ = built
    [wheel] = (src.parent / "dist").glob("*.whl")  # where the fixture built it
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                             "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert not (site / "tasks").exists(), sorted(path.name for path in site.iterdir())
    # Run outside the checkout so that neither the working directory nor the checkout's pyproject.toml is seen; the
    # installed copy comes first on the path, before the editable install of the venv running the tests.
    result = subprocess.run([sys.executable, "-c", INSTALLED_DEFAULTS], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(site)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.splitlines()[-1])
    assert all(Path(module).is_relative_to(site) for module in found["modules"]), found["modules"]
    assert len(found["files"]) == 5, found["files"]  # mcp_server_spec's servers file is collectors.mcp's default
    for name, entries in found["files"].items():
        assert Path(name).parent == (site / "worldline_tasks").resolve() and entries, (name, entries)


def test_the_wheel_requires_the_collectors_dependencies_only_with_the_collect_extra(built):
    """What a Dataflow worker installs: the wheel built from the staged sdist, with its core requirements. The
    collect extra's distributions (Playwright, the MCP SDK, Docker's SDK...) are not among them."""
    from email.parser import Parser

    from packaging.requirements import Requirement

    from collectors.registry import COLLECT_MODULES

    src = built[0]
    [wheel] = (src.parent / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        requirements = [Requirement(line) for line in Parser().parsestr(archive.read(metadata).decode())
                        .get_all("Requires-Dist")]
    core = {r.name.lower() for r in requirements if r.marker is None}
    collect = {r.name.lower(): str(r.specifier) for r in requirements
               if r.marker is not None and r.marker.evaluate({"extra": "collect"})}
    assert not core & set(COLLECT_MODULES), core & set(COLLECT_MODULES)
    assert set(collect) == set(COLLECT_MODULES)
    assert all(specifier.startswith("==") for specifier in collect.values()), collect  # the pins stayed
    assert {"apache-beam", "pyarrow", "pyte", "rensa", "openai", "click"} <= core
