"""The equivalent `docker` command lines and the stable text forms of results (lessons 01-11)."""
from dockerlab.engine.containers import run_command_line
from dockerlab.model.results import Output, Table
from dockerlab.model.text import docker_command


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


def test_build_cache_table_says_which_steps_were_reused_without_the_session_id():
    from dockerlab.model.progress import BuildStep
    from dockerlab.model.results import BuildResult

    steps = [BuildStep(1, "FROM dockerlab/busybox"), BuildStep(2, "COPY deps.txt /app/", cached=True),
             BuildStep(3, "COPY app.sh /app/"), BuildStep(4, "LABEL dockerlab.session=123-456-abcd@host")]
    table = BuildResult("demo", "sha256:x", steps, "$ docker build -t demo ctx", "classic").cache()
    assert table.command == "$ docker build -t demo ctx"
    assert table.rows == [["1/4", "FROM dockerlab/busybox", "-"], ["2/4", "COPY deps.txt /app/", "reused (cache)"],
                          ["3/4", "COPY app.sh /app/", "ran"],
                          ["4/4", "LABEL dockerlab.session=… (the kit's label)", "ran"]]


def test_an_action_shows_the_command_then_what_changed():
    stopped = Output(docker_command("stop", "ticker"), "ticker: exited (exit code 0)")
    assert repr(stopped) == "$ docker stop ticker\nticker: exited (exit code 0)"


def test_entrypoint_override_comes_before_the_image():
    assert run_command_line("greeter", ["Bye"], None, False, "echo") == "$ docker run --entrypoint echo greeter Bye"


def test_scale_command_uses_name_equals_replicas():
    assert docker_command("service", "scale", "hello=5") == "$ docker service scale hello=5"
