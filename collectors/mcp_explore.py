"""Schema-driven exploration of an MCP server (`worldline collect mcp --explore`).

Valid calls are built from each tool's input schema and grounded in what the episode has seen: the entry's hints, values
earlier results returned (entity names, paths, the commit ids they label, file lines), examples the schema's
descriptions quote, each checked against what its property claims to be (a quoted time zone the zone database does not
know serves only an invalid call; HEAD~1 needs a history of two commits). Tools that have not answered a valid call yet
go first. A bounded share of calls is deliberately invalid, of kinds the schema makes possible (a required argument left
out or misnamed, a wrong type, a value out of range, an unknown tool, a path outside the server's root, a reference to
nothing), spread evenly over the episode, each with its kind in the recorded action (`invalid_on_purpose`). A change the
state refused gets made next what its error's words point at among the tools that make things (git_commit's "No changes
staged" at git_add, the staging area's tool), and is tried again right after. A tool that makes things is not given, for
the name of what it makes, one the episode knows is there (an answer showed it, or the entry hints it as a revision):
git_create_branch gets `feature-x` or a fresh name, not the hinted `main`. A tool that names a thing that must be there
takes a name the episode knows is there and no delete removed, other than the branch checked out: git_checkout gets
`main` or a branch a create made, not the hinted `feature-x` before. While it knows none, the tool waits: no
add_observations before an entity is made or read, no checkout before a create, when `main`, which the repository
starts on, is all it knows. No call is sent twice in an episode, unless it only reads and a state-changing call that
changed something succeeded since that can change what it reads, or the state refused it and what it waited for was
made since (data review D5, D6). A branch made reaches only a read whose answer shows branch names, and a read only a
checkout may have changed is sent again only when a few draws found nothing else. docs/mcp.md (Policies) has the
measurements.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import zlib
import zoneinfo
from typing import Any

import jsonschema

from collectors.api import Collector, Policy, Task
from schemas import Action, Observation

CREATING = re.compile(r"create|write|add|new|insert|commit|set|put", re.IGNORECASE)
MAKING = re.compile(r"create|write|new|insert|init", re.IGNORECASE)
DELETING = re.compile(r"delete|remove", re.IGNORECASE)
# A commit id an answer labels as one ("Commit: 0ad8608...", "commit 0ad8608...", "with hash 8188324...",
# "Committed a41da77..."): a bare hex token may be a blob (a diff's "index 4693ad3..08b1076"), which git refuses as a
# revision (exit 129).
COMMIT_ID = re.compile(r"\b(?:commit(?:ted)?|hash|sha)\b\W{0,3}([0-9a-f]{7,40})\b", re.IGNORECASE)
# A revision relative to another ("HEAD~1", "main^^"): it names a commit only if that many ancestors exist.
RELATIVE = re.compile(r"^\S+?(?:~(\d+)|(\^+))$")
# A property whose description asks for a commit id (git_branch's `contains`: "The commit sha"), not one that
# merely mentions commits (git_log's `start_timestamp`: "for filtering commits").
COMMIT_WORDS = re.compile(r"\b(?:sha|hash|commit id)\b", re.IGNORECASE)
PATH = re.compile(r"(?<![\w/])/(?:[\w.-]+/)*[\w.-]+")
# Examples a description quotes: "IANA timezone name (e.g., 'America/New_York')", "local branches ('local')".
QUOTED = re.compile(r"'([^'\s][^'\n]{0,38})'")
# Schema-level kinds first: ArgumentMaker.make(valid=False) draws from these alone, as a JSON Schema validator
# rejects each. The others are well-typed calls the server itself refuses.
SCHEMA_KINDS = ("missing_required", "misnamed_argument", "wrong_type", "out_of_range")
INVALID_KINDS = SCHEMA_KINDS + ("unknown_tool", "outside_root", "not_found")
# The key of a tool call's recorded arguments that names the kind of a call made invalid on purpose.
INVALID_KEY = "invalid_on_purpose"
# Deliberately invalid calls, as a share of steps. The shipped scripted MCP tasks meet errors on 18% of their steps
# (data review D5: 11/60); valid exploring calls meet state errors of their own (nothing staged to commit, a file not
# written yet), so a tenth made invalid on purpose keeps exploration's error share near the scripted one instead of
# doubling it (37% before).
INVALID_RATE = 0.1
# Valid calls a tool gets before others may be called again, while it has not answered without an error.
PICK_TRIES = 3
# Tries at a call not yet sent before the episode ends: every call the server offers has been made in this state.
FRESH_TRIES = 24

# Stand-ins for values nothing in the episode supplies: plain names and sentences an agent would write.
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Lisbon", "Project Atlas")
SENTENCES = ("Prefers tea over coffee.", "Moved to Lisbon in 2019.", "Leads the release planning.",
             "Reviewed the budget on Monday.", "Owns the billing service.", "Ship the beta by Friday.")
CITIES = ("Lisbon", "Nairobi", "Osaka", "Montreal")
FILE_WORDS = ("plan", "ideas", "summary", "archive", "draft", "review")
PATH_WORDS = ("path", "file", "dir", "source", "destination", "folder")
# Ends of names that refer to a commit (not target_timezone).
REF_WORDS = ("revision", "commit", "sha", "hash", "target", "ref")
# What a property claims its value is, by its name or description, and the set that value must be in: a schema's
# own example can be wrong (the time server quotes 'America/San_Francisco', which is no IANA zone).
TIMEZONE = re.compile(r"time ?zone|\bIANA\b", re.IGNORECASE)
# An answer of a call that changes things saying it changed nothing: git_add of an unmodified file ("No changes
# were staged"), after which a commit can only fail.
NOTHING_DONE = re.compile(r"\s*(no changes|nothing)\b", re.IGNORECASE)
# Words of tool names: what stages work for a later record (git_add), and what records or drops it (git_commit,
# git_reset). An undo with nothing staged since the last of these changes nothing, though its answer says it reset.
STAGING = frozenset({"add", "stage"})
SETTLING = frozenset({"commit", "reset", "unstage"})
# The branch an answer shows checked out, in mcp-server-git's words (git_branch's "* main", git_status's "On branch
# main", git_checkout's "Switched to branch 'main'"): its checkout to the branch already checked out answers as a
# switch does, so only an earlier answer tells that nothing moved.
BRANCH_TOOLS = frozenset({"branch", "status", "checkout"})
CHECKED_OUT = re.compile(r"^\* (\S+)$|\bOn branch (\S+)|Switched to branch '([^']+)'", re.MULTILINE)
# A tool that switches to what it names (git_checkout, "Switches branches"): to the thing already current it moves
# nothing, though it answers as if it had.
SWITCHING = re.compile(r"switch", re.IGNORECASE)
# Draws a step makes before a read whose answer only a switch elsewhere may have changed is sent again: a checkout
# between branches made from one commit leaves git_log, git_show and the diffs as they were (30 seeds x 24 steps:
# 29 of 36 identical rereads came after only checkouts, creates and undos).
SWITCHED_DRAWS = 3
# Field names every MCP answer has: a change and a read sharing one of these share nothing.
ENVELOPE = frozenset({"content", "type", "text", "isError", "structuredContent", "_meta", "annotations", "mimeType",
                      "data", "result", "jsonrpc", "id", "error", "message", "code"})
# Words of an error that say only that a call failed, not what it lacked.
FAILURE_WORDS = frozenset({"error", "executing", "tool", "failed", "cannot", "could", "invalid", "with", "from",
                           "that", "this", "there", "have", "does", "must", "should"})
TEXT_WORDS = ("content", "message", "text", "observation", "description", "topic", "body", "note")
SYNONYMS = {"path": "file_path", "query": "q", "message": "msg", "timezone": "tz", "name": "title", "url": "link",
            "content": "text", "files": "paths", "entities": "items", "revision": "rev", "page_id": "id"}


def _call(method: str, params: dict) -> Action:
    from collectors.mcp import action_from_call  # collectors.mcp imports this module

    return action_from_call(method, params)


def _words(name: str, words: tuple[str, ...]) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in words)


def _is_file(path: str) -> bool:
    return "." in path.rstrip("/").rsplit("/", 1)[-1]


def _intent(tool: str) -> str | None:
    """Whether a tool's `path` names a directory or a file, from its name: a directory listing on a file fails
    (ENOTDIR) and so does a file read on a directory (EISDIR)."""
    if _words(tool, ("director", "list", "tree", "search")):
        return "dir"
    if _words(tool, ("file", "read", "write", "edit")):
        return "file"
    return None


def _making(tool: str) -> float:
    """How much an early step favours a tool: what makes things first, then what adds to them; a commit waits for
    something staged."""
    if MAKING.search(tool):
        return 4
    return 2 if CREATING.search(tool) and "commit" not in tool.lower() else 1


def _stems(text: str) -> set[str]:
    """Words of four letters or more, cut to a crude stem so that an error and a description meet across forms
    ("staged" and "staging", "entity" and "entities"): only an overlap is asked of them, never a meaning."""
    return {re.sub(r"(?:ing|ed|es|e|s)$", "", word)[:5] for word in re.findall(r"[a-z]+", text.lower())
            if len(word) >= 4 and word not in FAILURE_WORDS}


def _destroys(tool: dict) -> bool:
    """A tool that deletes or overwrites what is there (not one that makes things): early on there is little to
    act on, and a delete of nothing only says it succeeded."""
    return bool((tool.get("annotations") or {}).get("destructiveHint")) and not MAKING.search(tool.get("name", ""))


def _name_words(name: str) -> set[str]:
    return set(re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())) - {""}


def _shown(value: str, text: str) -> bool:
    """Whether a plain answer shows `value` as a whole word: `main` in "* main", not in "origin/main" or "main-fix"."""
    return re.search(rf"(?<![\w./-]){re.escape(value)}(?![\w/-])", text) is not None


def _switches(tool: str, about: str) -> bool:
    return bool(SWITCHING.search(tool) or SWITCHING.search(about))


def _required_strings(schema: dict, top: str = ""):
    """(top-level property, property name, its schema) of each string a valid call must send, inside required
    objects and arrays of objects too (add_observations' `observations[].entityName`)."""
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        prop = properties.get(name) or {}
        here = top or name
        items = prop.get("items") or {}
        if prop.get("type", "string") == "string" and "enum" not in prop and "const" not in prop:
            yield here, name, prop
        elif prop.get("type") == "object":
            yield from _required_strings(prop, here)
        elif prop.get("type") == "array" and items.get("type") == "object":
            yield from _required_strings(items, here)


def _read_only(tool: dict) -> bool:
    hint = (tool.get("annotations") or {}).get("readOnlyHint")
    return hint if isinstance(hint, bool) else not CREATING.search(tool.get("name", ""))


def _keys(value: Any) -> set[str]:
    """Field names of an answer, inside JSON a text field holds too (the memory server's graph)."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value[:50] for k in _keys(v)}
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _keys(json.loads(value))
        except ValueError:
            return set()
    return set()


def _references(arguments: Any) -> set[str]:
    """What a call names (paths, entity names, queries): strings short words aside, which name nothing."""
    return {s.lower() for s in _strings(arguments) if len(s) >= 3}


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def _checker(prop_json: str) -> jsonschema.protocols.Validator:
    prop = json.loads(prop_json)
    return jsonschema.validators.validator_for(prop, default=jsonschema.Draft7Validator)(
        prop, format_checker=jsonschema.FormatChecker())


def _is_what_it_claims(name: str, prop: dict, value: str) -> bool:
    """Whether a hinted or quoted string is what its property says it is: of the property's own schema (pattern,
    format, enum, length) and, for a time zone, a name the zone database knows."""
    if TIMEZONE.search(name) or TIMEZONE.search(prop.get("description") or ""):
        if value not in _timezones():
            return False
    shape = {k: v for k, v in prop.items() if k in ("type", "enum", "const", "pattern", "format", "minLength",
                                                       "maxLength")}
    return not shape or _checker(json.dumps(shape, sort_keys=True)).is_valid(value)


def _wrong_type(kind: Any, value: Any) -> Any:
    """A value of another JSON type than `kind`, the way a caller gets it wrong: a number for a string, a word for a
    number (a numeric string would be coerced by lax validators), a bare value for a list."""
    if kind == "string":
        return 42
    if kind in ("integer", "number"):
        return "five"
    if kind == "boolean":
        return "yes"
    if kind == "array":
        return value[0] if isinstance(value, list) and value and not isinstance(value[0], list) else "item"
    if kind == "object":
        return "{}"
    return ["value"]


class ArgumentMaker:
    """Arguments from a JSON schema: valid ones grounded in the episode, and deliberately invalid ones of a chosen
    kind. String values come first from the server's hints and from what earlier results returned (`pool`), so
    calls chain: an entity created, a file written or a commit made is what later calls name."""

    def __init__(self, rng: random.Random, hints: dict[str, list[str]]):
        self.rng = rng
        self.hints = hints
        self.pool: dict[str, list[str]] = {}
        self.lines: dict[str, list[str]] = {}  # path -> lines known to be in that file (for edits' oldText)
        # value -> the tools an error of which named it, "" for every tool that reads: what a read did not find no
        # other read finds, but 'main', which a branch cannot be created as, can still be checked out.
        self.failed: dict[str, set[str]] = {}
        self.worked: set[str] = set()  # values of calls that succeeded
        # Names a delete of what they name answered for, not made or shown as a thing's own `name` since: no longer
        # there (add_observations of an entity delete_entities removed was refused "Entity with name ... not found").
        self.gone: set[str] = set()
        # Commits the last answer listing any showed, none after a change since (a checkout may leave fewer behind
        # HEAD): how far back a relative revision may reach.
        self.history = 0
        self.strikes: dict[tuple[str, str], int] = {}  # (tool, value) of failed calls the error did not name
        self.tool = ""
        self.about = ""  # the description of the tool a valid call is being made for
        self.current: str | None = None  # the branch the policy last saw checked out: a switch to it moves nothing
        self.context: dict = {}
        self.top = ""  # the top-level property a valid call's value is being made for
        # Plain texts of answers without an error: a name one shows (git_branch's "* main", "Created branch
        # 'feature-x'") is there, and a tool that makes things is not given it to make again. A JSON answer shows
        # one only under the property's own field (`pool`): read_graph's relations name entities that may not be.
        self.answers: list[str] = []
        # A value the entry hints as a revision or a target is one it says is there to name (git's `main`), before
        # any answer has shown it.
        self.referenced = {v for k, vs in hints.items() if k.lower().endswith(REF_WORDS) for v in vs}
        paths = [v for k, vs in hints.items() if _words(k, PATH_WORDS) for v in vs if v.startswith("/")]
        self.root = min(paths, key=len).rstrip("/") if paths else None

    # ---- what the episode has seen ----

    def remember(self, value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self.remember(v, k)
        elif isinstance(value, list):
            for v in value[:50]:
                self.remember(v, key)
        elif isinstance(value, str) and value:
            self.failed.pop(value, None)
            if key and key != "text" and len(value) <= 200:
                self._add(key, value)
            if value[:1] in "[{":
                try:
                    self.remember(json.loads(value), key)
                except ValueError:
                    pass
            for token in COMMIT_ID.findall(value):
                self._add("#commit", token)
            for token in PATH.findall(value):
                self._add("#path", token)

    def remember_call(self, arguments: dict, result: Any) -> None:
        """What a successful call tells about files: the content it wrote or the text it read is in its path."""
        path = arguments.get("path")
        if not isinstance(path, str):
            return
        self.failed.pop(path, None)
        self._add("#path", path)
        texts = [arguments["content"]] if isinstance(arguments.get("content"), str) else []
        if not texts and isinstance(result, dict) and "read" in self.tool:
            texts = [c.get("text", "") for c in result.get("content") or [] if isinstance(c, dict)]
        lines = [line for text in texts for line in text.splitlines() if line.strip()]
        if lines:
            self.lines[path] = lines[:30]

    def judge(self, arguments: Any, error_text: str | None) -> None:
        """After a valid call: a value its error named (an unknown time zone, a missing file) is not offered again,
        nor one that failed twice and never worked (a malformed time the message does not quote). The name a tool
        that makes things answered for is there to be named (git_checkout's `branch_name` after git_create_branch's
        "Created branch 'grace-hopper'", whose plain answer holds it under no field)."""
        if error_text is None and MAKING.search(self.tool) and isinstance(arguments, dict):
            for key, value in arguments.items():
                if isinstance(value, str) and value and key.lower().endswith("name"):
                    self._add(key, value)
        if error_text is None and DELETING.search(self.tool) and isinstance(arguments, dict):
            deleted = _stems(" ".join(w for w in _name_words(self.tool) if not DELETING.search(w)))
            for key, value in arguments.items():
                if key.lower().endswith(("name", "names")) and deleted & _stems(" ".join(_name_words(key))):
                    self.gone.update(_strings(value))
        for value in _strings(arguments):
            if error_text is None:
                self.worked.add(value)
                self.failed.pop(value, None)
            elif value in error_text and len(value) >= 3:
                self.failed.setdefault(value, set()).add(self.tool if CREATING.search(self.tool) else "")
            elif value not in self.worked:
                strikes = self.strikes[self.tool, value] = self.strikes.get((self.tool, value), 0) + 1
                if strikes >= 2:
                    self.failed.setdefault(value, set()).add(self.tool)

    def _add(self, key: str, value: str) -> None:
        if key == "name" or MAKING.search(self.tool) and key.lower().endswith("name"):
            self.gone.discard(value)  # made again, or shown as a thing's own name
        values = self.pool.setdefault(key, [])
        if value not in values:
            values.append(value)
            del values[:-30]

    # ---- valid arguments ----

    def make(self, schema: dict, valid: bool = True, tool: str = "", about: str = "") -> dict:
        """Arguments for `schema`: valid, or (valid=False) invalid by one of SCHEMA_KINDS that applies. `about` is the
        tool's description, which says what a checkout's name refers to ("Switches branches")."""
        if valid:
            return self.valid(schema, tool, about)
        kinds = [k for k in SCHEMA_KINDS if self.applies(k, schema or {}, tool)] or ["wrong_type"]
        return self.invalid(self.rng.choice(kinds), schema or {}, tool)

    def valid(self, schema: dict, tool: str = "", about: str = "") -> dict:
        self.tool, self.about, self.context = tool, about or "", {}
        self._object(schema or {}, self.context)
        self.top = ""  # a prompt's argument, made by value() alone, is no tool's
        return self.context

    def _object(self, schema: dict, into: dict | None = None) -> dict:
        into = {} if into is None else into
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        # At most one optional property: options the schema cannot say exclude each other often do (read_file's
        # head and tail: "Cannot specify both").
        optional = [n for n in properties if n not in required and self._grounded(n, properties[n] or {})]
        extra = self.rng.choice(optional) if optional and self.rng.random() < 0.5 else None
        for name, prop in properties.items():
            if into is self.context:
                self.top = name
            # Left out, a default URL off the machine is what the server fetches, and fails: no network here. A
            # number the entry hints overrides a default it does not want (everything's 10 s long-running operation).
            if (name in required or name == extra or self._remote_default(name, prop or {})
                    or self._hinted_numbers(name, prop or {})):
                into[name] = self.value(name, prop)
        return into

    def _hinted_numbers(self, name: str, prop: dict) -> list[int | float]:
        if prop.get("type") not in ("integer", "number"):
            return []
        numbers = []
        for hint in self.hints.get(name, []):  # the servers file's hints are strings
            try:
                numbers.append(int(hint) if prop["type"] == "integer" else float(hint))
            except ValueError:
                continue
        return numbers

    def _grounded(self, name: str, prop: dict) -> bool:
        """Whether an optional property has a value worth sending: anything but a string made up from nothing (a
        made-up commit id in git_branch's `contains` only fails)."""
        if prop.get("type", "string") != "string" and not prop.get("anyOf") and not prop.get("oneOf"):
            return True
        if "enum" in prop or self._usable_default(name, prop):
            return True
        return bool(self._candidates(name, prop))

    def value(self, name: str, prop: dict) -> Any:
        prop = prop or {}
        if "enum" in prop:
            return self.rng.choice(prop["enum"])
        if "const" in prop:
            return prop["const"]
        hinted = self._hinted_numbers(name, prop)
        if hinted:
            return self.rng.choice(hinted)
        if self._usable_default(name, prop) and self.rng.random() < 0.3:
            return prop["default"]
        for union in ("anyOf", "oneOf"):
            if prop.get(union):
                options = [p for p in prop[union] if p.get("type") != "null"] or prop[union]
                return self.value(name, {**self.rng.choice(options), "description": prop.get("description", "")})
        kind = prop.get("type", "string")
        if isinstance(kind, list):
            kind = self.rng.choice([k for k in kind if k != "null"] or kind)
        if kind == "string":
            return self._string(name, prop)
        if kind in ("integer", "number"):
            return self._number(prop, kind)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "array":
            hinted = [v for v in self.hints.get(name, []) if not self._failed(v)]
            if hinted:
                return self.rng.sample(hinted, self.rng.randint(1, min(2, len(hinted))))
            items = prop.get("items") or {"type": "string"}
            count = max(prop.get("minItems", 1), 1 if self.rng.random() < 0.7 else 2)
            values = []
            for _ in range(count):
                item = self.value(name[:-1] if name.endswith("s") else name, items)
                if item not in values:
                    values.append(item)
            return values
        if kind == "object":
            return self._object(prop)
        return None

    def _usable_default(self, name: str, prop: dict) -> bool:
        """A default other than null, and not a URL off the machine the entry does not hint: servers run offline."""
        return prop.get("default") is not None and not self._remote_default(name, prop)

    def _remote_default(self, name: str, prop: dict) -> bool:
        default = prop.get("default")
        return (isinstance(default, str) and default.startswith(("http://", "https://"))
                and default not in self.hints.get(name, []) + self.hints.get("url", []))

    def _number(self, prop: dict, kind: str) -> int | float:
        default = prop.get("default")
        default = default if isinstance(default, (int, float)) and not isinstance(default, bool) else None
        # Without bounds, near the default: 0 is out of range for a limit or a count more often than not.
        low = prop.get("minimum", 1 if default is None or default >= 1 else default)
        high = prop.get("maximum", max(low + 4, min(default or 0, low + 9)))
        if math.ceil(low) > math.floor(high):  # bounds with no whole number between them
            return low if kind == "number" else math.ceil(low)
        number = self.rng.randint(math.ceil(low), math.floor(high))
        return number if kind == "integer" else float(number)

    def _candidates(self, name: str, prop: dict) -> list[str]:
        lowered = name.lower()
        description = prop.get("description") or ""
        found = list(self.hints.get(name, [])) + self.pool.get(name, [])
        if _words(name, PATH_WORDS):
            found = [p for p in found if self._suits(p)] + self._paths()
            if "edit" in self.tool and self.lines:
                found = list(self.lines)  # a file whose text is known, so an edit's oldText can match
        if lowered.endswith("name") or lowered in ("from", "to", "names"):
            found += self.pool.get("name", [])  # entities created earlier are what later calls refer to
        if lowered.endswith(REF_WORDS) or COMMIT_WORDS.search(description):
            found += self.pool.get("#commit", [])
        if _words(name, ("old",)) or "match exactly" in description:
            path = self.context.get("path")
            found += self.lines.get(path, []) if isinstance(path, str) else []
        found += QUOTED.findall(description)
        if self._names_made(name):
            found = [value for value in found if not self._exists(value, name)]
        usable = [value for value in dict.fromkeys(found)
                  if not self._failed(value) and self._reachable(value) and _is_what_it_claims(name, prop, value)]
        if self._names_there(name):
            # A hinted name nothing has shown yet may not be there: `git_checkout feature-x` before any create was
            # refused "Ref 'feature-x' did not resolve" (5 of 36 checkouts, 30 seeds x 15 steps). Among those there,
            # one it is not already on: a checkout of the branch checked out answers as a switch and moves nothing.
            there = [value for value in usable if self._there(value, name)]
            return self._elsewhere(there) or there or usable
        return usable

    def _elsewhere(self, there: list[str]) -> list[str]:
        """Of the names known to be there, those a call is not already on. For a tool that switches, with nothing
        shown checked out yet, the names the episode made or saw beyond the entry's hints: the entry hints as a
        revision what the repository starts on (`main`), and a checkout of it first moved nothing in 6 of 30
        episodes."""
        if self.current is None and _switches(self.tool, self.about):
            return [value for value in there if value not in self.referenced]
        return [value for value in there if value != self.current]

    def can_name(self, tool: dict) -> bool:
        """Whether a valid call of `tool` has, for each name it must send of a thing that must be there, one the
        episode knows is there (and, for a switch, one it is not on): add_observations before any entity was made
        or read sent a made-up `entityName` and was refused (8 times in 10 episodes), and a checkout before any
        create had only `main`, the branch it was on."""
        saved = self.tool, self.about, self.top
        self.tool, self.about = tool.get("name", ""), tool.get("description") or ""
        try:
            for top, name, prop in _required_strings(tool.get("inputSchema") or {}):
                self.top = top
                if not self._names_there(name):
                    continue
                there = [value for value in self._candidates(name, prop) if self._there(value, name)]
                if not (self._elsewhere(there) if _switches(self.tool, self.about) else there):
                    return False
            return True
        finally:
            self.tool, self.about, self.top = saved

    def shows_kind(self, text: str, named: dict[str, str]) -> bool:
        """Whether an answer shows a name of the kind a call named (`branch_name`: any branch the entry hints or
        the episode made, checked out or shown): a create or a switch can change what it says of those."""
        return any(_shown(value, text) for key, made in named.items()
                   for value in {made, *self.hints.get(key, ()), *self.pool.get(key, ())})

    def _names_made(self, name: str) -> bool:
        """Whether a string property names what the tool makes: a name (`...name`) sharing a word with the tool's
        name beyond its verb, or inside a top-level property that does (git_create_branch's `branch_name`,
        create_entities' `entities[].name`). Only a tool whose name says it makes something (MAKING): an addition
        names what is there (add_observations' `entityName`), and so does a checkout."""
        if not self.top or not MAKING.search(self.tool) or not name.lower().endswith("name"):
            return False
        made = _stems(" ".join(w for w in _name_words(self.tool) if not MAKING.search(w)))
        return bool(made & _stems(" ".join(_name_words(name) | _name_words(self.top))))

    def _names_there(self, name: str) -> bool:
        """Whether a string property names a thing the tool switches to or acts on, which must be there: a name
        (`...name`) sharing a word besides `name` with the tool's name or description (git_checkout's `branch_name`
        and "Switches branches", add_observations' `entityName` and "to existing entities"). The mirror of
        _names_made: a tool whose name says it makes something names what is not there yet."""
        if not self.top or MAKING.search(self.tool) or not name.lower().endswith("name"):
            return False
        named = _stems(" ".join(_name_words(name) - {"name"}))
        return bool(named & _stems(" ".join(_name_words(self.tool)) + " " + self.about))

    def _there(self, value: str, name: str) -> bool:
        """Whether the episode knows a thing named `value` is there, for a call that names it: as _exists, or a JSON
        answer held it as a thing's own `name` (read_graph's entities, for add_observations' `entityName`); and no
        delete removed it since."""
        return value not in self.gone and (self._exists(value, name) or value in self.pool.get("name", ()))

    def _exists(self, value: str, name: str) -> bool:
        """Whether the episode knows `value` is there: the entry hints it as a revision, a JSON answer held it under
        the field `name` (an entity's `name` in read_graph, not a relation's `from`: the memory server relates
        entities that were never made), or a plain answer shows it as a whole word (`main` in "* main", not in
        "origin/main" or "main-fix")."""
        if value in self.referenced or value in self.pool.get(name, ()):
            return True
        return any(_shown(value, text) for text in self.answers)

    def _reachable(self, value: str) -> bool:
        """Whether a relative revision names a commit: `HEAD~1` only when the last history seen listed more than one
        commit with no change since (git_diff's hinted `HEAD~1` failed 4 times in 10 episodes on a one-commit
        repository, "not enough parent commits")."""
        match = RELATIVE.match(value)
        if not match:
            return True
        back = int(match.group(1)) if match.group(1) else len(match.group(2))
        return self.history > back

    def _false_examples(self, name: str, prop: dict) -> list[str]:
        """Hinted or quoted values that are not what their property claims: no valid call sends them, but an
        invalid one may, as a reference to nothing."""
        examples = list(self.hints.get(name, [])) + QUOTED.findall(prop.get("description") or "")
        return [v for v in dict.fromkeys(examples) if isinstance(v, str) and not _is_what_it_claims(name, prop, v)]

    def _failed(self, value: str) -> bool:
        tools = self.failed.get(value, ())
        return self.tool in tools or ("" in tools and not CREATING.search(self.tool))

    def _suits(self, path: str) -> bool:
        intent = _intent(self.tool)
        return not path.startswith("/") or intent is None or _is_file(path) == (intent == "file")

    def _paths(self) -> list[str]:
        """Known paths under the server's root that suit the tool (a directory for a listing, a file for a read)."""
        paths = list(self.hints.get("path", [])) + self.pool.get("#path", [])
        if self.root:
            paths = [p for p in paths if p == self.root or p.startswith(self.root + "/")]
        return [p for p in paths if self._suits(p)] or paths

    def _fresh_path(self) -> str:
        """A path under the root that nothing has named yet, for a tool that creates or moves something there."""
        folders = [p for p in self._paths() + list(self.hints.get("path", [])) if not _is_file(p)] or [self.root]
        folder = self.rng.choice(folders)
        known = set(self.pool.get("#path", [])) | {v for vs in self.hints.values() for v in vs}
        for number in range(1, 100):
            word = self.rng.choice(FILE_WORDS)
            name = word if _intent(self.tool) == "dir" or "director" in self.tool else f"{word}-{number}.md"
            path = f"{folder}/{name}"
            if path not in known:
                return path
        return f"{folder}/new.md"

    def _string(self, name: str, prop: dict) -> str:
        lowered = name.lower()
        description = prop.get("description") or ""
        # A file tool that makes something: at a path nothing holds yet (a move's destination always, or it
        # fails as "already exists"); a repository's path stays the one hinted.
        creates = (CREATING.search(self.tool) or "move" in self.tool) and _intent(self.tool)
        if self.root and _words(name, PATH_WORDS) and creates and (
                "destination" in lowered or "director" in self.tool or self.rng.random() < 0.3):
            return self._fresh_path()
        candidates = self._candidates(name, prop)
        if candidates and (self.rng.random() < 0.9 or not _words(name, TEXT_WORDS)):
            return self.rng.choice(candidates)
        if prop.get("format") == "uri" or "url" in lowered or "uri" in lowered:
            if "data uri" in description.lower():
                return "data:text/plain;base64,SGVsbG8gZnJvbSB3b3JsZGxpbmUuCg=="
            return self.rng.choice(self.hints.get("url") or ["http://127.0.0.1:9/"])
        if lowered in ("city", "location", "place"):
            return self.rng.choice(CITIES)
        if lowered.endswith("name") or lowered in ("from", "to", "entity"):
            hinted = self.hints.get(name, [])
            # Shaped like the entry's own values: a branch name has no spaces.
            spaced = not hinted or any(" " in h for h in hinted)
            shaped = [n if spaced else n.lower().replace(" ", "-") for n in NAMES]
            if self._names_made(name):
                # What is made gets a name nothing has shown: "Cannot create branch 'main'" wastes the step.
                fresh = [n for n in shaped if not self._exists(n, name) and not self._failed(n)]
                shaped = fresh or [f"{n}-{len(self.answers)}" for n in shaped]
            return self.rng.choice(shaped)
        if _words(name, PATH_WORDS) and self.root:
            return self._fresh_path()
        if _words(name, ("query", "pattern", "search")):
            names = self.pool.get("name", []) + list(NAMES)
            return self.rng.choice(names).split()[0]
        return self.rng.choice(SENTENCES)

    # ---- invalid arguments ----

    def applies(self, kind: str, schema: dict, tool: str) -> bool:
        properties = schema.get("properties") or {}
        if kind in ("missing_required", "misnamed_argument"):
            return bool(schema.get("required"))
        if kind == "wrong_type":
            return bool(properties)
        if kind == "out_of_range":
            return any(self._range_breaker(p) is not None for p in properties.values())
        if kind == "outside_root":
            return bool(self.root) and any(_words(n, PATH_WORDS) for n in properties)
        if kind == "not_found":
            return not CREATING.search(tool) and any(self._missing(n, p) is not None for n, p in properties.items())
        return kind == "unknown_tool"

    def invalid(self, kind: str, schema: dict, tool: str) -> dict:
        arguments = self.valid(schema, tool)
        properties = schema.get("properties") or {}
        required = [r for r in schema.get("required") or [] if r in arguments]
        if kind in ("missing_required", "misnamed_argument") and required:
            name = self.rng.choice(required)
            value = arguments.pop(name)
            if kind == "misnamed_argument":
                arguments[self._misnamed(name, properties)] = value
        elif kind == "out_of_range":
            name = self.rng.choice([n for n, p in properties.items() if self._range_breaker(p) is not None])
            arguments[name] = self._range_breaker(properties[name])
        elif kind == "outside_root":
            name = self.rng.choice([n for n in properties if _words(n, PATH_WORDS)])
            parent = self.root.rsplit("/", 1)[0] or "/"
            outside = self.rng.choice([parent, f"{self.root}/../outside.txt", "/etc/hosts"])
            arguments[name] = [outside] if (properties[name] or {}).get("type") == "array" else outside
        elif kind == "not_found":
            name = self.rng.choice([n for n, p in properties.items() if self._missing(n, p) is not None])
            missing = self._missing(name, properties[name])
            arguments[name] = [missing] if (properties[name] or {}).get("type") == "array" else missing
        elif kind != "unknown_tool":  # wrong_type; unknown_tool keeps the arguments, changing the name
            present = [n for n in properties if n in arguments]
            name = self.rng.choice(present or sorted(properties) or ["value"])
            kind_of = (properties.get(name) or {}).get("type")
            if kind_of is None:
                options = (properties.get(name) or {}).get("anyOf") or [{"type": "string"}]
                kind_of = next((o.get("type") for o in options if o.get("type") != "null"), "string")
            arguments[name] = _wrong_type(kind_of, arguments.get(name))
        return arguments

    def _misnamed(self, name: str, properties: dict) -> str:
        camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
        snake = re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)
        for option in (SYNONYMS.get(name), camel, snake, name + "s", name + "_value"):
            if option and option != name and option not in properties:
                return option
        return name + "_"

    @staticmethod
    def _range_breaker(prop: dict) -> Any:
        prop = prop or {}
        if "maximum" in prop:
            return prop["maximum"] + 1
        if "minimum" in prop:
            return prop["minimum"] - 1
        if prop.get("enum") and all(isinstance(e, str) for e in prop["enum"]):
            for option in (prop["enum"][0].lower(), prop["enum"][0].upper(), prop["enum"][0] + "s"):
                if option not in prop["enum"]:
                    return option
        if prop.get("type") == "array" and prop.get("minItems", 0) >= 1:
            return []
        if prop.get("type") == "string" and prop.get("maxLength"):
            return "x" * (prop["maxLength"] + 1)
        return None

    def _missing(self, name: str, prop: dict) -> str | None:
        """A well-formed reference to something that is not there, for a string property that names a thing."""
        prop = prop or {}
        if (prop.get("items") or {}).get("type", prop.get("type", "string")) != "string":
            return None
        lowered = name.lower()
        false = self._false_examples(name, prop)
        if false:
            return false[0]
        if _words(name, PATH_WORDS) and self.root:
            return f"{self.root}/{self.rng.choice(FILE_WORDS)}-missing.txt"
        if lowered.endswith(REF_WORDS):
            return "0123456789abcdef0123456789abcdef01234567"
        if lowered.endswith(("name", "names", "id")):
            known = set(self.pool.get("name", [])) | set(self.pool.get(name, []))
            absent = [n for n in ("Marie Curie", "Nikola Tesla", "list/planet") if n not in known]
            return absent[-1] if lowered.endswith("id") else absent[0]
        return None


