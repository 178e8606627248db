"""`worldline pack COLLECTION`: pack finished per-episode transition files into big Parquet files."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.commands.errors import fail

SHOWN_LEFT = 10  # files left unpacked that are named, with why, after the summary


def pack(collection: Path = typer.Argument(..., metavar="COLLECTION",
                                           help="Raw collection folder (the --out of `worldline collect`)."),
         rows_per_group: int = typer.Option(2000, min=1, help="Transitions per row group (whole episodes)."),
         rows_per_pack: int = typer.Option(100_000, min=1, help="Transitions per pack file."),
         show_left: bool = typer.Option(False, "--show-left",
                                        help=f"List every file left unpacked, not only the first {SHOWN_LEFT}."),
         ) -> None:
    """Pack finished episodes into big Parquet files, so curation reads a few files instead of one per episode.
    Safe to run at any time, also while collecting: episodes not finished yet are left alone."""
    from rich.progress import Progress

    from collectors.pack import pack_collection
    from pipelines.views import is_curation_output

    if is_curation_output(collection):  # its transitions/ holds shards, no domain folders: it would pack nothing
        raise fail(f"{collection} is a curate output, not a raw collection: pack the folder `worldline collect` "
                   "wrote (the --input of that curate run)", 2)
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("packing episodes", total=None)
            report = pack_collection(collection, rows_per_group, rows_per_pack,
                                     progress=lambda n: progress.advance(task, n))
    except FileNotFoundError as exc:
        raise fail(str(exc), 2)
    typer.echo(f"packed {report.episodes_packed} episodes ({report.transitions_packed} transitions) into "
               f"{report.packs_written} files; left {report.left_unpacked} unfinished or foreign files as they are"
               + (f"; removed {report.leftovers_removed} files an interrupted pack had already copied"
                  if report.leftovers_removed else ""))
    shown = report.left if show_left else report.left[:SHOWN_LEFT]
    for name, why in shown:
        typer.echo(f"  left {name}: {why}")
    if len(report.left) > len(shown):
        typer.echo(f"  ... and {len(report.left) - len(shown)} more (pass --show-left to list them all)")
