"""Lines the line diff pairs as one line changed by their place in the tree, not by how alike their texts read
(transforms/reasoning/_linediff.c: both_roots, same_row_new_text), from the session-25 data review (scratch/s25/h209,
"Left"). The rows are those of the make-run curate (/work/ci-check/out/raw), their screens cut to the lines that
matter.

A web page's root line ("RootWebArea 'Home - City Permits', focused") was paired with the new page's root only when
the two titles shared 3/5 of the line: 50 page loads told it as one element gone and one new, 102 as one that
changes. A desktop label whose accessible name is its text ("[315] label 'Sum = 0'") was told as gone and new when
its text changed, as its row's head (id, role, name) was no longer equal; so was a file manager's status label whose
id moved with the rows added before it.
"""

from __future__ import annotations

import re

from transforms.reasoning._linediff import line_diff
from transforms.reasoning.grounded import grounded_trace


def _trace(domain: str, action: str, state: str, after: str) -> str:
    return grounded_trace({"domain": domain, "action_text": action, "state_text": state, "next_text": after,
                           "next_meta_json": "{}"})


_WEB_HEADER = "URL: http://127.0.0.1:44387/{}\nTitle: {} - City Permits\nTabs: [0] {} - City Permits (active)\n"
_HOME = ("RootWebArea 'Home - City Permits', focused\n\t[1] banner ''\n\t\t[4] navigation 'Main'\n"
         "\t\t\t[7] link 'Check status'\n\t[8] main ''\n\t\t[9] heading 'Apply for a city permit', level=1\n"
         "\t\t[16] link 'Start application'")
_STATUS = ("RootWebArea 'Application status - City Permits', focused\n\t[1] banner ''\n\t\t[4] navigation 'Main'\n"
           "\t\t\t[7] link 'Check status'\n\t[8] main ''\n\t\t[9] heading 'Application status', level=1\n"
           "\t\t[10] form ''\n\t\t\t[12] textbox 'Reference'")


def test_a_page_load_tells_the_root_as_one_line_that_changes_whatever_the_titles():
    # web-explore-form-s0-b2849708:0: the titles share " - City Permits', focused", under 3/5 of the longer line.
    trace = _trace("web", 'click("7")', _WEB_HEADER.format("", "Home", "Home") + _HOME,
                   _WEB_HEADER.format("status", "Application status", "Application status") + _STATUS)
    assert trace.endswith(
        "3 elements appear: \"[9] heading 'Application status', level=1\", \"[10] form ''\", \"[12] textbox "
        "'Reference'\". 2 elements disappear: \"[9] heading 'Apply for a city permit', level=1\", \"[16] link "
        "'Start application'\". 1 element changes: \"RootWebArea 'Home - City Permits', focused\" becomes "
        "\"RootWebArea 'Application status - City Permits', focused\".")


def test_roots_pair_consistently_and_other_unindented_roles_still_by_their_text():
    for old_title, new_title in (("Home - Shop", "Cart - Shop"), ("A", "Application status - City Permits"),
                                 ("", "Log in")):
        sentences, _ = line_diff(f"RootWebArea '{old_title}', focused\n\t[1] banner ''",
                                 f"RootWebArea '{new_title}', focused\n\t[1] banner ''", "element")
        assert sentences == [f"1 element changes: \"RootWebArea '{old_title}', focused\" becomes "
                             f"\"RootWebArea '{new_title}', focused\"."]
    # Only the tree's root, unindented: a text of the page is still paired only by how alike it reads.
    assert line_diff("\tStaticText 'Status'", "\tStaticText 'Title'", "element")[0] == [
        "1 element appears: \"\\tStaticText 'Title'\".", "1 element disappears: \"\\tStaticText 'Status'\"."]
    assert line_diff("\tRootWebArea 'Status'", "\tRootWebArea 'Title and more'", "element")[0] == [
        "1 element appears: \"\\tRootWebArea 'Title and more'\".",
        "1 element disappears: \"\\tRootWebArea 'Status'\"."]


_OS_HEADER = ("focused window: [1] frame '*Book1.gnumeric - Gnumeric' (gnumeric)\nfocused element: [300] panel ''\n"
              "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate\n")
_ROW = "[{}]\t{}\t{}\t{}\t\t\t({}, 242)\t(169, 35)\t"


