"""The commit ids git prints outside commit summaries, HEAD messages and log lines (transforms/masking, the git_id
rule and the command pass): stash, merge and pull, push and fetch, rebase and cherry-pick, reflog, describe and
branch -v. Every screen is git 2.39.5's output, made in a scratch repo with commits retried until their short id
was all digits (an all-digit id is what the hex_word rule leaves as a number), under the prompt of the terminal
sandbox."""

import pytest

from transforms.masking import mask, mask_many, volatile_spans

REPO = "root@sandbox:/work/repo# "


def kinds(text):
    return [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)]


def ids(text):
    return [value for value, kind in kinds(text) if kind == "hex_id"]


def test_a_stash_s_base_commit_is_a_hex_id_and_its_message_is_not():
    text = (REPO + "git stash\nSaved working directory and index state WIP on main: 3603180 init 2\n"
            + REPO + "git stash push -m '1234567 notes'\n"
            "Saved working directory and index state On main: 1234567 notes\n"
            + REPO + "git stash list\nstash@{0}: On main: 1234567 notes\nstash@{1}: WIP on main: 3603180 init 2\n"
            "stash@{2}: WIP on (no branch): 3603180 init 2\n"
            + REPO)
    assert ids(text) == ["3603180", "3603180", "3603180"]
    assert mask(text)[1].count("WIP on main: <hex_id> init 2") == 2


def test_a_stash_s_own_commits_name_their_base_in_a_log_graph():
    text = (REPO + "git log --oneline --graph --all\n*-.   20e56a0 WIP on main: 3603180 init 2\n|\\ \\  \n"
            "| | * 37b40fc untracked files on main: 3603180 init 2\n| * ad94264 index on main: 3603180 init 2\n|/  \n"
            "* 3603180 init 2\n" + REPO)
    assert mask(text)[1].splitlines()[1:6] == [
        "*-.   <hex_id> WIP on main: <hex_id> init 2", "|\\ \\  ",
        "| | * <hex_id> untracked files on main: <hex_id> init 2",
        "| * <hex_id> index on main: <hex_id> init 2", "|/  "]


def test_the_ids_of_a_fast_forward_and_of_ref_updates_are_hex_ids():
    text = (REPO + "git merge feat\nUpdating 4209338..1541463\nFast-forward\n c.txt | 1 +\n"
            " 1 file changed, 1 insertion(+)\n create mode 100644 c.txt\n"
            + REPO + "git push\nTo /work/remote.git\n   3603180..4209338  main -> main\n"
            + REPO + "git push -f\nTo /work/remote.git\n + 0e285e7...9149826 main -> main (forced update)\n"
            + REPO + "git pull\nFrom /work/remote\n   4209338..1541463  main       -> origin/main\n"
            "Updating 4209338..1541463\nFast-forward\n"
            + REPO)
    assert ids(text) == ["4209338", "1541463", "3603180", "4209338", "0e285e7", "9149826", "4209338", "1541463",
                         "4209338", "1541463"]
    assert "\n   <hex_id>..<hex_id>  main       -> origin/main\n" in mask(text)[1]


def test_the_ids_of_rebase_and_cherry_pick_messages_are_hex_ids():
    text = (REPO + "git cherry-pick topic\nAuto-merging t.txt\nCONFLICT (add/add): Merge conflict in t.txt\n"
            "error: could not apply 9143816... topic1 16\n"
            + REPO + "git status\nOn branch main\nYou are currently cherry-picking commit 9143816.\n"
            + REPO + "git rebase main\nCould not apply 9143816... topic1 16\n"
            + REPO + "git status\ninteractive rebase in progress; onto 6184020\nLast command done (1 command done):\n"
            "   pick 9143816 topic1 16\nNo commands remaining.\n"
            "You are currently rebasing branch 'topic' on '6184020'.\n"
            + REPO + "git rebase -i HEAD~2\nStopped at 4488996...  mainchange 6\n"
            + REPO)
    assert ids(text) == ["9143816", "9143816", "9143816", "6184020", "9143816", "6184020", "4488996"]


