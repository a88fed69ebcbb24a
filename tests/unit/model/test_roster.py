import pytest

from dockerlab.errors import DockerlabError
from dockerlab.model.roster import read_roster


def test_roster_gives_usernames_in_order_whatever_other_columns():
    assert list(read_roster("name,Username,email\nAda L,ada,a@x\nAlan T, alan-t ,t@x\n")) == ["ada", "alan-t"]


def test_a_password_column_gives_passwords_and_an_empty_one_leaves_the_choice_to_the_student():
    roster = read_roster("username,Password\nada,given-pw-1 x\nalan,\n")
    assert roster == {"ada": "given-pw-1 x", "alan": ""}


@pytest.mark.parametrize("text, says", [
    ("name\nada\n", "no `username` column"),
    ("username\nada\nbob\nada\n", "line 4: 'ada' is listed twice"),
    ("username\nAda\n", "line 2: 'Ada' is not a username"),
    ("username\nbob/../x\n", "is not a username"),
    ("username\n\n", "lists no students"),
    ("", "no `username` column"),
    ("username,password\nada,short\n", "line 2: the password given to 'ada' is shorter than 8 characters"),
])
def test_bad_roster_is_refused_in_one_sentence(text, says):
    with pytest.raises(DockerlabError) as refused:
        read_roster(text, "roster.csv")
    assert says in str(refused.value) and "'short'" not in str(refused.value)
    assert str(refused.value).count(". ") == 0 and "Traceback" not in str(refused.value)
