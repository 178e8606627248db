"""The web explorer chooses a box's own options (data review D8: it offered the Assignee box's "ana" to the Priority
box, and Playwright timed out, a harness message trained as the page's answer)."""

from __future__ import annotations

from collectors.api import Task
from collectors.web import ExplorePolicy

PAGE = "\n".join([
    "URL: http://127.0.0.1/issue/1",
    "[20] form 'Edit'",
    "\t[22] combobox 'Priority'",
    "\t\t[23] option 'low'",
    "\t\t[24] option 'high'",
    "\t[30] combobox 'Assignee'",
    "\t\t[31] option 'ana'",
    "\t\t[32] option 'bo'",
    "\t[40] button 'Save'",
])


def test_each_box_is_offered_only_its_own_options():
    for seed in range(20):
        policy = ExplorePolicy(5)
        policy.begin(Task("explore-tracker", "explore", options={"site": "tracker"}), None, seed)
        chosen = {text for text, _ in policy.candidates(PAGE) if text.startswith("select_option")}
        priority = next(text for text in chosen if "'22'" in text)
        assignee = next(text for text in chosen if "'30'" in text)
        assert priority.split(", ")[1].rstrip(")") in ("'low'", "'high'"), priority
        assert assignee.split(", ")[1].rstrip(")") in ("'ana'", "'bo'"), assignee
