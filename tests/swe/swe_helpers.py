"""Helpers of the SWE collector tests: a tiny real project, git with a fixed clock."""

import os
import subprocess
import textwrap
from pathlib import Path

from sandboxes.swe_git import COMMIT_ENV

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "worldline-swe-test"

TINY_FILES = {
    "calc.py": '''\
        def clamp(x, lo, hi):
            if x < lo:
                return lo
            if x > hi:
                return hi
            return x


        def mean(values):
            total = 0
            for value in values:
                total += value
            return total / len(values)
        ''',
    "test_calc.py": '''\
        from calc import clamp, mean


        def test_clamp_inside():
            assert clamp(5, 0, 10) == 5


        def test_clamp_edges():
            assert clamp(-1, 0, 10) == 0
            assert clamp(11, 0, 10) == 10
            assert clamp(0, 0, 10) == 0


        def test_mean():
            assert mean([1, 2, 3, 6]) == 3
        ''',
}


def write_tiny_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TINY_FILES.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def git(repo: Path, *args: str) -> str:
    # Fixed identity and dates: the same commits (and so the same cached image) on every run.
    env = {**os.environ, **COMMIT_ENV}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout
