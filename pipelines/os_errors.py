"""One line, not a traceback, for a command stopped by its disk: no space left, a read-only filesystem, or no
permission. The line names the path and the reason and says what to do; the command exits 1 (a run that started and
failed, docs/curation.md). A fault-injection audit found 39-154 line tracebacks for these in collect, pack, curate and
export, the path only on their last line (and often not even there: a write that fills the disk names no file)."""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
from dataclasses import dataclass

import typer

NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
READ_ONLY = {errno.EROFS}
NO_PERMISSION = {errno.EACCES, errno.EPERM}

# The option each command writes into, by parameter name; pack writes inside the collection it is given.
OUTPUT_PARAMS = {"out": "--out", "output": "--output", "collection": None}

# Beam hands a worker's exception on as text inside its own ("RuntimeError: OSError: [Errno 28] No space left on
# device [while running 'Curate/Prepare/...']"), and pyarrow words some of its own ("[errno 30] Read-only file
# system"), so the errno and path are also read from messages.
ERRNO_IN_TEXT = re.compile(r"\[errno (\d+)\] ([^:\[\]\n']+?)(?:: '([^'\n]+)')?(?=[:.\n]|$)", re.IGNORECASE)
PATH_IN_TEXT = re.compile(r"'(/?[^'\n]*/[^'\n]*)'")
ERRNO_CODE = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)
STEP_IN_TEXT = re.compile(r" \[while running '[^'\n]*'\]")  # a step name such as 'Curate/Prepare/...' is no path


@dataclass(frozen=True)
class DiskError:
    """What stopped the command: the errno, its reason in words, and the path when anything named it."""

    code: int
    reason: str
    path: str | None


def _handled(code: int | None, path: str | None) -> bool:
    # A permission error with no path is not the disk's (kill(2) on another user's process raises EPERM too).
    return code in NO_SPACE or ((code in READ_ONLY or code in NO_PERMISSION) and path is not None)


def _from_exception(exc: BaseException) -> DiskError | None:
    if isinstance(exc, OSError) and exc.errno is not None:
        path = os.fsdecode(exc.filename) if exc.filename is not None else None
        if _handled(exc.errno, path):
            return DiskError(exc.errno, exc.strerror or os.strerror(exc.errno), path)
    text = STEP_IN_TEXT.sub("", str(exc))
    match = ERRNO_IN_TEXT.search(text)
    if match is None:
        return None
    path = match.group(3)
    if path is None:  # pyarrow: "Failed to open local file 'PATH'. Detail: [errno 30] Read-only file system"
        quoted = PATH_IN_TEXT.search(text)
        path = quoted.group(1) if quoted else None
    code = int(match.group(1))
    return DiskError(code, match.group(2).strip(), path) if _handled(code, path) else None


def disk_error(exc: BaseException) -> DiskError | None:
    """The disk error in `exc` or in what it was raised from (Beam's wrapper, a cleanup that failed after it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        found = _from_exception(exc)
        if found is not None:
            return found
        exc = exc.__cause__ or exc.__context__
    return None


def _inside(path: str, folder: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(folder).rstrip(os.sep) + os.sep)


def _beside(path: str, folder: str) -> bool:
    """Export stages its folder next to --out: a hidden name, so the line says what it was for."""
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return path != folder and os.path.dirname(path) == os.path.dirname(folder)


def message(error: DiskError, output: str | None, option: str | None) -> str:
    """`could not write PATH: REASON: what to do`, for the output folder `output` given as `option`."""
    path = error.path or output
    where = f" {path}" if path else ""
    ours = path is None or output is None or path == output or _inside(path, output)
    if output and option and path and _beside(path, output):
        where, ours = f"{where} (made for {option} {output})", True
    elsewhere = f", or choose another {option}" if option and ours else ""
    if error.code in NO_SPACE:
        return (f"could not write{where}: {error.reason}: free space on that disk (df -h shows how much is left)"
                f"{elsewhere}, then run it again")
    if error.code in READ_ONLY:
        if option is None and output is not None:
            return (f"could not write{where}: {error.reason}: {output} is on a read-only disk and this command "
                    "writes inside it: copy it to a writable disk first")
        return f"could not write{where}: {error.reason}: remount that disk read-write{elsewhere}"
    if os.path.lexists(path):
        return (f"could not open{where}: {error.reason}: the user running worldline may not read or write it: "
                f"change its owner or mode{elsewhere}")
    # A file or folder that could not be made: it is its folder's owner or mode that refused.
    return (f"could not create{where}: {error.reason}: the user running worldline may not write in "
            f"{os.path.dirname(path) or '.'}: change that folder's owner or mode{elsewhere}")


def output_of(params: dict) -> tuple[str | None, str | None]:
    """(the folder the command writes into, the option naming it) from the command's parameters."""
    for name, option in OUTPUT_PARAMS.items():
        if params.get(name) is not None:
            return os.fspath(params[name]), option
    return None, None


# Beam logs a failed step's exception with its traceback (~20 lines; a worker process's comes back through the job
# service's log) before raising it: for a disk error the command's one line says it all.
BEAM_FAILURE_LOGGERS = ("apache_beam.runners.common", "apache_beam.runners.portability.local_job_service")


def names_disk_error(text: str) -> bool:
    return any(int(match.group(1)) in NO_SPACE | READ_ONLY | NO_PERMISSION for match in ERRNO_CODE.finditer(text))


def _not_a_disk_error(record: logging.LogRecord) -> bool:
    return record.levelno < logging.ERROR or not names_disk_error(record.getMessage())


class WithoutDiskTracebacks:
    """A Beam worker process's stderr (pipelines.beam_worker_stderr installs it), less the traceback the worker
    prints there for a bundle a disk error failed: the worker hands the same error to the command, which says it
    in one line (report_disk_errors) or, for one it does not translate, raises it with that traceback in it. The
    traceback came first, 79 lines for a full disk under two worker processes."""

    def __init__(self, stream):
        self._stream = stream
        self._dropped = False

    def write(self, text: str) -> int:
        after_dropped = self._dropped
        self._dropped = text.startswith("Traceback (most recent call last)") and names_disk_error(text)
        # print() writes the traceback, then its line end on its own.
        if self._dropped or (after_dropped and text == "\n"):
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def report_disk_errors(callback):
    """`callback` (a command's), ending in one `Error: ...` line and exit code 1 when its disk stops it."""
    @functools.wraps(callback)
    def run(*args, **params):
        for name in BEAM_FAILURE_LOGGERS:
            logging.getLogger(name).addFilter(_not_a_disk_error)
        try:
            return callback(*args, **params)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            error = disk_error(exc)
            if error is None:
                raise
            typer.echo(f"Error: {message(error, *output_of(params))}", err=True)
            raise typer.Exit(1) from None
    run.reports_disk_errors = True
    return run
