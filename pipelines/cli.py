"""The `worldline` command. Collectors are found through the `worldline.collectors` entry point group, loaded only
when named, so `worldline --help` stays fast and this file never names a domain.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points

import typer
from typer.core import TyperGroup

from collectors.registry import (COLLECTOR_GROUP, DOMAINS_OF_OTHER_COLLECTORS, INSTALL_COLLECT, is_collect_module,
                                 missing_collect_modules, needs_collect_message)

# name -> "module:attribute" of a typer-style function; each module imports its heavy libraries inside the command.
COMMANDS = {
    "curate": ("pipelines.commands.curate:curate", "Validate, normalize, dedupe and write training shards."),
    "query": ("pipelines.commands.query:query", "Run SQL (duckdb) over a collection or shard folder."),
    "pack": ("pipelines.commands.pack:pack", "Pack finished episode files into big Parquet files for curation."),
    "score": ("pipelines.commands.score:score", "Score completions against stage-3 rows with the rubric's scorer."),
}
GROUPS = {
    "sandbox": ("pipelines.commands.sandbox:app", "Build the terminal base image; list and remove containers."),
    "export": ("pipelines.commands.export:app", "Export shards to AgentWorldBench JSONL or ATIF trajectories."),
    "setup": ("pipelines.commands.setup:app", "Install what collectors need (the MCP servers) into WORLDLINE_HOME."),
}


# A missing module of these is a bug or a broken install of worldline, not a distribution left out: it keeps the
# message or traceback it had. Any other is a distribution that is not installed, which one line says better.
OWN_PACKAGES = ("schemas", "sandboxes", "collectors", "transforms", "pipelines", "worldline_tasks")


def missing_module_message(exc: ModuleNotFoundError, command: str) -> str | None:
    """One line for `command` (e.g. "worldline collect web") stopped by a module that is not installed, or None
    when the module is worldline's own (a bug or a broken install, not a missing distribution). A module of the
    collect extra names the extra to install: curation installs without it (a Dataflow worker does), and there
    every collector, `sandbox` and `setup` stops here."""
    name = exc.name or ""
    if not name or name.partition(".")[0] in OWN_PACKAGES:
        return None
    if is_collect_module(name):
        return (f"{command} needs the module '{name}', which is not installed: worldline was installed without "
                f"the collectors' dependencies; install them with {INSTALL_COLLECT}")
    return f"{command} needs the module '{name}', which is not installed: install the distribution that provides it"


def _load(target: str):
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _to_command(obj, name: str):
    if isinstance(obj, TyperGroup) or hasattr(obj, "invoke"):
        return obj
    if isinstance(obj, typer.Typer):
        return typer.main.get_command(obj)
    single = typer.Typer(add_completion=False)
    single.command(name=name)(obj)
    return typer.main.get_command(single)


def report_disk_errors(command):
    """Every leaf of `command` ends in one line naming the path when its disk stops it (pipelines.os_errors),
    collectors from plugins included, as they load through LazyGroup too."""
    from pipelines.os_errors import report_disk_errors as wrap

    for subcommand in getattr(command, "commands", {}).values():
        report_disk_errors(subcommand)
    callback = getattr(command, "callback", None)
    if callback is not None and not hasattr(command, "commands") and not getattr(callback, "reports_disk_errors",
                                                                                  False):
        command.callback = wrap(callback)
    return command


def plain_help(command):
    """`command` and its subcommands with click's plain help, as the groups here have: typer's rich panels cut
    long option names and defaults to fit 80 columns ("--near-dup-thres…") and drop a "[required]" written in a
    help text (read as markup), where plain help puts a long name on a line of its own and wraps the rest."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for subcommand in getattr(command, "commands", {}).values():
        plain_help(subcommand)
    return command


