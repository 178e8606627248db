"""`worldline pack COLLECTION`: pack finished per-episode transition files into big Parquet files."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipelines.commands.errors import fail
from schemas.interrupts import interrupt_on_sigterm, interrupted_exit_code, note_interrupts, signal_name

if TYPE_CHECKING:
    from collectors.pack import PackReport

SHOWN_LEFT = 10  # files left unpacked that are named, with why, after the summary
# What a Ctrl-C or SIGTERM gets once every pack is published: it made a complete pack exit 130 or 143 while printing
# its summary or exiting, and a script took the pack for failed.
PACKED_NOTE = "every pack is published whole; finishing"


def pack(collection: Path = typer.Argument(..., metavar="COLLECTION",
                                           help="Raw collection folder (the --out of `worldline collect`)."),
         rows_per_group: int = typer.Option(2000, min=1, help="Transitions per row group (whole episodes)."),
         rows_per_pack: int = typer.Option(100_000, min=1, help="Transitions per pack file."),
         show_left: bool = typer.Option(False, "--show-left",
                                        help=f"List every file left unpacked, not only the first {SHOWN_LEFT}."),
         ) -> None:
    """Pack finished episodes into big Parquet files, so curation reads a few files instead of one per episode.
    Safe to run at any time, also while collecting (episodes not finished yet are left alone): a pack waits for the
    curate and query runs reading the collection, and they and another pack wait for it."""
    from rich.progress import Progress

    from collectors.pack import NotACollection, PackReport, check_collection, pack_collection
    from pipelines.os_errors import NO_SPACE, disk_error
    from schemas.layout import is_curation_output
    from schemas.collection_lock import WaitInterrupted, collection_lock

    if is_curation_output(collection):  # its transitions/ holds shards, no domain folders: it would pack nothing
        raise fail(f"{collection} is a curate output, not a raw collection: pack the folder `worldline collect` "
                   "wrote (the --input of that curate run)", 2)
    report = PackReport()
    interrupt_on_sigterm()
    try:
        check_collection(collection)
        # The lock before the bar: a pack waiting for a curate showed "packing episodes" as if it had begun.
        with collection_lock(collection, exclusive=True), Progress(transient=True) as progress:
            task = progress.add_task("packing episodes", total=None)
            pack_collection(collection, rows_per_group, rows_per_pack, progress=lambda n: progress.advance(task, n),
                            report=report, on_finished=lambda: note_interrupts(PACKED_NOTE))
    except NotACollection as exc:
        raise fail(str(exc), 2)
    except WaitInterrupted as exc:
        typer.echo(f"{signal_name(exc.signum)} while waiting for {collection}: nothing was packed.", err=True)
        raise typer.Exit(interrupted_exit_code(exc)) from None
    except OSError as exc:
        error = disk_error(exc)
        if error is None or error.code not in NO_SPACE:
            raise
        raise fail(f"could not write {collection}: {error.reason}: a pack needs about its own size free (up to "
                   f"--rows-per-pack {rows_per_pack} transitions), since its members are deleted only once it is "
                   "written: free space, or pass a smaller --rows-per-pack, then run it again") from None
    except KeyboardInterrupt as exc:
        if not report.finished:
            what = "Interrupted" if interrupted_exit_code(exc) == 130 else "Terminated (SIGTERM)"
            typer.echo(f"{what}: the pack stopped; every pack file it published is whole, and the episodes not "
                       "packed yet are as they were: run the same command again to pack them.", err=True)
            raise typer.Exit(interrupted_exit_code(exc)) from None
        # It came after the last pack was published: the work is done, report it as such.
        note_interrupts(PACKED_NOTE)
        typer.echo(f"{signal_name(getattr(exc, 'signum', signal.SIGINT))}: {PACKED_NOTE}", err=True)
    _summarize(report, show_left)


def _summarize(report: PackReport, show_left: bool) -> None:
    removed = [f"removed {count} {what}" for count, what in (
        (report.leftovers_removed, "files an interrupted pack had already copied"),
        (report.copies_removed, "files merged in after the pack that holds them byte for byte was written"))
        if count]
    typer.echo("; ".join([f"packed {report.episodes_packed} episodes ({report.transitions_packed} transitions) into "
                          f"{report.packs_written} files", f"left {report.left_unpacked} unfinished or foreign files "
                          "as they are", *removed]))
    shown = report.left if show_left else report.left[:SHOWN_LEFT]
    for name, why in shown:
        typer.echo(f"  left {name}: {why}")
    if len(report.left) > len(shown):
        typer.echo(f"  ... and {len(report.left) - len(shown)} more (pass --show-left to list them all)")
