"""The MCP servers file: its entries (ServerSpec), their parsing and checks (load_servers, server_from_dict), and
the placeholders an entry may use, with what each stands for inside a server's sandbox (fixed paths under
SANDBOX_OPT, the local pages' address) or, for the checks made on this machine, on the host."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import string
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandboxes.bwrap import SYSTEM_PATHS, covered
from sandboxes.swe_git import GIT_DATE
from schemas.home import worldline_home
from schemas.shipped_tasks import shipped_task_file
from schemas.yaml_file import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SERVERS_FILE = shipped_task_file("mcp_servers.yaml")
# The domains the shipped servers record in. A servers file may name a new one, but not a near miss of a known one:
# `domain: serch` recorded every episode of that server under a domain of its own, without a word.
SERVER_DOMAINS = ("mcp", "search")
SERVER_KEYS = {"command", "args", "env", "transport", "url", "domain", "prepare", "network", "description",
               "startup_timeout_s", "hints", "read_only"}
# Where the working directory appears inside the sandbox: a fixed path, so observations that name files do not
# carry a random temporary name. (Under /tmp because bubblewrap can only create mount points on its tmpfs.)
SANDBOX_WORKDIR = "/tmp/workspace"
# Where the sandbox shows what a server needs from this machine: fixed paths, not the host's, so what a server
# reports (its environment, its interpreter's paths, a stack trace) reads the same on every machine and names
# neither the checkout nor the home folder.
SANDBOX_OPT = "/opt/worldline"
SANDBOX_PYTHON = f"{SANDBOX_OPT}/python"  # the Python installation the venvs were made from (pyenv's, here)
SANDBOX_VENV = f"{SANDBOX_OPT}/venv"  # worldline's venv, for {python}
SANDBOX_SRC = f"{SANDBOX_OPT}/src"  # worldline's packages, on PYTHONPATH
# Folders the sandbox mounts afresh, showing nothing of the host's beneath them (sandboxes.mcp_sandbox: a tmpfs at
# /tmp, bwrap's own /dev with an empty shm, and at SANDBOX_OPT only what placeholders bring), so a host path there
# that an entry names is left out of the sandbox (SandboxLayout.bwrap_args), `read_only` included. Everything else an
# entry names by an absolute path (under /run, /var/tmp, /srv, a home folder...) is shown at that path.
HIDDEN_FOLDERS = {"/tmp": "the sandbox has a private /tmp of its own",
                  "/dev/shm": "the sandbox's own /dev has an empty /dev/shm",
                  SANDBOX_OPT: f"the sandbox shows at {SANDBOX_OPT} only what placeholders bring"}
SANDBOX_FOLDERS = {"mcp_venv": f"{SANDBOX_OPT}/mcp-venv", "node_modules": f"{SANDBOX_OPT}/node_modules",
                   "cache": f"{SANDBOX_OPT}/cache"}
# The same folders on this machine, under WORLDLINE_HOME (schemas.home: the checkout, or the XDG data folder once
# installed), where sandboxes.mcp_install puts the shipped servers.
HOME_FOLDERS = {"mcp_venv": ".venv-mcp", "node_modules": ".mcp-servers/node_modules", "cache": ".cache"}
# {git_date}: the commit clock swe pins too, for an entry that commits (git reads GIT_AUTHOR_DATE/GIT_COMMITTER_DATE):
# with it a commit id is the same in every run and replay, not a function of the wall-clock second.
PLACEHOLDERS = ("mcp_venv", "node_modules", "python", "cache", "workdir", "port", "pages", "git_date")
# {env:NAME}: a value from worldline's own environment, read when the server starts, for a token the server needs.
# Only where the server takes it (its args, its env, an http entry's url): a command, prepare command, hint or
# read_only path holding it would put the value where nothing masks it (the recorded actions, the sandbox's
# binds). What is recorded of the entry (env details, the set-up digest) is the placeholder's text, never the value.
ENV_PLACEHOLDER = "env"
ENV_FIELDS = ("args", "env", "url")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Placeholders a task's call arguments may carry, replaced literally (arguments may hold braces of their own).
ARGUMENT_PLACEHOLDERS = ("workdir", "pages")
# Placeholders that name a folder a server needs whole when its entry uses them (a script path inside it is not
# enough: node resolves its packages, Python its site-packages, around it).
FOLDER_PLACEHOLDERS = ("mcp_venv", "node_modules", "cache")

# {pages}: a small static site (sandboxes/mcp_pages/) for servers that fetch URLs (mcp-server-fetch). It is served
# inside the server's own sandbox, on the loopback of its private network namespace, at this fixed address: the
# URLs in recorded actions and observations are the same on every machine and in every run, a stored episode
# replays against the same address, and the server needs no network.
PAGES_HOST, PAGES_PORT = "127.0.0.1", 8000
PAGES_URL = f"http://{PAGES_HOST}:{PAGES_PORT}"


class ServerFileError(ValueError):
    pass


class UnsetVariable(LookupError):
    """{env:NAME} names a variable worldline's environment does not have (not a KeyError: expand tells the two
    apart)."""


class Environment:
    """What {env:NAME} stands for: str.format_map looks the field `env` up and formats it with the spec `NAME`,
    so the value is read here, when a text is expanded, and is inserted as it is (braces in a token are not read as
    placeholders)."""

    def __format__(self, name: str) -> str:
        if not ENV_NAME.fullmatch(name):
            raise ValueError(f"{{env:{name}}} does not name an environment variable (write {{env:NAME}})")
        value = os.environ.get(name)
        if value is None:
            raise UnsetVariable(name)
        return value


ENVIRONMENT = Environment()


def env_names(text: str) -> list[str]:
    """The variables `text` names in {env:NAME} placeholders (escaped braces, {{env:X}}, are not one)."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return []  # expand says what is wrong with it
    return [spec for _, field_name, spec, _ in fields if field_name == ENV_PLACEHOLDER and spec]