class ExplorePolicy(Policy):
    """Chooses calls by the server's own schemas: valid tool calls that cover every tool (chained through returned
    values), a bounded share of invalid ones of varied kinds, reads of listed resources and gets of listed prompts,
    and the follow-up of a paginated listing. Deterministic for a task and a seed."""

    name = "explore"

    def __init__(self, invalid_rate: float = INVALID_RATE):
        self.invalid_rate = invalid_rate

    def begin(self, task: Task, collector: Collector, seed: int) -> None:
        self.rng = random.Random(zlib.crc32(f"{task.id}\0{seed}".encode()))
        self.collector = collector
        hints = collector.connection.hints() if collector.connection else {}
        self.maker = ArgumentMaker(self.rng, hints)
        self.skip = set(task.options.get("skip_tools") or [])
        # Where in the episode the invalid calls fall: every 1/rate steps, from a point the seed chooses.
        self.phase = self.rng.random()
        self.invalid_calls: list[tuple[str, str]] = []  # (action text, kind) of the calls made invalid on purpose
        self.kinds: dict[str, int] = {kind: 0 for kind in INVALID_KINDS}
        self.calls: dict[str, int] = {}
        self.tried: dict[str, int] = {}  # valid calls sent, by tool
        self.answered: set[str] = set()  # tools a valid call got an answer from without an error
        self.stuck: dict[str, int] = {}  # tool -> what it waits for (_made_for) when a valid call of it last failed
        # A failed tool -> the tools that make things which its error's words point at (git_commit's "No changes
        # staged for commit" at git_add, "Adds file contents to the staging area"): what prepares its next try.
        self.needs: dict[str, list[str]] = {}
        self.made_by: dict[str, int] = {}  # calls that made or added something, by tool
        self.prepared: dict[str, int] = {}  # failed tool -> calls of a tool it needs sent for it
        self.preparing: list[str] = []  # failed tools the call _pick chose prepares, counted once it is sent
        # Calls a valid try of which the state refused: sent again once what their tool waits for was made (a
        # commit of the same message after git_add), though a call is otherwise never sent twice.
        self.refused: set[str] = set()
        self.made: str | None = None  # the tool of the last valid call, if it made or added something
        self.makes = 0  # calls that made or added something
        # (tool, the tool that made something) of tries right after it: what a commit needs is what git_add makes,
        # not what git_create_branch does, so a try after the one does not use up the try after the other.
        self.retried: set[tuple[str, str]] = set()
        self.retrying: tuple[str, str] | None = None  # such a try _pick chose, marked retried once it is sent
        # Successful state changes, in order: (what the call named, the words of its tool's name, the names a
        # create made or a switch moved to by property, whether it switches).
        self.changes: list[tuple[set[str], set[str], dict[str, str], bool]] = []
        self.sent: dict[str, int] = {}  # action text -> state changes seen when it was sent
        self.read: dict[str, tuple[str, set[str]]] = {}  # read's text -> (its last answer, that answer's fields)
        self.last_invalid = False
        self.staged = False  # whether something was staged since the last commit or undo
        self.checked_out: str | None = None  # the branch the last answer showing one showed checked out

    def act(self, observation: Observation, history):
        try:
            value = json.loads(observation.raw)
        except ValueError:
            value = None
        if history:
            self._learn(history[-1][0], observation, value)
        if isinstance(value, dict):
            if history and history[-1][0].kind == "tools/list":
                self.collector.tools.extend(value.get("tools") or [])
            listing = value.get("tools/list", value)
            if isinstance(listing, dict) and listing.get("nextCursor"):
                return self._send(_call("tools/list", {"cursor": listing["nextCursor"]}), None)
        for attempt in range(FRESH_TRIES):
            action, kind = self._choose(len(history))
            if action is None:
                return None
            if (action.text not in self.sent
                    or (self._rereads(action) and self._affected(action, switched=attempt >= SWITCHED_DRAWS))
                    or (action.text in self.refused and self._unblocked(action.arguments.get("name")))):
                return self._send(action, kind)
            if self.retrying and attempt >= 2:
                self.retried.add(self.retrying)  # its calls left were all sent: the others' turn
        return None

    def _rereads(self, action: Action) -> bool:
        """Whether a call may be sent again after a state change: one that only reads (the graph, a listing, a
        resource) can answer otherwise; a write or a delete again only repeats itself (data review D6)."""
        if action.kind == "resources/read":
            return True
        tool = self._tool(action.arguments.get("name")) if action.kind == "tools/call" else None
        return tool is not None and _read_only(tool)

    def _affected(self, action: Action, switched: bool = True) -> bool:
        """Whether a change since this read was sent can have changed its answer (data review D6: allowed after any
        change, rereads gave the same answer in 13 of 280 filesystem rows and 25 of 240 everything rows, 10
        episodes of twice the tool count). A read that names things is affected by a change naming one of them, or
        a path above or below one (a write under a listed directory, a move of the file read, an observation added
        to an entity opened, any git call on the repository the status reads). A read naming nothing (the whole
        graph, the allowed directories, a resource: its URI names none of what it holds) is affected by a change
        its last answer shows: a value the change names is in it, or it has a field the change's tool name says
        it acts on (create_entities, read_graph's `entities`); a read with no answer yet, by any change.
        A create or a switch that names what it made or moved to (`branch_name`) reaches only a read whose last
        answer shows a name of that kind (git_branch's "* main", git_status's "On branch main"): a branch made
        leaves git_log and the diffs as they were, and so, more often than not, does a checkout between branches
        made from one commit, which counts only when `switched` (after SWITCHED_DRAWS draws found nothing else)."""
        since = self.changes[self.sent[action.text]:]
        if not since:
            return False
        arguments = action.arguments.get("arguments") if action.kind == "tools/call" else None
        if arguments:
            names = _references(arguments)
            touching = [(reach, switch) for named, _, reach, switch in since
                        if any(r in c or c in r for c in named for r in names)]
            if not touching or action.text not in self.read:
                return bool(touching)
            answer = self.read[action.text][0]
            return any(not reach or self.maker.shows_kind(answer, reach) or (switch and switched)
                       for reach, switch in touching)
        if action.text not in self.read:
            return True
        answer, fields = self.read[action.text]
        lowered = answer.lower()
        return any(fields & words or any(c in lowered for c in named) for named, words, _, _ in since)

    def _tool(self, name: Any) -> dict | None:
        return next((t for t in self.collector.tools if t.get("name") == name), None)

    def _learn(self, action: Action, observation: Observation, value: Any) -> None:
        meta = observation.meta or {}
        failed = meta.get("is_error") or meta.get("jsonrpc_error")
        arguments = action.arguments.get("arguments") or {} if action.kind == "tools/call" else action.arguments
        self.maker.tool = action.arguments.get("name", "") if action.kind == "tools/call" else ""
        if self.last_invalid:
            # An invalid call changes nothing: what the call before it made still waits for its consumer.
            return
        if action.kind == "tools/call":
            self.maker.judge(arguments, observation.text if failed else None)
            self.made = None  # a resource read or a prompt in between leaves what was made to its consumer
        if not failed and observation.text[:1] not in "[{":  # JSON shows names under fields, read by remember()
            self.maker.answers.append(observation.text)
            del self.maker.answers[:-100]
        if failed:
            # A tool waits for something to be made, unless it makes things itself and the error names one of its
            # values: that name is taken ("Cannot create branch 'main'"), judge() set it aside, and another may work
            # now, where more made would not. A read or an addition naming a value is refused for what is not there
            # yet ("Entity with name Lisbon not found"), which something made may be.
            if action.kind == "tools/call" and not (MAKING.search(self.maker.tool) and any(
                    len(v) >= 3 and v in observation.text for v in _strings(arguments))):
                # Only a change gets what it lacks made for it: a read of a file not there (ENOENT) points at
                # write_file, which writes a path of its own choosing, and the read keeps waiting for any make.
                tool = self._tool(self.maker.tool)
                changes = tool is not None and not _read_only(tool)
                self.needs[self.maker.tool] = self._preparers(self.maker.tool, observation.text) if changes else []
                self.stuck[self.maker.tool] = self._made_for(self.maker.tool)
                self.refused.add(action.text)
            return  # an error message's words are no values to reuse
        tool = self._tool(action.arguments.get("name")) if action.kind == "tools/call" else None
        changing = tool is not None and not _read_only(tool)
        if changing and NOTHING_DONE.match(observation.text):
            return  # no change, and its tool waits for a call that makes one (another file to add)
        if action.kind == "tools/call":
            self.answered.add(action.arguments.get("name"))
            # Answered, but no read it names may answer otherwise for it (git_log sent again after a git_reset
            # with nothing staged gave the same answer).
            changing = self._changed_something(tool, observation.text) and changing
        listed = set(COMMIT_ID.findall(observation.text))
        if changing or listed:
            self.maker.history = 0 if changing else len(listed)
        if isinstance(value, dict):
            self.maker.remember(value)
        if self._rereads(action):
            self.read[action.text] = (observation.text, _keys(value) - ENVELOPE)
        if action.kind == "tools/call":
            self.maker.remember_call(arguments, value)
            if changing:
                words = {w for w in _name_words(tool["name"]) if len(w) >= 4}
                # What a create made or a switch moved to, by name: a read showing no such name it leaves alone.
                switch = _switches(tool["name"], tool.get("description") or "")
                reach = {key: value for key, value in arguments.items() if isinstance(value, str) and value
                         and key.lower().endswith("name")} if MAKING.search(tool["name"]) or switch else {}
                # A read it touches may now answer otherwise.
                self.changes.append((_references(arguments), words, reach, switch))
                # git_reset says "set" but undoes: only what makes or adds counts.
                self.made = tool["name"] if CREATING.search(tool["name"]) and not _destroys(tool) else None
                self.makes += self.made is not None
                if self.made:
                    self.made_by[self.made] = self.made_by.get(self.made, 0) + 1

    def _preparers(self, name: str, error: str) -> list[str]:
        """Tools that make or add things (not `name`, nothing destructive) whose name or description shares a word
        with what `name`'s error says beyond its own name: "No changes staged for commit" names the staging area
        git_add adds to, not the branch git_create_branch makes. None when the error points at no such tool: then
        anything made may be what it waits for."""
        said = _stems(error) - _stems(" ".join(_name_words(name)))
        return [t["name"] for t in self.collector.tools
                if t.get("name") != name and not _read_only(t) and not _destroys(t) and CREATING.search(t["name"])
                and said & _stems(" ".join(_name_words(t["name"])) + " " + (t.get("description") or ""))]

    def _made_for(self, name: str) -> int:
        """What a failed tool waits for, counted: the calls that made something by a tool its error points at, or
        by any tool if it points at none."""
        needs = self.needs.get(name)
        return sum(self.made_by.get(n, 0) for n in needs) if needs else self.makes

    def _unblocked(self, name: Any) -> bool:
        """Whether a tool is not waiting: it never failed, or what it waits for was made since it last did."""
        return self.stuck.get(name, -1) < self._made_for(name)

    def _changed_something(self, tool: dict | None, answer: str) -> bool:
        """After a call answered without an error: whether, if it changes things, it changed something, by what the
        episode's answers showed before it. An undo (destructive, named reset or unstage) with nothing staged since
        the last commit or undo leaves all as it was (the episode starts with nothing staged: the servers file's
        repository has a change not added); so does a checkout to the branch earlier answers showed checked out."""
        if tool is None:
            return True
        words = _name_words(tool["name"])
        before, shown = self.checked_out, []
        if words & BRANCH_TOOLS:  # only git's: a Markdown list item elsewhere reads like git_branch's "* main"
            shown = [next(group for group in match.groups() if group) for match in CHECKED_OUT.finditer(answer)]
            self.checked_out = shown[-1] if shown else None if "detached" in answer else before
        if _read_only(tool):
            return True
        staged = self.staged
        if words & STAGING:
            self.staged = True
        elif words & SETTLING:
            self.staged = False
        if _destroys(tool) and words & SETTLING and not staged:
            return False
        return not (shown and shown[-1] == before)

    def _send(self, action: Action, kind: str | None) -> Action:
        self.sent[action.text] = len(self.changes)
        self.refused.discard(action.text)  # sent again once; a new refusal adds it back
        if kind is None and action.kind == "tools/call":
            name = action.arguments.get("name")
            self.tried[name] = self.tried.get(name, 0) + 1
            for waiting in self.preparing:
                self.prepared[waiting] = self.prepared.get(waiting, 0) + 1
            if self.retrying and name == self.retrying[0]:
                self.retried.add(self.retrying)  # once: the next change may be no more what it needs
        self.last_invalid = kind is not None
        if kind is not None:
            self.kinds[kind] += 1
            self.invalid_calls.append((action.text, kind))
            # In the row's action (arguments_json), beside the call's name and arguments: what a reader of the raw
            # collection tells an intended error from one the state gave by. The client sends the server only the
            # name and arguments, and the text stays the call as the benchmark writes it.
            action.arguments[INVALID_KEY] = kind
        return action

    def _choose(self, step: int) -> tuple[Action | None, str | None]:
        tools = [t for t in self.collector.tools if t.get("name") not in self.skip
                 # a call without the task augmentation this client does not make only fails, whatever its arguments
                 and (t.get("execution") or {}).get("taskSupport") != "required"]
        self.preparing = []  # set again by _pick: an invalid call, a resource read or a prompt prepares nothing
        due = math.floor(self.invalid_rate * (step + 1) + self.phase)
        if tools and len(self.invalid_calls) < due:
            return self._invalid(tools)
        roll = self.rng.random()
        if self.collector.resources and roll < 0.1:
            return _call("resources/read", {"uri": self.rng.choice(self.collector.resources)["uri"]}), None
        if self.collector.prompts and roll < 0.2:
            return self._prompt(tools), None
        if not tools:
            return None, None
        self.maker.current = self.checked_out
        tool = self._pick(tools, early=step < 5)
        arguments = self.maker.make(tool.get("inputSchema") or {}, valid=True, tool=tool["name"],
                                    about=tool.get("description") or "")
        return _call("tools/call", {"name": tool["name"], "arguments": arguments}), None

    def _pick(self, tools: list[dict], early: bool) -> dict:
        """Tools no valid call has had an answer from yet first, so an episode of twice as many steps as tools
        reaches them all (a tool failing on the state, nothing staged to commit, gets a few tries, each after a
        change, not the rest of the episode); among them, those called least; early on, tools that create things,
        so later calls have entities, files and commits to act on."""
        # A tool that must name a thing there and knows none it could go to waits: for an entity made, a branch
        # made besides the one checked out. What else there is goes first.
        tools = [t for t in tools if self.maker.can_name(t)] or tools
        waiting = [t for t in tools if t["name"] not in self.answered and self.tried.get(t["name"], 0) < PICK_TRIES]
        # One that failed waits for something to be made (a commit for something staged, observations for an
        # entity): a checkout or a reset gives it nothing new (git_commit failed 3 times on nothing staged).
        ready = [t for t in waiting if self._unblocked(t["name"])]
        # Right after a call made something, one that failed is tried again, and a commit not tried yet is tried:
        # what it needs (an entity, something staged) may have just been made, and a delete or a reset a step
        # later undoes it (git_commit missed in 4 of 10 episodes of 24 steps, a git_reset between add and commit).
        # Its tries spent do not keep it out: those may all have come before anything was staged. A commit goes
        # first: what was just staged is what it records.
        # One whose error pointed at some tools is tried after what they made, not after a branch was made; a
        # commit not tried yet, only once something is staged (a branch made, as it now is at the first try rather
        # than refused as `main`, was followed by a commit refused for nothing staged: 21 -> 26 refused, 30 episodes).
        again = [t for t in tools if t["name"] not in self.answered and self._unblocked(t["name"])
                 and (t["name"], self.made) not in self.retried
                 and self.made in (self.needs.get(t["name"]) or [self.made])
                 and (t["name"] in self.stuck or "commit" in t["name"].lower() and self.staged)] if self.made else []
        again = [t for t in again if "commit" in t["name"].lower()] or again
        # A tool that changes things, refused on the state and never answered, gets what its error points at made
        # next (git_add after "No changes staged for commit"), a few times at most: left to the draw, the staging
        # came too late or a branch was made instead, and git_commit went unanswered in 4 of 10 episodes of 15
        # steps.
        blocked = [name for name in self.needs if name not in self.answered and not self._unblocked(name)
                   and self.prepared.get(name, 0) < PICK_TRIES and self._tool(name) in tools]
        prepare = [t for t in tools if any(t["name"] in self.needs[name] for name in blocked)] if not again else []
        pool = again or prepare or ready or tools
        # While tools wait, what makes things comes first throughout, not only early.
        weights = [(_making(t["name"]) * (0.25 if _destroys(t) else 1) if early or ready else 1)
                   / (1 + self.calls.get(t["name"], 0)) ** 2 for t in pool]
        tool = self.rng.choices(pool, weights)[0]
        # Counted when sent, as a retry is: a draw of arguments already sent is no preparation.
        self.preparing = [name for name in blocked if tool["name"] in self.needs[name]] if prepare else []
        # Marked when sent: a retry drawn with arguments already sent is drawn again, not given up.
        self.retrying = (tool["name"], self.made) if again else None
        self.calls[tool["name"]] = self.calls.get(tool["name"], 0) + 1
        return tool

    def _invalid(self, tools: list[dict]) -> tuple[Action, str]:
        """An invalid call of the kind this episode has made least, on a tool whose schema allows that kind."""
        allowing = {kind: [t for t in tools if self.maker.applies(kind, t.get("inputSchema") or {}, t["name"])]
                    for kind in INVALID_KINDS}
        kinds = [kind for kind in INVALID_KINDS if allowing[kind]]
        fewest = min(self.kinds[k] for k in kinds)
        kind = self.rng.choice([k for k in kinds if self.kinds[k] == fewest])
        tool = self.rng.choice(allowing[kind])
        schema = tool.get("inputSchema") or {}
        arguments = self.maker.invalid(kind, schema, tool["name"])
        name = tool["name"]
        if kind == "unknown_tool":
            names = {t.get("name") for t in self.collector.tools}
            variants = [name.replace("_", "-"), name.replace("-", "_"), name.split("_", 1)[-1],
                        name.split("-", 1)[-1], name + "s", "get_" + name]
            name = next(v for v in variants if v not in names)
        return _call("tools/call", {"name": name, "arguments": arguments}), kind

    def _prompt(self, tools: list[dict]) -> Action:
        prompt = self.rng.choice(self.collector.prompts)
        # A prompt argument has no schema; a tool property of the same name has (an enum of resource types, say).
        shapes = {n: p for t in tools for n, p in ((t.get("inputSchema") or {}).get("properties") or {}).items()}
        arguments = {}
        for argument in prompt.get("arguments") or []:
            if argument.get("required") or self.rng.random() < 0.5:
                shape = dict(shapes.get(argument["name"]) or {"type": "string"})
                shape.setdefault("description", argument.get("description") or "")
                given = self.maker.value(argument["name"], shape)
                arguments[argument["name"]] = given if isinstance(given, str) else json.dumps(given)
        return _call("prompts/get", {"name": prompt["name"], "arguments": arguments})
