"""Help screens the second walkthrough found unclear (F12): web's --explore names the sites it serves (the help
lists them by hand, so this keeps it in step with sandboxes.sites), mcp's --server shows a name, not a type, and a
mistyped command name (`collect termnial`) gets a suggestion, which click makes only from commands already loaded."""

from click.testing import CliRunner

from pipelines.cli import build_cli
from sandboxes.sites import SITE_NAMES


def help_text(*args: str) -> str:
    result = CliRunner().invoke(build_cli(), [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_web_explore_lists_every_served_site():
    line = help_text("collect", "web").split("--explore", 1)[1].split("--urls", 1)[0]
    assert all(name in line for name in SITE_NAMES), line


def test_mcp_server_shows_a_name():
    text = help_text("collect", "mcp")
    assert "--server <name>" in text and "list[str]" not in text


def test_a_mistyped_command_gets_a_did_you_mean():
    for args, guess in ((["collect", "termnial"], "terminal"), (["curat"], "curate")):
        result = CliRunner().invoke(build_cli(), args)
        assert result.exit_code == 2, result.output
        assert f"No such command {args[-1]!r}. Did you mean {guess!r}?" in result.stderr, result.stderr
