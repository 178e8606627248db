"""The file editor SWE agents call `str_replace_editor`, run INSIDE the sandbox as a standalone script.

It is copied into the container and invoked once per action with the call's JSON arguments on stdin, so the file
system it reads and writes is the environment's own. Its wording, line numbering, snippet windows and truncation
follow Anthropic's reference text editor tool (the one SWE-agent and OpenHands adopted), because a world model must
learn the messages agents really receive: "did not appear verbatim", "Multiple occurrences ... in lines [..]".
Exit status 0 is a result, 1 a tool error (message on stdout, as the tool returns it to the model).
Stdlib only: the container's python3 runs it.
"""

import json
import os
import subprocess
import sys

SNIPPET_LINES = 4
MAX_RESPONSE_LEN = 16000
TRUNCATED_MESSAGE = ("<response clipped><NOTE>To save on context only part of this file has been shown to you. "
                     "You should retry this tool after you have searched inside the file with `grep -n` in order to "
                     "find the line numbers of what you are looking for.</NOTE>")
COMMANDS = ("view", "create", "str_replace", "insert")


class ToolError(Exception):
    pass


def maybe_truncate(content):
    return content if len(content) <= MAX_RESPONSE_LEN else content[:MAX_RESPONSE_LEN] + TRUNCATED_MESSAGE


def numbered(content, descriptor, first_line=1):
    content = maybe_truncate(content).expandtabs()
    lines = [f"{number:6}\t{line}" for number, line in enumerate(content.split("\n"), first_line)]
    return f"Here's the result of running `cat -n` on {descriptor}:\n" + "\n".join(lines) + "\n"


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except Exception as exc:
        raise ToolError(f"Ran into {exc} while trying to read {path}") from None


def write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except Exception as exc:
        raise ToolError(f"Ran into {exc} while trying to write to {path}") from None


def check_path(command, path):
    if not os.path.isabs(path):
        # The reference tool suggests the path unchanged (its Path("") / path); kept, since agents see exactly that.
        raise ToolError(f"The path {path} is not an absolute path, it should start with `/`. Maybe you meant {path}?")
    exists = os.path.exists(path)
    if not exists and command != "create":
        raise ToolError(f"The path {path} does not exist. Please provide a valid path.")
    if exists and command == "create":
        raise ToolError(f"File already exists at: {path}. Cannot overwrite files using command `create`.")
    if os.path.isdir(path) and command != "view":
        raise ToolError(f"The path {path} is a directory and only the `view` command can be used on directories")


def view(path, view_range):
    if os.path.isdir(path):
        if view_range:
            raise ToolError("The `view_range` parameter is not allowed when `path` points to a directory.")
        found = subprocess.run(["find", path, "-maxdepth", "2", "-not", "-path", "*/.*"],
                               capture_output=True, text=True)
        if found.stderr:
            return found.stdout + found.stderr
        return (f"Here's the files and directories up to 2 levels deep in {path}, excluding hidden items:\n"
                f"{found.stdout}\n")
    content = read(path)
    first = 1
    if view_range:
        if len(view_range) != 2 or not all(isinstance(i, int) for i in view_range):
            raise ToolError("Invalid `view_range`. It should be a list of two integers.")
        lines = content.split("\n")
        count = len(lines)
        first, last = view_range
        if first < 1 or first > count:
            raise ToolError(f"Invalid `view_range`: {view_range}. Its first element `{first}` should be within the "
                            f"range of lines of the file: {[1, count]}")
        if last > count:
            raise ToolError(f"Invalid `view_range`: {view_range}. Its second element `{last}` should be smaller "
                            f"than the number of lines in the file: `{count}`")
        if last != -1 and last < first:
            raise ToolError(f"Invalid `view_range`: {view_range}. Its second element `{last}` should be larger or "
                            f"equal than its first `{first}`")
        content = "\n".join(lines[first - 1:] if last == -1 else lines[first - 1:last])
    return numbered(content, path, first)


def create(path, file_text):
    if file_text is None:
        raise ToolError("Parameter `file_text` is required for command: create")
    write(path, file_text)
    return f"File created successfully at: {path}"


def str_replace(path, old_str, new_str):
    if old_str is None:
        raise ToolError("Parameter `old_str` is required for command: str_replace")
    content = read(path).expandtabs()
    old_str = old_str.expandtabs()
    new_str = (new_str or "").expandtabs()
    occurrences = content.count(old_str)
    if occurrences == 0:
        raise ToolError(f"No replacement was performed, old_str `{old_str}` did not appear verbatim in {path}.")
    if occurrences > 1:
        lines = [number for number, line in enumerate(content.split("\n"), 1) if old_str in line]
        raise ToolError(f"No replacement was performed. Multiple occurrences of old_str `{old_str}` in lines "
                        f"{lines}. Please ensure it is unique")
    edited = content.replace(old_str, new_str)
    write(path, edited)
    at_line = content.split(old_str)[0].count("\n")
    start = max(0, at_line - SNIPPET_LINES)
    end = at_line + SNIPPET_LINES + new_str.count("\n")
    snippet = "\n".join(edited.split("\n")[start:end + 1])
    return (f"The file {path} has been edited. " + numbered(snippet, f"a snippet of {path}", start + 1)
            + "Review the changes and make sure they are as expected. Edit the file again if necessary.")


def insert(path, insert_line, new_str):
    if insert_line is None:
        raise ToolError("Parameter `insert_line` is required for command: insert")
    if new_str is None:
        raise ToolError("Parameter `new_str` is required for command: insert")
    lines = read(path).expandtabs().split("\n")
    new_lines = new_str.expandtabs().split("\n")
    if insert_line < 0 or insert_line > len(lines):
        raise ToolError(f"Invalid `insert_line` parameter: {insert_line}. It should be within the range of lines "
                        f"of the file: {[0, len(lines)]}")
    write(path, "\n".join(lines[:insert_line] + new_lines + lines[insert_line:]))
    snippet = "\n".join(lines[max(0, insert_line - SNIPPET_LINES):insert_line] + new_lines
                        + lines[insert_line:insert_line + SNIPPET_LINES])
    return (f"The file {path} has been edited. "
            + numbered(snippet, "a snippet of the edited file", max(1, insert_line - SNIPPET_LINES + 1))
            + "Review the changes and make sure they are as expected (correct indentation, no duplicate lines, "
              "etc). Edit the file again if necessary.")


def run(call):
    command, path = call.get("command"), call.get("path", "")
    if command not in COMMANDS:
        raise ToolError(f"Unrecognized command {command}. The allowed commands for the str_replace_editor tool "
                        f"are: {', '.join(COMMANDS)}")
    check_path(command, path)
    if command == "view":
        return view(path, call.get("view_range"))
    if command == "create":
        return create(path, call.get("file_text"))
    if command == "str_replace":
        return str_replace(path, call.get("old_str"), call.get("new_str"))
    return insert(path, call.get("insert_line"), call.get("new_str"))


def main():
    call = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    try:
        sys.stdout.write(run(call))
        status = 0
    except ToolError as exc:
        sys.stdout.write(str(exc))
        status = 1
    sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
