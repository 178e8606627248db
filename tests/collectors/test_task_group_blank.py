"""A task's group with spaces around it is the group itself: " box " was recorded as a group apart from "box",
which a held-out split by group would put on the other side. A blank group is refused with what it held named in
words, since collect folds every run of whitespace in its one-line error (`got ' '` for two spaces)."""

import pytest
import yaml

from collectors.command import input_error_message
from collectors.tasks import TaskFileError, load_tasks


def test_a_group_with_surrounding_spaces_is_the_group_itself(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump([{"id": "a", "instruction": "x", "group": " box "},
                                    {"id": "b", "instruction": "x", "group": "box\t"}]))
    assert [task.group for task in load_tasks(path)] == ["box", "box"]


@pytest.mark.parametrize(("value", "shown"), [("  ", "a blank string (2 whitespace characters)"),
                                              ("", "an empty string"),
                                              ("\t", "a blank string (1 whitespace character)")])
def test_a_blank_group_is_named_in_words_in_the_one_line_error(tmp_path, value, shown):
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump([{"id": "calc", "instruction": "x", "group": value}]))
    with pytest.raises(TaskFileError) as error:
        load_tasks(path)
    assert input_error_message(error.value).endswith(f"group must be a non-empty string (the environment group its "
                                                     f"episodes are recorded in), got {shown}")
