"""A class roster: a CSV file with a header line and a `username` column, optionally a `password` column
(a password the instructor gives; left empty, the student chooses one at first login); other columns allowed."""
from __future__ import annotations

import csv
import io
import re

from ..errors import DockerlabError

# Lower-case letters, digits and dashes, a letter first: a name that is the same as a hub user, a container
# name and a volume name, so no escaping ever makes two students one.
USERNAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
MIN_PASSWORD = 8  # the hub's rule for passwords chosen at first login, kept for given ones too


def read_roster(text: str, where: str = "the roster") -> dict[str, str]:
    """The students, in roster order: username -> the password the instructor gives ("": the student chooses
    it at first login); one clear sentence for a roster that cannot be used (never quoting a password)."""
    rows = csv.DictReader(io.StringIO(text))
    columns = [name.strip().lower() for name in rows.fieldnames or []]
    if "username" not in columns:
        raise DockerlabError(f"{where} has no `username` column: its first line must name the columns, "
                             "such as `username,name`, with one student per line below it.")
    rows.fieldnames = columns
    students = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("username") or "").strip()
        if not USERNAME.match(name):
            raise DockerlabError(f"{where}, line {line}: '{name}' is not a username the classroom can use; "
                                 "use 1-32 lower-case letters, digits or dashes, starting with a letter.")
        if name in students:
            raise DockerlabError(f"{where}, line {line}: '{name}' is listed twice; each student needs a "
                                 "username of their own.")
        password = row.get("password") or ""
        if password and len(password) < MIN_PASSWORD:
            raise DockerlabError(f"{where}, line {line}: the password given to '{name}' is shorter than "
                                 f"{MIN_PASSWORD} characters; give a longer one, or leave it empty for them to choose.")
        students[name] = password
    if not students:
        raise DockerlabError(f"{where} lists no students: add one username per line under the header.")
    return students
