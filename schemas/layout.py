"""Where raw episodes live inside a collection folder; the writer (collectors) and readers (transforms) share it.

    OUT/transitions/{domain}/{episode_id}.parquet   all transitions of one episode, written atomically
    OUT/episodes/{domain}/{episode_id}.json         episode metadata, written last: its presence marks completion

Users may also drop JSONL files of raw transition rows (one JSON object per line) under OUT/transitions/.
"""

from pathlib import Path

TRANSITIONS_DIR = "transitions"
EPISODES_DIR = "episodes"
TRANSITION_GLOBS = ("*.parquet", "*.jsonl")


def transitions_path(root: Path, domain: str, episode_id: str) -> Path:
    return Path(root) / TRANSITIONS_DIR / domain / f"{episode_id}.parquet"


def episode_path(root: Path, domain: str, episode_id: str) -> Path:
    return Path(root) / EPISODES_DIR / domain / f"{episode_id}.json"


def transition_files(root: Path) -> list[Path]:
    base = Path(root) / TRANSITIONS_DIR
    return sorted(p for pattern in TRANSITION_GLOBS for p in base.rglob(pattern) if not p.name.startswith("."))
