"""`docker system df` rows and `docker inspect --format` text, from recorded engine answers."""
from dockerlab.engine.containers import run_command_line
from dockerlab.model.text import inspect_fields
from dockerlab.model.usage import disk_usage_rows

# `GET /system/df` from Docker 20.10 (trimmed to the fields the CLI reads).
DF = {
    "LayersSize": 406752120,
    "Images": [
        {"Containers": 1, "Size": 404767886, "SharedSize": 404548289},
        {"Containers": 0, "Size": 1984234, "SharedSize": 0},
    ],
    "Containers": [{"State": "running", "SizeRw": 100}, {"State": "exited", "SizeRw": 200000}],
    "Volumes": [{"UsageData": {"Size": 12, "RefCount": 1}}, {"UsageData": {"Size": 5000, "RefCount": 0}},
                {"UsageData": {"Size": -1, "RefCount": 0}}],
    "BuildCache": [{"Size": 1000, "InUse": False, "Shared": False}, {"Size": 500, "InUse": True, "Shared": False}],
}


def test_disk_usage_rows_compute_reclaimable_as_the_cli_does():
    assert disk_usage_rows(DF) == [
        ["Images", "2", "1", "406.8 MB", "406.5 MB (99%)"],  # used: 404767886 - 404548289 bytes
        ["Containers", "2", "1", "200.1 kB", "200.0 kB (99%)"],
        ["Local Volumes", "3", "1", "5.0 kB", "5.0 kB (99%)"],
        ["Build Cache", "2", "1", "1.5 kB", "1.0 kB"],
    ]


def test_an_empty_engine_has_no_percentages():
    assert disk_usage_rows({})[0] == ["Images", "0", "0", "0 B", "0 B"]


def test_inspect_fields_print_scalars_plainly_and_maps_as_json():
    attrs = {"State": {"Status": "running", "Running": True}, "Mounts": [{"Type": "volume"}]}
    assert inspect_fields(attrs, ("State.Status", "State.Running")) == (
        "{{.State.Status}} {{.State.Running}}", "running true")
    assert inspect_fields(attrs, ("Mounts",)) == ("{{json .Mounts}}", '[{"Type":"volume"}]')
    assert inspect_fields(attrs, ("State.Pid",)) == ("{{.State.Pid}}", "<no value>")


def test_run_line_puts_the_flags_before_the_name_as_given():
    assert run_command_line("web", None, "web1", True, flags=["--rm", "-p", "127.0.0.1::80", "-v", "notes:/data"]) == \
        "$ docker run -d --rm -p 127.0.0.1::80 -v notes:/data --name web1 web"
