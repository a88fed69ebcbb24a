"""Image names: what a short name expands to, and the names Docker refuses (with the reason)."""
import pytest

from dockerlab.errors import InvalidReference
from dockerlab.model.references import expand_reference, familiar_name, parse_reference, registry_address


@pytest.mark.parametrize("name, full", [
    ("ubuntu", "docker.io/library/ubuntu:latest"),
    ("ubuntu:22.04", "docker.io/library/ubuntu:22.04"),
    ("ruud/partech:1.0", "docker.io/ruud/partech:1.0"),
    ("docker.io/ruud/partech", "docker.io/ruud/partech:latest"),
    ("index.docker.io/library/ubuntu", "docker.io/library/ubuntu:latest"),
    ("127.0.0.1:5000/ruud/partech:1.0", "127.0.0.1:5000/ruud/partech:1.0"),
    ("localhost/partech", "localhost/partech:latest"),
    ("registry.example.com/team/app/web:v2-rc.1", "registry.example.com/team/app/web:v2-rc.1"),
    ("ubuntu@sha256:" + "a" * 64, "docker.io/library/ubuntu@sha256:" + "a" * 64),  # a digest alone: no :latest
    ("ubuntu:22.04@sha256:" + "b" * 64, "docker.io/library/ubuntu:22.04@sha256:" + "b" * 64),
])
def test_short_names_expand_like_docker(name, full):
    assert expand_reference(name) == full


@pytest.mark.parametrize("spelt_out, familiar", [
    ("docker.io/library/partech:latest", "partech:latest"),  # Podman's API spells every name out
    ("docker.io/ruud/partech:1.0", "ruud/partech:1.0"),
    ("docker.io/dockerlab/busybox", "dockerlab/busybox"),
    ("docker.io/library/ubuntu@sha256:" + "a" * 64, "ubuntu@sha256:" + "a" * 64),
    ("docker.io/library/team/app:1", "library/team/app:1"),  # the CLI keeps library/ for a deeper path
    ("partech:latest", "partech:latest"),  # Docker's own answers are familiar already
    ("127.0.0.1:5000/ruud/partech:1.0", "127.0.0.1:5000/ruud/partech:1.0"),
    ("localhost/partech:latest", "localhost/partech:latest"),
    ("<none>:<none>", "<none>:<none>"),
])
def test_names_shown_in_the_familiar_form_the_docker_cli_uses(spelt_out, familiar):
    assert familiar_name(spelt_out) == familiar


def test_parts_of_a_name():
    ref = parse_reference("127.0.0.1:5000/ruud/partech:1.0")
    assert (ref.registry, ref.user, ref.path, ref.tag) == ("127.0.0.1:5000", "ruud", "ruud/partech", "1.0")
    assert ref.repository == "127.0.0.1:5000/ruud/partech"
    assert str(ref) == "127.0.0.1:5000/ruud/partech:1.0"
    hub = parse_reference("ubuntu")
    assert hub.on_docker_hub and hub.repository == "ubuntu" and hub.user == "library"


def test_a_digest_pins_the_content():
    digest = "sha256:" + "a" * 64
    ref = parse_reference(f"127.0.0.1:5000/ruud/partech@{digest}")
    assert ref.digest == digest and ref.full == f"127.0.0.1:5000/ruud/partech@{digest}"  # no :latest added
    assert str(ref) == f"127.0.0.1:5000/ruud/partech@{digest}"


@pytest.mark.parametrize("name, reason", [
    ("UPPER/case", "must be lowercase (try 'upper/case')"),
    ("ruud/Partech", "must be lowercase"),
    ("a:b:c", "more than one ':tag'"),
    ("ruud/partech:1.0:2", "more than one ':tag'"),
    ("", "empty"),
    (" ubuntu", "spaces"),
    ("-ruud/partech", "lowercase letters, digits"),
    ("ruud//partech", "lowercase letters, digits"),
    ("ruud/partech:-1", "the tag '-1'"),
    ("ruud/partech@sha256:abc", "after '@' must come a digest"),
    ("bad_host:port:5000/x", "is not a host[:port]"),
])
def test_invalid_names_are_refused_with_the_reason(name, reason):
    with pytest.raises(InvalidReference) as refused:
        parse_reference(name)
    assert reason in str(refused.value)
    assert str(refused.value).startswith(f"'{name}' is not a valid image name")


@pytest.mark.parametrize("given, address", [
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
    ("https://index.docker.io/v1/", "docker.io"),
    ("docker.io", "docker.io"),
])
def test_registry_addresses_as_docker_login_takes_them(given, address):
    assert registry_address(given) == address


def test_a_registry_address_must_be_a_host():
    with pytest.raises(InvalidReference, match="not a registry address"):
        registry_address("not a host")
