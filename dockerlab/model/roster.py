"""A class roster: a CSV file with a header line and a `username` column (other columns allowed)."""
from __future__ import annotations

import csv
import io
import re

from ..errors import DockerlabError

# Lower-case letters, digits and dashes, a letter first: a name that is the same as a hub user, a container
# name and a volume name, so no escaping ever makes two students one.
USERNAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def read_roster(text: str, where: str = "the roster") -> list[str]:
    """The students' usernames, in roster order; one clear sentence for a roster that cannot be used."""
    rows = csv.DictReader(io.StringIO(text))
    columns = [name.strip().lower() for name in rows.fieldnames or []]
    if "username" not in columns:
        raise DockerlabError(f"{where} has no `username` column: its first line must name the columns, "
                             "such as `username,name`, with one student per line below it.")
    rows.fieldnames = columns
    names, seen = [], set()
    for line, row in enumerate(rows, start=2):
        name = (row.get("username") or "").strip()
        if not USERNAME.match(name):
            raise DockerlabError(f"{where}, line {line}: '{name}' is not a username the classroom can use; "
                                 "use 1-32 lower-case letters, digits or dashes, starting with a letter.")
        if name in seen:
            raise DockerlabError(f"{where}, line {line}: '{name}' is listed twice; each student needs a "
                                 "username of their own.")
        seen.add(name)
        names.append(name)
    if not names:
        raise DockerlabError(f"{where} lists no students: add one username per line under the header.")
    return names
