"""Android over adb: collector (collector.py), actions (actions.py), exploration policy (explore.py) and the
`worldline collect android` command (command.py). The replay device used by tests lives in sandboxes.adb_replay."""

from collectors.android.command import collect_command

__all__ = ["collect_command"]