@dataclass
class ServerSpec:
    """One servers-file entry. `prepare` holds shell commands run in the working directory before the start
    (e.g. creating the git repository a git server works on), in the server's sandbox with the network on.
    `read_only` names extra host paths the sandbox shows (read-only) beyond those found from the entry itself."""

    name: str
    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    transport: str = "stdio"
    url: str = "http://127.0.0.1:{port}/mcp"
    domain: str = "mcp"
    prepare: list[str] = field(default_factory=list)
    network: bool = False
    description: str = ""
    startup_timeout_s: float = 30.0
    # Argument values exploration should try for a property name (e.g. repo_path: ["{workdir}/repo"]).
    hints: dict[str, list[str]] = field(default_factory=dict)
    read_only: list[str] = field(default_factory=list)
    # Whether the entry comes from the shipped servers file, whose servers `worldline setup mcp-servers`
    # (sandboxes.mcp_install) installs: only then is that command the hint for a server that does not start.
    shipped: bool = False
    # The servers file the entry comes from (load_servers), for errors that a change to the entry fixes.
    source: str = ""


def installed_by_setup(spec: ServerSpec) -> bool:
    """Whether `worldline setup mcp-servers` installs what `spec` runs: a shipped entry, or one that names the
    folders it fills ({mcp_venv}, {node_modules})."""
    texts = [spec.command, *spec.args]
    return spec.shipped or any("{" + name + "}" in text for text in texts for name in ("mcp_venv", "node_modules"))


def load_servers(path: str | Path, known_domains: Collection[str] = SERVER_DOMAINS) -> dict[str, ServerSpec]:
    """The entries of a servers file; an entry's domain may not be a near miss of one of `known_domains`."""
    path = Path(path)
    if not path.exists():
        raise ServerFileError(f"servers file {path} does not exist")
    if path.is_dir():
        raise ServerFileError(f"servers file {path} is a folder, not a file")
    try:
        text = path.read_text(encoding="utf-8")  # whatever the locale says, as task files are
    except UnicodeDecodeError as exc:
        raise ServerFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    data = load_yaml(path, text, ServerFileError)
    entries = data.get("servers") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ServerFileError(f"{path}: expected a mapping with a non-empty 'servers' mapping of name -> entry")
    shipped = path.resolve() == SHIPPED_SERVERS_FILE
    servers = {name: server_from_dict(name, entry, f"{path} server {name!r}", known_domains)
               for name, entry in entries.items()}
    for spec in servers.values():
        spec.shipped, spec.source = shipped, str(path)
    return servers


