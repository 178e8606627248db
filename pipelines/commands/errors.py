"""How commands fail: a one-line message on stderr and a non-zero exit, never a traceback."""

import typer


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error and return the Exit to raise: `raise fail("...")`."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)
