"""Collector plugins as pip leaves them, on a folder only a test's subprocess puts on PYTHONPATH: nothing is
installed into the test's own environment, which other tests share."""

from __future__ import annotations

from pathlib import Path


def install(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str] | None = None,
            version: str = "1.0") -> None:
    """A distribution `dist` with the given `worldline.domains` entry points and modules (name -> source): its
    dist-info with METADATA and entry_points.txt, as importlib.metadata finds one."""
    site.mkdir(exist_ok=True)
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(
        "[worldline.domains]\n" + "".join(f"{name} = {value}\n" for name, value in entry_points.items()))
    (info / "RECORD").write_text("")