def near_miss(domain: str, known: Collection[str]) -> str | None:
    """The known domain `domain` looks like a misspelling of (a higher cutoff than difflib's 0.6, so that a new
    domain merely sharing letters with one, `webapp` or `docs`, stays allowed; a transposition, `mpc`, counts)."""
    if domain in known:
        return None
    for name in known:
        if domain.lower() == name.lower() or sorted(domain.lower()) == sorted(name.lower()):
            return name
    close = difflib.get_close_matches(domain, list(known), n=1, cutoff=0.8)
    return close[0] if close else None


def server_from_dict(name: str, entry: Any, where: str,
                     known_domains: Collection[str] = SERVER_DOMAINS) -> ServerSpec:
    if not isinstance(entry, dict):
        raise ServerFileError(f"{where}: an entry must be a mapping, got {type(entry).__name__}")
    unknown = set(entry) - SERVER_KEYS
    if unknown:
        raise ServerFileError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(SERVER_KEYS)}")
    if not entry.get("command"):
        raise ServerFileError(f"{where}: 'command' is missing")
    if entry.get("transport", "stdio") not in ("stdio", "http"):
        raise ServerFileError(f"{where}: transport must be 'stdio' or 'http', got {entry['transport']!r}")
    for key, kind in (("args", list), ("prepare", list), ("env", dict), ("hints", dict), ("read_only", list)):
        if key in entry and not isinstance(entry[key], kind):
            raise ServerFileError(f"{where}: '{key}' must be a {kind.__name__}")
    domain = entry.get("domain", "mcp")
    if not isinstance(domain, str) or not domain.strip():
        raise ServerFileError(f"{where}: domain must be a non-empty string (the domain its episodes are recorded "
                              f"in), got {domain!r}")
    guess = near_miss(domain, known_domains)
    if guess:
        raise ServerFileError(f"{where}: domain {domain!r} looks like a misspelling of the known domain {guess!r}; "
                              f"write {guess!r}, or a new domain's name not this close to it (known: "
                              f"{', '.join(sorted(known_domains))})")
    spec = ServerSpec(name=str(name), command=str(entry["command"]),
                      args=[str(a) for a in entry.get("args") or []],
                      env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
                      transport=entry.get("transport", "stdio"), domain=domain,
                      prepare=[str(c) for c in entry.get("prepare") or []], network=bool(entry.get("network")),
                      description=str(entry.get("description", "")),
                      startup_timeout_s=float(entry.get("startup_timeout_s", 30.0)),
                      hints={str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
                             for k, vs in (entry.get("hints") or {}).items()},
                      read_only=[str(p) for p in entry.get("read_only") or []])
    if "url" in entry:
        spec.url = str(entry["url"])
    hinted = [v for values in spec.hints.values() for v in values]
    for key, texts in (("command", [spec.command]), ("prepare", spec.prepare), ("hints", hinted),
                       ("read_only", spec.read_only)):
        named = [name for text in texts for name in env_names(text)]
        if named:
            raise ServerFileError(f"{where}: {key} uses {{env:{named[0]}}}; {{env:NAME}} is for the values the "
                                  f"server takes ({', '.join(ENV_FIELDS)}), where worldline masks it in what it "
                                  f"records")
    for text in [spec.command, *spec.args, *spec.env.values(), *spec.prepare, spec.url, *hinted, *spec.read_only]:
        expand(text, placeholder_values("/w", 0), where)  # a typo in a placeholder fails at load, not mid-run
    refuse_hidden_paths(spec, where)
    # An http server keeps a loopback of its own too (the client reaches it through mcp_forward's socket).
    if serves_pages(spec) and spec.network:
        raise ServerFileError(f"{where}: uses {{pages}}, which is served on the sandbox's own loopback at "
                              f"{PAGES_URL}; with the host's network (network: true) it would meet the host's port "
                              f"{PAGES_PORT} and every other such server's")
    if any("{pages}" in command for command in spec.prepare):
        raise ServerFileError(f"{where}: prepare commands cannot use {{pages}}: the pages are served only next "
                              f"to the server itself")
    return spec


