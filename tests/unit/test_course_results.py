"""Stable text forms of the lesson 04 / 09 results."""
from dockerlab.containers import run_command_line
from dockerlab.results import Output, docker_command


def test_an_action_shows_the_command_then_what_changed():
    stopped = Output(docker_command("stop", "ticker"), "ticker: exited (exit code 0)")
    assert repr(stopped) == "$ docker stop ticker\nticker: exited (exit code 0)"


def test_entrypoint_override_comes_before_the_image():
    assert run_command_line("greeter", ["Bye"], None, False, "echo") == "$ docker run --entrypoint echo greeter Bye"


def test_scale_command_uses_name_equals_replicas():
    assert docker_command("service", "scale", "hello=5") == "$ docker service scale hello=5"