class LazyGroup(TyperGroup):
    """A command group whose subcommands are imported only when run (or when their own help is shown).

    It subclasses typer's group (typer vendors its own click) so that typer.Exit / BadParameter raised inside any
    subcommand are handled like in a plain typer app.
    """

    def __init__(self, *args, targets: dict[str, tuple[str, str]], **kwargs):
        # no_args_is_help: `worldline` alone prints the help, as `worldline sandbox` does, not "Missing command".
        super().__init__(*args, rich_markup_mode=None, no_args_is_help=True, **kwargs)
        self.targets = targets

    def list_commands(self, ctx):
        return sorted(self.targets)

    def format_commands(self, ctx, formatter):
        # Listed from the registry without importing anything, so help works even if one plugin is broken.
        rows = [(name, self.short_help_for(name)) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def short_help_for(self, name: str) -> str:
        return self.targets[name][1]

    def get_command(self, ctx, name):
        if name not in self.targets:
            # click suggests a near name from self.commands only, which stays empty here (commands load when named)
            close = difflib.get_close_matches(name, self.targets, n=1)
            if close and ctx is not None and not ctx.resilient_parsing:
                ctx.fail(f"No such command {name!r}. Did you mean {close[0]!r}?")
            return None
        try:
            return self.load_command(name)
        except (ImportError, AttributeError) as exc:
            message = missing_module_message(exc, self.command_path(ctx, name)) \
                if isinstance(exc, ModuleNotFoundError) else None
            message = message or (f"'{name}' could not be loaded from {self.targets[name][0]}: {exc}. "
                                  f"Is worldline installed with all its dependencies (make setup)?")
            typer.echo(f"Error: {message}", err=True)
            raise typer.Exit(2)

    def load_command(self, name: str):
        """The command `name` imported from its target; an import that fails raises."""
        target, help_text = self.targets[name]
        command = report_disk_errors(plain_help(_to_command(_load(target), name)))
        command.name = name
        command.help = command.help or help_text
        command.short_help = command.short_help or help_text
        return command

    def command_path(self, ctx, name: str) -> str:
        return " ".join(filter(None, [ctx.command_path if ctx is not None else self.name, name]))

    def invoke(self, ctx):
        # A collector, `sandbox` or `setup` may import the collect extra's libraries only once it runs (the web
        # collector imports Playwright when its first browser starts).
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            message = missing_module_message(exc, self.command_path(ctx, ctx.invoked_subcommand or ""))
            if message is None:
                raise
            typer.echo(f"Error: {message}", err=True)
            raise typer.Exit(2) from None



class CollectGroup(LazyGroup):
    """`worldline collect`: a mistake in a file the user gave (task, servers, repos file) ends every collector the
    same way, as one line `Error: ...` and exit code 2 (collectors.command.input_error_message says which); every
    collector's command gets --strict (collectors.command.with_strict), plugins' too, without declaring it."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from collectors.command import input_error_message

            message = input_error_message(exc)
            if message is None:
                raise
            typer.echo(f"Error: {message}", err=True)
            raise typer.Exit(2) from None

    def get_command(self, ctx, name):
        if name in DOMAINS_OF_OTHER_COLLECTORS and name not in self.targets:
            typer.echo(f"Error: there is no '{name}' collector: {DOMAINS_OF_OTHER_COLLECTORS[name]}", err=True)
            raise typer.Exit(2)
        # worldline's own collectors need the whole collect extra, some only once an episode starts (after the out
        # folder was made): refused before any work, but its --help still shows. A plugin's needs are its own: only a
        # module it fails to import says what it lacks (LazyGroup).
        if name in self.targets and self.targets[name][0].startswith("collectors.") and \
                (missing := missing_collect_modules()):
            return self.without_extra(ctx, name, missing)
        command = super().get_command(ctx, name)
        if command is None:
            return None
        from collectors.command import with_strict  # the options every collector gets without declaring them

        return with_strict(command)

    def without_extra(self, ctx, name: str, missing: list[str]):
        """The built-in collector `name` where the collect extra is missing: its help, with a first paragraph that
        says so, and a refusal whenever it would run. terminal, swe and mcp import the extra's modules (Docker's
        SDK, jsonschema) as they load: for them a stand-in shows the registry's summary instead of a traceback."""
        from collectors.command import with_strict  # its help lists --strict as where the extra is installed

        refusal = needs_collect_message(self.command_path(ctx, name), missing)
        try:
            command = with_strict(self.load_command(name))
        except ModuleNotFoundError as exc:
            if not is_collect_module(exc.name or ""):
                return super().get_command(ctx, name)  # not the extra's fault: LazyGroup's message
            command = _stand_in(name, f"{self.short_help_for(name)}\n\nIts options are listed once the "
                                      f"collectors' dependencies are installed.")
        command.help = f"Not runnable here: {refusal}.\n\n{command.help or ''}".rstrip()
        return refuse_unless_help(command, refusal)

    def short_help_for(self, name: str) -> str:
        from pipelines.commands.docstrings import summary  # the collector's own docstring, read without importing it

        target, fallback = self.targets[name]
        return summary(target) or fallback