def hidden_folder(text: str, holding: bool = False) -> str | None:
    """The folder of HIDDEN_FOLDERS that hides `text` from a server, when `text` is the absolute path of something on
    this machine beneath it. Only a literal path: a placeholder stands for a place the sandbox shows, and the
    working directory (SANDBOX_WORKDIR, under /tmp) is the sandbox's own; a URL, a flag, `--x=/tmp/y` or a module
    name is no path, and a path that does not exist here may be one the server makes in its own /tmp. `holding`
    (an env value, a word of shell text) counts only a regular file or a folder with something in it: such a text
    often names the server's scratch place (TMPDIR=/tmp/x, `mkdir -p /tmp/x`), and what the server writes in its
    private /tmp never reaches the host's, so an empty folder (or a socket, a FIFO) there holds nothing it would
    miss, while a file or a filled folder was put there on this machine, for the server to read."""
    if "{" in text or not text.startswith("/"):
        return None
    path = os.path.normpath(text)
    if covered(path, [SANDBOX_WORKDIR]) or not os.path.exists(path):
        return None
    folder = next((folder for folder in HIDDEN_FOLDERS if path.startswith(folder + "/")), None)
    if folder and holding and not (os.path.isfile(path) or _has_entries(path)):
        return None
    return folder


def _has_entries(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is not None
    except OSError:  # not a folder, or one this user cannot list: nothing known to be missed
        return False


# Shells whose `-c` takes the script as the next argument; the words of that text (and of `prepare` commands, run
# by `bash -c`) are not looked at by the sandbox's binds, so a path named there must be in `read_only`.
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash"}
SHELL_OPTIONS = re.compile(r"-[A-Za-z]*c[A-Za-z]*")  # -c, -ec, -lc (not --norc)
# Operators after which a word is written, not read: a file the shell makes in the sandbox's own /tmp.
WRITE_REDIRECTIONS = {">", ">>", ">|", "&>", "&>>"}
SHEBANG_BYTES = 256  # what the kernel reads of a #! line, too
SHEBANG_HOPS = 4  # a script run by a script's interpreter ... (the kernel allows 4 levels too)


def shell_script(spec: ServerSpec) -> str | None:
    """The script text of an entry that runs a shell with `-c` (`sh -c "python3 /srv/x.py"`), else None."""
    if Path(spec.command).name not in SHELLS:
        return None
    at = next((i for i, arg in enumerate(spec.args) if SHELL_OPTIONS.fullmatch(arg)), None)
    return spec.args[at + 1] if at is not None and at + 1 < len(spec.args) else None


def script_paths(script: str) -> list[str]:
    """The whole words of shell text that are absolute paths it reads, split as the shell would (quotes, `;`, `&&`,
    `|`, redirections); none for text shlex cannot split (an unclosed quote: the shell says what is wrong)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return []
    return [word for before, word in zip(["", *words], words)
            if word.startswith("/") and before not in WRITE_REDIRECTIONS]


def shebang_interpreters(command: str) -> list[tuple[str, str]]:
    """(script, interpreter) for the `#!` chain of a command that is an existing file named by its absolute path:
    the interpreter its first line names, and so on while that one is a script too. `#!/usr/bin/env NAME` ends the
    chain (the sandbox's PATH finds NAME), `#!/usr/bin/env /abs/path` goes on with that path."""
    chain: list[tuple[str, str]] = []
    program = command
    while len(chain) < SHEBANG_HOPS and "{" not in program and program.startswith("/") and os.path.isfile(program):
        try:
            with open(program, "rb") as handle:
                first = handle.read(SHEBANG_BYTES).split(b"\n", 1)[0]
        except OSError:
            break
        words = first[2:].decode(errors="replace").split() if first.startswith(b"#!") else []
        if words and Path(words[0]).name == "env":
            words = [word for word in words[1:] if not word.startswith("-") and "=" not in word][:1]
        if not words or not words[0].startswith("/"):
            break
        chain.append((program, words[0]))
        program = words[0]
    return chain


def refuse_hidden_paths(spec: ServerSpec, where: str) -> None:
    """A ServerFileError for a path that the entry's command (or the interpreter of its `#!` line), args, env,
    `sh -c` script, prepare commands or read_only names and its sandbox would not show: the server used to fail at
    its start, far from the cause (python's "can't open file", the shell's "bad interpreter")."""
    named = [("command", spec.command, False), *(("args", text, False) for text in spec.args),
             *((f"env {key}", value, True) for key, value in spec.env.items()),
             *(("read_only", text, False) for text in spec.read_only)]
    shell = [(f"the {spec.command} -c script", word, True) for word in script_paths(shell_script(spec) or "")]
    shell += [("prepare", word, True) for command in spec.prepare for word in script_paths(command)]
    chain = [(f"the `#!` line of {program}", interpreter, False)
             for program, interpreter in shebang_interpreters(spec.command)]
    remedies = {"named": "the sandbox shows an absolute path that the entry's command, args or env names, read-only "
                         "at that same path, and `read_only` adds folders it needs beside it",
                "shell": "the sandbox does not look for paths inside shell text, so name it (or its folder) in "
                         "`read_only` too",
                "chain": "a venv cannot be moved, so make it again there: the sandbox shows the interpreter that the "
                         "command's `#!` line names, with its venv and the Python it was made from, read-only at "
                         "that same path"}
    for kind, texts in (("named", named), ("shell", shell), ("chain", chain)):
        for key, text, holding in texts:
            folder = hidden_folder(text, holding)
            if folder:
                raise ServerFileError(
                    f"{where}: {key} names {text}, which is on this machine but not in the server's sandbox "
                    f"({HIDDEN_FOLDERS[folder]}), so the server would not find it; move it out of {folder} (to "
                    f"/var/tmp, /srv or a home folder, say): {remedies[kind]} (nothing under "
                    f"{', '.join(HIDDEN_FOLDERS)} can be shown)")


def serves_pages(spec: ServerSpec) -> bool:
    """Whether a server gets the local pages in its sandbox: its entry names {pages} (in its hints, say), so the
    tasks written for it may fetch them."""
    texts = [spec.command, *spec.args, *spec.env.values(), *(v for vs in spec.hints.values() for v in vs)]
    return any("{pages}" in text for text in texts)


def host_folders(home: Path | None = None) -> dict[str, str]:
    """Where the folder placeholders are on this machine: under `home`, by default WORLDLINE_HOME, read at each
    call (a test or a user may set it after import)."""
    home = worldline_home() if home is None else home
    return {name: str(home / folder) for name, folder in HOME_FOLDERS.items()}


def placeholder_values(workdir: str, port: int, host: bool = False) -> dict:
    """What the placeholders stand for as the server sees them, or (`host`) where those are on this machine."""
    folders = host_folders() if host else SANDBOX_FOLDERS
    python = sys.executable if host else _sandbox_python()
    return {"pages": PAGES_URL, **folders, "python": python, "workdir": workdir, "port": str(port),
            "git_date": GIT_DATE, ENV_PLACEHOLDER: ENVIRONMENT}


def _sandbox_python() -> str:
    """{python} in the sandbox: worldline's venv at SANDBOX_VENV, or, run without a venv, its installation's own."""
    if sys.prefix != sys.base_prefix:
        return f"{SANDBOX_VENV}/bin/python"
    return sandbox_base_python()


def sandbox_base_python() -> str:
    """The interpreter of worldline's Python installation (not its venv) as the sandbox shows it."""
    return f"{python_home(Path(sys.base_prefix))}/bin/{Path(os.path.realpath(sys.executable)).name}"


def python_home(base: Path) -> str:
    """Where the sandbox shows the Python installation `base`: a system one where it is (/usr, shown anyway and
    the same on every Debian machine), any other (pyenv's ~/.pyenv/versions/X.Y.Z) at SANDBOX_PYTHON."""
    return str(base) if covered(str(base), list(SYSTEM_PATHS)) else SANDBOX_PYTHON


def expand(text: str, values: dict[str, str], where: str) -> str:
    """`text` with its placeholders filled in from `values`; a ServerFileError naming `where` for an unknown one."""
    try:
        return text.format_map(values)
    except UnsetVariable as exc:
        raise ServerFileError(f"{where}: {{env:{exc.args[0]}}} names the environment variable {exc.args[0]}, "
                              f"which is not set in worldline's environment; set it (export {exc.args[0]}=...) "
                              f"before running") from None
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:  # {env.x}, {env[0]}
        gone = (" ({root} is gone: a server sees no checkout; name a file it needs in `read_only`)"
                if isinstance(exc, KeyError) and exc.args == ("root",) else "")
        raise ServerFileError(f"{where}: bad placeholder in {text!r} ({exc}){gone}; known: "
                              f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}, {{env:NAME}}") from exc
