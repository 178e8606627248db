"""Where raw episodes live inside a collection folder; the writer (collectors) and readers (transforms) share it.

    OUT/transitions/{domain}/{episode_id}.parquet   all transitions of one episode, written atomically
    OUT/episodes/{domain}/{episode_id}.json         episode metadata, written last: its presence marks completion

Users may also drop JSONL files of raw transition rows (one JSON object per line) under OUT/transitions/.
"""

from pathlib import Path

TRANSITIONS_DIR = "transitions"
EPISODES_DIR = "episodes"
TRANSITION_GLOBS = ("*.parquet", "*.jsonl")

# What `worldline curate` writes instead (pipelines/curate.py): one folder per table, and a work folder while it runs.
CURATED_VIEWS = ("transitions", "stage1", "stage2", "stage3", "dedupe", "dead_letter")
WORK_DIR = ".work"


def transitions_path(root: Path, domain: str, episode_id: str) -> Path:
    return Path(root) / TRANSITIONS_DIR / domain / f"{episode_id}.parquet"


def episode_path(root: Path, domain: str, episode_id: str) -> Path:
    return Path(root) / EPISODES_DIR / domain / f"{episode_id}.json"


def transition_files(root: Path) -> list[Path]:
    base = Path(root) / TRANSITIONS_DIR
    return sorted(p for pattern in TRANSITION_GLOBS for p in base.rglob(pattern) if not p.name.startswith("."))


def has_visible(folder: Path, pattern: str) -> bool:
    """Whether the folder holds a match of pattern not hidden by a leading dot (work files, temp files)."""
    return any(p for p in folder.glob(pattern) if not p.name.startswith("."))


def raw_layout(folder: str | Path) -> bool:
    """Whether the folder is laid out as a raw collection: episodes/, or transitions/ holding folders per domain or
    JSONL drops. A curate output has neither: its transitions/ holds shards only."""
    root = Path(folder)
    transitions = root / TRANSITIONS_DIR
    return ((root / EPISODES_DIR).is_dir() or has_visible(transitions, "*.jsonl")
            or any(p.is_dir() for p in transitions.glob("*") if not p.name.startswith(".")))


def is_curation_output(folder: str | Path) -> bool:
    """Whether `worldline curate` wrote (or was writing) into the folder: a curated folder other than transitions/
    (raw collections have a transitions/ folder too), its work folder, or shards directly in transitions/ (the
    first folder a run publishes) in a folder not laid out as a raw collection."""
    root = Path(folder)
    return (any((root / name).is_dir() for name in CURATED_VIEWS if name != TRANSITIONS_DIR)
            or (root / WORK_DIR).is_dir()
            or (has_visible(root / TRANSITIONS_DIR, "*.parquet") and not raw_layout(root)))