def test_a_desktop_label_whose_text_changes_at_its_id_is_one_element_that_changes():
    # os-sheet-sum-s0-a4b45d9c:6: the status bar's label [315] says the new sum.
    rows = [_ROW.format(5, "menu", "File", '""', 160), _ROW.format(277, "text", "", "A4", 164),
            _ROW.format(278, "icon", "go-jump", '""', 307), _ROW.format(315, "label", "Sum = 0", "Sum = 0", 822)]
    after = [_ROW.format(5, "menu", "File", '""', 160), _ROW.format(277, "text", "", "A3", 164),
             _ROW.format(278, "icon", "go-jump", '""', 307), _ROW.format(289, "text", "", "=A1+A2", 480),
             _ROW.format(315, "label", "Sum = 42", "Sum = 42", 822)]
    trace = _trace("os", 'press("up")', _OS_HEADER + "\n".join(rows), _OS_HEADER + "\n".join(after))
    assert trace == ("Pressing up changes the screen. 1 element appears: [289] text showing '=A1+A2'. 2 elements "
                     "change: [277] text shows 'A3' instead of 'A4'; [315] label shows 'Sum = 42' instead of "
                     "'Sum = 0'.")


def test_a_status_label_whose_id_moved_is_paired_by_its_place_on_the_screen():
    # os-files-show-hidden-s0-5ac54d9c:1: showing hidden files adds rows before the status bar, so its label moves
    # from [177] to [180] at the same position and size (the free-space label beside it is renumbered +3).
    head = ("focused window: [1] frame 'user' (pcmanfm)\nfocused element: {}\n"
            "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate\n")
    menu = "[43]\tcheck-menu-item\tShow Hidden\tShow Hidden\t\t\t(404, 224)\t(330, 21)\t{}\n"
    status = "[{}]\tlabel\t{}\t{}\t\t\t(322, 628)\t(331, 17)\t\n"
    free = "[{}]\tlabel\tFree space: 128.0 MiB\tFree space: 128.0 MiB\t\t\t(659, 628)\t(281, 17)\t"
    state = (head.format("[39] menu 'View'") + menu.format("") + status.format(177, *["0 items (3 hidden)"] * 2)
             + free.format(179))
    after = (head.format("[172] scroll-pane ''") + menu.format("checked") + status.format(180, *["3 items"] * 2)
             + free.format(182))
    trace = _trace("os", "click('[43] check-menu-item \\'Show Hidden\\'')", state, after)
    assert trace.endswith("2 elements change: [43] check-menu-item 'Show Hidden' is now checked; [180] label (was "
                          "[177]) shows '3 items' instead of '0 items (3 hidden)'. 1 element is renumbered (id +3).")
    # Elsewhere on the screen it is another label: one gone, one new.
    moved = after.replace("(322, 628)", "(322, 700)")
    assert "1 element appears: [180] label '3 items'. 1 element disappears: [177] label '0 items (3 hidden)'." in \
        _trace("os", "click('[43] check-menu-item \\'Show Hidden\\'')", state, moved)


def test_desktop_rows_pair_by_id_and_role_only_where_the_name_is_the_text():
    label = "[315]\tlabel\tSum = 0\tSum = 0\t\t\t(822, 670)\t(210, 36)\t"
    # Another role; another id at another place or of another size: two elements.
    for other in ("[315]\ttext\tSum = 42\tSum = 42\t\t\t(822, 670)\t(210, 36)\t",
                  "[316]\tlabel\tSum = 42\tSum = 42\t\t\t(822, 700)\t(210, 36)\t",
                  "[316]\tlabel\tSum = 42\tSum = 42\t\t\t(822, 670)\t(210, 37)\t"):
        sentences, _ = line_diff(label, other, "element")
        assert [re.sub(r": .*", "", sentence) for sentence in sentences] == ["1 element appears",
                                                                             "1 element disappears"]
    # A name that is not the text (buttons that took each other's place): two elements, as before.
    assert line_diff("[46]\ttoggle-button\t1\t\"\"\t(4, 2)", "[46]\ttoggle-button\t%\t\"\"\t(4, 2)",
                     "element")[0] == ["1 element appears: '[46]\\ttoggle-button\\t%\\t\"\"\\t(4, 2)'.",
                                       "1 element disappears: '[46]\\ttoggle-button\\t1\\t\"\"\\t(4, 2)'."]
    # A row of the same role and name under another id is a surer partner than the row at the id (renumbered).
    sentences, _ = line_diff(label, "[315]\tlabel\tSum = 4\tSum = 4\t\t\t(822, 670)\t(210, 36)\t\n"
                             "[317]\tlabel\tSum = 0\tSum = 0\t\t\t(822, 700)\t(210, 36)\t", "element")
    assert sentences[0].startswith("1 element appears: '[315]\\tlabel\\tSum = 4")
    assert sentences[1].startswith("1 element changes: '[315]\\tlabel\\tSum = 0") and "[317]" in sentences[1]