def _stand_in(name: str, help_text: str):
    """A command that takes any arguments, for a collector that cannot even be loaded: only its --help does
    anything (refuse_unless_help refuses the rest)."""
    app = typer.Typer(add_completion=False)
    app.command(name=name, help=help_text,
                context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(lambda: None)
    return plain_help(typer.main.get_command(app))


def refuse_unless_help(command, refusal: str):
    """`command` ending in `Error: {refusal}` (exit 2) unless --help is given. The check is a hidden eager option:
    click processes an eager option the command line names (--help) first, then the others in declaration order,
    this one first of all, so neither the collector's option callbacks (--out's check) nor a missing required option
    come before it."""
    def refuse(ctx: typer.Context, value: bool) -> None:
        if ctx.resilient_parsing:  # shell completion parses without running
            return
        typer.echo(f"Error: {refusal}", err=True)
        raise typer.Exit(2)

    def probe(needs_collect: bool = typer.Option(False, "--needs-collect-extra", hidden=True, is_eager=True,
                                                 expose_value=False, callback=refuse)):
        pass

    app = typer.Typer(add_completion=False)
    app.command()(probe)
    command.params.insert(0, typer.main.get_command(app).params[0])
    return command


def collector_targets() -> dict[str, tuple[str, str]]:
    return {ep.name: (ep.value, f"Collect raw episodes with the '{ep.name}' collector.")
            for ep in entry_points(group=COLLECTOR_GROUP)}


def build_cli() -> LazyGroup:
    targets = {name: value for name, value in COMMANDS.items()}
    root = LazyGroup(name="worldline", targets=targets,
                     help="Record real agent-environment transitions and curate them into world-model training data.")
    for name, (target, help_text) in GROUPS.items():
        root.targets[name] = (target, help_text)
    root.targets["collect"] = ("pipelines.cli:collect_group", "Collect raw episodes from a real environment.")
    return root


def _make_collect_group() -> LazyGroup:
    return CollectGroup(name="collect", targets=collector_targets(),
                     help="Collect raw episodes. Each collector is a plugin registered under the "
                          f"'{COLLECTOR_GROUP}' entry point group.")


collect_group = _make_collect_group()


def main() -> None:
    import sys

    import click  # plugins may raise plain click errors; typer's own are handled inside its vendored click

    from pipelines.host_locale import argument_message, tolerant_console, undecodable_argument

    tolerant_console()
    # Before any command starts: such an argument fails deep in a Beam worker or a file write otherwise.
    if (shown := undecodable_argument(sys.argv[1:])) is not None:
        from pipelines.commands.errors import fail

        raise SystemExit(fail(argument_message(shown), code=2).exit_code)
    try:
        build_cli()(prog_name="worldline")
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code)


if __name__ == "__main__":
    main()