def test_a_rebase_todo_list_in_the_editor_shows_each_commit_s_id():
    text = ("pick 4488996 mainchange 6\nsquash 9143816 topic1 16\n\n"
            "# Rebase 3603180..9143816 onto 3603180 (2 commands)\n")
    assert ids(text) == ["4488996", "9143816"]


def test_reflog_lines_are_read_without_their_command_on_screen():
    # The screen scrolled past `git reflog`: each line's selector still says the id before it is a commit's.
    text = ("6184020 HEAD@{1}: checkout: moving from topic to main\n"
            "9143816 HEAD@{2}: rebase (abort): returning to refs/heads/topic\n"
            "2dd0927 HEAD@{2026-11-27 10:00:00 +0000}: revert: Revert \"conflicting 7\"\n"
            "6184020 main@{1}: commit: conflicting 7\n")
    assert ids(text) == ["6184020", "9143816", "2dd0927", "6184020"]


def test_a_detached_head_s_origin_and_describe_s_id_are_hex_ids():
    text = (REPO + "git status\nHEAD detached from 3603180\nnothing to commit, working tree clean\n"
            + REPO + "git describe --dirty\nv1.0-1-g4209338-dirty\n" + REPO)
    assert ids(text) == ["3603180", "4209338"]
    assert "\nv1.0-1-g<hex_id>-dirty\n" in mask(text)[1]


def test_a_describe_id_with_letters_was_not_masked_either():
    # The hex_word rule wants a word boundary before the id, and "g4a99701" has none.
    assert ids("v1.0-8-g91a8dbe") == ["91a8dbe"]


def test_branch_v_rows_are_read_under_their_command():
    text = (REPO + "git branch -v\n"
            "* (HEAD detached from 3603180) 1234567 detached-commit\n"
            "  feat                         1541463 add c 9\n"
            "  main                         2dd0927 [ahead 6] Revert \"conflicting 7\"\n"
            + REPO + "git branch -avv\n"
            "* main                9149826 [origin/main] forced 26\n"
            "  remotes/origin/HEAD -> origin/main\n"
            "  remotes/origin/main 9149826 forced 26\n"
            + REPO + "cat notes\n  feat                         1541463 add c 9\n"  # no git command above: content
            + REPO + "git branch feat2\n" + REPO)
    assert ids(text) == ["3603180", "1234567", "1541463", "2dd0927", "9149826", "9149826"]
    masked = mask(text)[1]
    assert "\n* main                <hex_id> [origin/main] forced 26\n" in masked
    assert "cat notes\n  feat                         1541463 add c 9\n" in masked


@pytest.mark.parametrize("text", [
    "Updating 3 files", "Updating files: 100% (3/3), done.", "Updating 1234567 rows\n",
    "stash@{0}: On main: 1234567 notes", "WIP on main 1234567", "   1234567..7654321",
    " * [new branch]      main -> main",
    "release-g1234567", "could not apply 1234567 x", "  pick 1234567 x", "picky 1234567 x", "1234567 HEAD@{1}",
    "1234567 @{0}: x", "rebasing on '1234567'.",
])
def test_a_number_in_git_like_words_but_not_where_git_prints_an_id_stays_content(text):
    assert mask(text) == ([], text)


def test_mask_many_finds_what_mask_finds_in_git_screens():
    texts = [REPO + "git branch -v\n* main 2dd0927 x\n", "  feat 1541463 y\n", "Updating 4209338..1541463\n",
             "stash@{0}: WIP on main: 3603180 init 2", "v1.0-1-g4209338"]
    assert mask_many(texts) == [mask(text) for text in texts]
    assert [len(mask(text)[0]) for text in texts] == [1, 0, 2, 1, 1]
