"""What the command line needs from the host's locale: a console that prints any text, and arguments that are text.

Under a locale whose encoding is not UTF-8 (LC_ALL=C with PYTHONUTF8=0, PYTHONIOENCODING=ascii, ja_JP.eucJP,
en_US.ISO-8859-1), Python's stdout refuses characters that encoding lacks, and an argument whose bytes that encoding
cannot decode arrives holding lone surrogates, which Beam's coders, Arrow and every UTF-8 file refuse."""

from __future__ import annotations

import codecs
import sys

ERRORS = "worldline-console"
_SURROGATES = range(0xDC80, 0xDD00)


def _console_errors(error: UnicodeError):
    """An escaped byte goes out as that byte (what surrogateescape does); any other character the console's encoding
    lacks as a \\x, \\u or \\U escape (what backslashreplace does)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    # One run of characters the codec refused may mix both kinds.
    parts = [bytes([ord(char) - 0xDC00]) if ord(char) in _SURROGATES else char.encode("ascii", "backslashreplace")
             for char in error.object[error.start:error.end]]
    return b"".join(parts), error.end


codecs.register_error(ERRORS, _console_errors)


def tolerant_console(streams=None) -> None:
    """Let stdout and stderr print what their encoding lacks rather than raise UnicodeEncodeError: a summary, a
    path or a record's text with an 'é' or a '…' under LANG=C otherwise ended a finished curate run with a traceback
    and exit 1. A UTF-8 stream is left as it is."""
    for stream in streams if streams is not None else (sys.stdout, sys.stderr):
        if stream is None or not hasattr(stream, "reconfigure"):
            continue
        if codecs.lookup(stream.encoding or "ascii").name != "utf-8" and stream.errors in ("strict",
                                                                                          "surrogateescape"):
            stream.reconfigure(errors=ERRORS)


def undecodable_argument(argv: list[str]) -> str | None:
    """The first argument holding bytes the locale's encoding could not decode, shown with its bytes escaped; None
    when every one is text."""
    for argument in argv:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            return argument.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
    return None


def argument_message(shown: str) -> str:
    encoding = sys.getfilesystemencoding()
    return (f"the argument '{shown}' holds bytes this locale's encoding ({encoding}) cannot decode, and worldline "
            "writes paths and text as UTF-8: run it under a UTF-8 locale (LANG=C.UTF-8) or with PYTHONUTF8=1")
