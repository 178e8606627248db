"""What curation tells a world model about the sqlite domain: the environment description that goes into the
stage-2/3 system prompt, registered in pyproject.toml under `worldline.domains`."""

from transforms.prompts import Domain

DOMAIN = Domain(
    environment=(
        "You simulate an in-memory SQLite database. Each action is one SQL statement, as plain text. The first "
        "state lists the database's tables: `tables: ` and their names, comma-separated, in alphabetical order, or "
        "`(none)`. Each observation is SQLite's answer to the statement: for a query, a header line with the "
        "column names joined by ` | `, one line per row with its values joined the same way (NULL for a null), "
        "then `(N row(s))`; for any other statement, `OK, N row(s) affected` (`OK` when SQLite gives no count); "
        "for a statement SQLite rejects, `Error: ` and SQLite's error message."
    ),
    # Not measured for this domain: the terminal's figure (plain ASCII text as here). A plugin measures its own by
    # tokenizing its stage-2 rows (docs/adding-a-collector.md, item 5).
    chars_per_token=3.4,
)
