"""The equivalent `docker` command lines and the stable text forms."""
from dockerlab.containers import run_command_line
from dockerlab.results import Table, docker_command


def test_command_words_are_quoted_as_a_shell_needs():
    assert docker_command("build", "-t", "partech", "my context") == "$ docker build -t partech 'my context'"


def test_detached_named_run_line():
    assert run_command_line("partech", None, "mycontainer", True) == "$ docker run -d --name mycontainer partech"


def test_string_command_runs_through_a_shell_and_list_runs_as_is():
    assert run_command_line("partech", "echo hi", None, False) == "$ docker run partech sh -c 'echo hi'"
    assert run_command_line("partech", ["echo", "hi"], None, False) == "$ docker run partech echo hi"


def test_table_pads_columns_like_the_cli():
    table = Table("$ docker ps -a", ["NAMES", "STATUS"], [["mycontainer", "Exited (0)"], ["a", "Up"]])
    assert repr(table).splitlines() == [
        "$ docker ps -a",
        "NAMES         STATUS",
        "mycontainer   Exited (0)",
        "a             Up",
    ]
