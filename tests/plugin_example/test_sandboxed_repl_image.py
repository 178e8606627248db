"""The sandboxed example checks its image once, before any episode, as the terminal collector does: without it each
episode failed on its own with docker-py's raw `404 Client Error ... No such image`, and the run reported them as
collected episodes of 0 transitions. Against the real Docker engine, with an image name that does not exist."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

import sandboxes.docker_sandbox
from sandboxed_repl import collect_command

TASKS = "tasks:\n  - id: vars\n    instruction: use the REPL\n    actions: ['x = 6 * 7', 'print(x)']\n"


def test_a_missing_image_is_one_usage_error_naming_the_command_that_builds_it(tmp_path, docker_client, monkeypatch):
    monkeypatch.setattr(sandboxes.docker_sandbox, "BASE_IMAGE", "worldline/nonexistent:x")
    (tmp_path / "repl.yaml").write_text(TASKS)
    app = typer.Typer()
    app.command()(collect_command)

    result = CliRunner().invoke(app, ["--tasks", str(tmp_path / "repl.yaml"), "--out", str(tmp_path / "out")])

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.replace("│", " ").split())
    assert "image worldline/nonexistent:x does not exist; build it with `worldline sandbox build-image`" in message, \
        message
    assert "404" not in message and not (tmp_path / "out" / "episodes").exists()
