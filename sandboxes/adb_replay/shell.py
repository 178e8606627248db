"""The device shell of the replay device: the commands collectors and adbutils send, with their real output formats.

Supports `;`, `&&`, `||`, pipes into `grep`, and `$?`. Every other command answers as Android's mksh does for a
missing binary (status 127), so a collector that needs something new fails loudly instead of reading made-up output.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from sandboxes.adb_replay.phone import DUMP_FAILURE, KEYCODES, ReplayPhone

DEFAULT_DUMP_PATH = "/sdcard/window_dump.xml"


@dataclass
class Result:
    stdout: bytes = b""
    stderr: bytes = b""
    status: int = 0
    # (fd, bytes) in the order written: shell v1 has one stream, where stdout and stderr interleave.
    chunks: list[tuple[int, bytes]] = field(default_factory=list)

    def __post_init__(self):
        if not self.chunks:
            self.chunks = [(fd, data) for fd, data in ((2, self.stderr), (1, self.stdout)) if data]

    @property
    def combined(self) -> bytes:
        return b"".join(data for _, data in self.chunks)


def _joined(chunks: list[tuple[int, bytes]], status: int) -> Result:
    return Result(b"".join(d for fd, d in chunks if fd == 1), b"".join(d for fd, d in chunks if fd == 2), status,
                  chunks)


def _err(text: str, status: int = 1) -> Result:
    return Result(stderr=text.encode(), status=status)


class ReplayShell:
    def __init__(self, phone: ReplayPhone, serial: str):
        self.phone = phone
        self.serial = serial

    def run(self, command: str) -> Result:
        """Run a command line; stdout and stderr of its parts are concatenated, the status is the last one's."""
        try:
            lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            return _err(f"/system/bin/sh: syntax error: {exc}\n", 2)
        chunks, status = [], 0
        pipeline: list[list[str]] = [[]]
        operator = ";"
        for token in tokens + [";"]:
            if token in (";", "&&", "||"):
                if pipeline != [[]]:
                    if operator == ";" or (operator == "&&") == (status == 0):
                        result = self._pipeline(pipeline, status)
                        chunks += result.chunks
                        status = result.status
                pipeline, operator = [[]], token
            elif token == "|":
                pipeline.append([])
            else:
                pipeline[-1].append(token)
        return _joined(chunks, status)

    def _pipeline(self, commands: list[list[str]], last_status: int) -> Result:
        stdin, errors = b"", []
        result = Result()
        for argv in commands:
            argv = [arg.replace("$?", str(last_status)) for arg in argv]
            result = self._command(argv, stdin) if argv else _err("/system/bin/sh: syntax error: '|'\n", 2)
            stdin = result.stdout
            errors += [(2, data) for fd, data in result.chunks if fd == 2]
        return _joined(errors + [(1, result.stdout)] if result.stdout else errors, result.status)

    def _command(self, argv: list[str], stdin: bytes) -> Result:
        handler = getattr(self, f"cmd_{argv[0].replace('-', '_')}", None) if argv[0].isidentifier() else None
        if handler is None:
            return _err(f"/system/bin/sh: {argv[0]}: inaccessible or not found\n", 127)
        return handler(argv[1:], stdin)

    # --- commands -------------------------------------------------------------------------------------------------
    def cmd_echo(self, args, stdin):
        return Result((" ".join(args) + "\n").encode())

    def cmd_true(self, args, stdin):
        return Result()

    def cmd_rm(self, args, stdin):
        force = any(a.startswith("-") and "f" in a for a in args)
        for path in (a for a in args if not a.startswith("-")):
            if self.phone.files.pop(path, None) is None and not force:
                return _err(f"rm: {path}: No such file or directory\n")
        return Result()

    def cmd_cat(self, args, stdin):
        if not args:
            return Result(stdin)
        out = []
        for path in args:
            if path not in self.phone.files:
                return _err(f"cat: {path}: No such file or directory\n")
            out.append(self.phone.files[path][0])
        return Result(b"".join(out))

    def cmd_grep(self, args, stdin):
        flags, patterns = 0, []
        for arg in args:
            if arg.startswith("-") and not patterns:
                flags |= re.IGNORECASE if "i" in arg else 0
            else:
                patterns.append(arg)
        if not patterns:
            return _err("usage: grep [-Ei] PATTERN\n", 2)
        regex = re.compile(patterns[0].encode(), flags)
        lines = [line for line in stdin.splitlines(keepends=True) if regex.search(line)]
        return Result(b"".join(lines), status=0 if lines else 1)

    def cmd_getprop(self, args, stdin):
        props = self.phone.properties(self.serial)
        if args:
            return Result((props.get(args[0], "") + "\n").encode())
        return Result("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())).encode())

    def cmd_wm(self, args, stdin):
        if args[:1] == ["size"]:
            w, h = self.phone.profile.size
            return Result(f"Physical size: {w}x{h}\n".encode())
        return _err(f"wm: unsupported on the replay device: {' '.join(args)}\n", 255)

    def cmd_uiautomator(self, args, stdin):
        if args[:1] != ["dump"]:
            return _err("uiautomator: only 'dump' is available on the replay device\n")
        paths = [a for a in args[1:] if not a.startswith("--")]
        path = paths[0] if paths else DEFAULT_DUMP_PATH
        raw = self.phone.dump()
        if raw is None:
            return Result(f"{DUMP_FAILURE}\n".encode())
        message = f"UI hierchary dumped to: {path}\n".encode()  # sic: Android's own spelling
        if path == "/dev/tty":
            return Result(raw + message)
        self.phone.write_file(path, raw)
        return Result(message)

    def cmd_input(self, args, stdin):
        if args and args[0] in ("touchscreen", "keyboard", "mouse", "touchpad"):
            args = args[1:]
        try:
            match args:
                case ["tap", x, y]:
                    self.phone.tap(int(float(x)), int(float(y)))
                case ["swipe", x1, y1, x2, y2, *rest]:
                    self.phone.swipe(*(int(float(v)) for v in (x1, y1, x2, y2)), int(rest[0]) if rest else 300)
                case ["text", text]:
                    self.phone.type_text(text.replace("%s", " "))
                case ["keyevent", *codes] if codes:
                    for code in codes:
                        name = code if code.startswith("KEYCODE_") else f"KEYCODE_{code}"
                        self.phone.key(int(code) if code.isdigit() else KEYCODES.get(name, -1))
                case _:
                    return _err(f"Error: Unknown command: {' '.join(args)}\n", 1)
        except ValueError as exc:
            return _err(f"Error: {exc}\n", 1)
        return Result()

    def cmd_dumpsys(self, args, stdin):
        if args[:1] == ["window"]:
            return Result(f"WINDOW MANAGER WINDOWS (dumpsys window windows)\n{self.phone.focus_line()}".encode())
        if args[:1] == ["display"]:
            w, h = self.phone.profile.size
            return Result(f"DISPLAY MANAGER (dumpsys display)\n  mViewports=[DisplayViewport{{type=INTERNAL, "
                          f"valid=true, displayId=0, orientation={self.phone.rotation()}, "
                          f"logicalFrame=Rect(0, 0 - {w}, {h})}}]\n".encode())
        if args[:1] == ["input_method"]:
            return Result(f"Input method service state:\n{self.phone.input_method_lines()}".encode())
        return Result(f"Can't find service: {' '.join(args[:1])}\n".encode())

    def cmd_monkey(self, args, stdin):
        package = args[args.index("-p") + 1] if "-p" in args[:-1] else ""
        if package and self.phone.launch(package):
            return Result(b"  bash arg: -p\n  bash arg: " + package.encode() + b"\nEvents injected: 1\n")
        return Result(b"** No activities found to run, monkey aborted.\n", status=252)

    def cmd_am(self, args, stdin):
        if args[:1] == ["force-stop"] and len(args) > 1:
            self.phone.force_stop(args[1])
            return Result()
        if args[:1] == ["start"] and "-n" in args[:-1]:
            component = args[args.index("-n") + 1]
            if self.phone.launch(component.split("/")[0]):
                return Result(f"Starting: Intent {{ cmp={component} }}\n".encode())
            return _err(f"Error: Activity class {{{component}}} does not exist.\n")
        return _err(f"am: unsupported on the replay device: {' '.join(args)}\n", 255)
