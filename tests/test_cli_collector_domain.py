"""A plugin's run_and_report takes its domain from the collector: given the Collector class it needs no domain=, and
a domain= other than the collector's is refused before anything is written (it made every rerun collect again:
episodes went to the collector's folder while resume looked in the other). The documented example wires every shared
option, and the report counts in words that agree with the number."""

from pathlib import Path

import pytest
import typer

from collectors.command import CollectorDomainError, plans_for, run_and_report
from collectors.tasks import load_tasks
from pipelines.cli import plain_help
from tests.plugin_example.sqlite_demo.collector import SqliteCollector, collect_command

TASKS = Path(__file__).resolve().parent / "plugin_example" / "tasks.yaml"


def plans():
    return plans_for(load_tasks(TASKS), seeds=1)


def test_domain_comes_from_the_collector_class_and_resume_works(tmp_path, capsys):
    first = run_and_report(SqliteCollector, plans(), tmp_path)
    assert first.completed == 1 and list((tmp_path / "episodes" / "sqlite").glob("*.json"))
    assert "1 episode collected (4 transitions)" in " ".join(capsys.readouterr().err.split())
    again = run_and_report(SqliteCollector, plans(), tmp_path)
    assert again.completed == 0 and again.skipped_complete == 1


@pytest.mark.parametrize("factory", [SqliteCollector, lambda: SqliteCollector()], ids=["class", "lambda"])
def test_a_domain_other_than_the_collectors_is_refused_before_anything_is_written(tmp_path, factory):
    with pytest.raises(CollectorDomainError, match="domain='sqlx'.*records domain 'sqlite'"):
        run_and_report(factory, plans(), tmp_path, domain="sqlx")
    assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob("*.json"))


def test_the_documented_example_declares_every_shared_option():
    app = typer.Typer()
    app.command()(collect_command)
    command = plain_help(typer.main.get_command(app))
    declared = {option for param in command.params for option in param.opts}
    assert {"--tasks", "--out", "--workers", "--limit", "--seeds", "--max-steps", "--replays"} <= declared
    doc = (Path(__file__).resolve().parents[1] / "docs" / "adding-a-collector.md").read_text()
    source = (TASKS.parent / "sqlite_demo" / "collector.py").read_text()
    body = source.split('"""\n', 1)[1].lstrip()  # the doc shows the file without its module docstring
    assert body in doc, "docs/adding-a-collector.md must show tests/plugin_example/sqlite_demo/collector.py"
