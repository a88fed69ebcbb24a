"""The registry's pure parts: folding recorded push/pull events, the failure sentences, config and users."""
import json
from types import SimpleNamespace

import bcrypt

from dockerlab.model.references import parse_reference
from dockerlab.engine.registry import registry_config, write_htpasswd
from dockerlab.engine.transfer import checked_address, explain_login_failure, explain_transfer_failure
from dockerlab.model.progress import TransferProgress
from dockerlab.model.results import TransferResult

DIGEST = "sha256:4354c6c06e26990d9d446ed4513c6bbc591d55b789017b57219d53a8f579bd1e"
REF = parse_reference("127.0.0.1:45123/ruud/hello:1.0")

# Recorded from Engine 20.10 pushing to and pulling from the Distribution registry 2.8.
PUSH = [
    {"status": "The push refers to repository [127.0.0.1:45123/ruud/hello]"},
    {"status": "Preparing", "progressDetail": {}, "id": "8caa7bab52f8"},
    {"status": "Pushing", "progressDetail": {"current": 43008, "total": 1984234},
     "progress": "[=>     ]  43.01kB/1.984MB", "id": "8caa7bab52f8"},
    {"status": "Pushed", "progressDetail": {}, "id": "8caa7bab52f8"},
    {"status": f"1.0: digest: {DIGEST} size: 528"},
    {"progressDetail": {}, "aux": {"Tag": "1.0", "Digest": DIGEST, "Size": 528}},
]
# Recorded from Engine 26.1 with the containerd image store: the digest comes only in a status line.
PUSH_CONTAINERD_STORE = [
    {"status": "The push refers to repository [127.0.0.1:5000/kit/busybox]"},
    {"status": "Pushed", "progressDetail": {}, "id": "76469712ba77"},
    {"status": "1.0: digest: sha256:f81cfce01b663be30a7d38ca326044c4344b74fdec6b5a63a97d48e6304bb94d size: 536"},
]
PUSH_WITHOUT_LOGIN = [
    {"status": "The push refers to repository [127.0.0.1:45123/ruud/hello]"},
    {"status": "Preparing", "progressDetail": {}, "id": "8caa7bab52f8"},
    {"errorDetail": {"message": "no basic auth credentials"}, "error": "no basic auth credentials"},
]
PULL = [
    {"status": "Pulling from ruud/hello", "id": "1.0"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "7a1ce4edf12f"},
    {"status": "Downloading", "progressDetail": {"current": 512, "total": 1024}, "id": "7a1ce4edf12f"},
    {"status": "Pull complete", "progressDetail": {}, "id": "7a1ce4edf12f"},
    {"status": f"Digest: {DIGEST}"},
    {"status": "Status: Downloaded newer image for 127.0.0.1:45123/ruud/hello:1.0"},
]


def fold(events):
    progress = TransferProgress()
    for event in events:
        progress.apply(event)
    return progress


def test_push_events_give_each_layer_its_fate_and_the_digest():
    progress = fold(PUSH)
    assert progress.header == "The push refers to repository [127.0.0.1:45123/ruud/hello]"
    assert [(layer.id, layer.status, layer.done) for layer in progress.layers.values()] == [
        ("8caa7bab52f8", "Pushed", True)]
    assert progress.digest == DIGEST and not progress.error


def test_the_containerd_store_gives_the_pushed_digest_in_its_last_status_line():
    progress = fold(PUSH_CONTAINERD_STORE)
    assert progress.digest == "sha256:f81cfce01b663be30a7d38ca326044c4344b74fdec6b5a63a97d48e6304bb94d"
    assert [layer.status for layer in progress.layers.values()] == ["Pushed"]


def test_bytes_moved_are_kept_while_a_layer_travels():
    layer = fold(PUSH[:3]).layers["8caa7bab52f8"]
    assert (layer.current, layer.total, layer.done) == (43008, 1984234, False)


def test_an_error_event_is_kept_and_no_digest_is_claimed():
    progress = fold(PUSH_WITHOUT_LOGIN)
    assert progress.error == "no basic auth credentials" and progress.digest == ""


def test_pull_events_name_the_tag_line_apart_from_layers():
    progress = fold(PULL)
    assert progress.header == "1.0: Pulling from ruud/hello"
    assert list(progress.layers) == ["7a1ce4edf12f"]
    assert progress.digest == DIGEST
    assert progress.outcome.startswith("Status: Downloaded newer image")


def test_push_result_reads_like_the_cli():
    progress = fold(PUSH)
    result = TransferResult("$ docker push 127.0.0.1:45123/ruud/hello:1.0", "push", "127.0.0.1:45123/ruud/hello",
                            "1.0", progress.digest, progress.header, {"8caa7bab52f8": "Pushed"})
    assert repr(result).splitlines() == [
        "$ docker push 127.0.0.1:45123/ruud/hello:1.0",
        "The push refers to repository [127.0.0.1:45123/ruud/hello]",
        "8caa7bab52f8: Pushed",
        f"1.0: digest: {DIGEST}",
    ]
    assert result.short_digest == "sha256:4354c6c06e26"


def test_failure_sentences_name_the_cause_and_the_way_out():
    assert "wants a login first" in explain_transfer_failure("push", str(REF), REF, "no basic auth credentials")
    down = 'Get "http://127.0.0.1:45123/v2/": dial tcp 127.0.0.1:45123: connect: connection refused'
    assert "nothing answers at 127.0.0.1:45123 (is the registry stopped?)" in explain_transfer_failure(
        "push", str(REF), REF, down)
    missing = "manifest for 127.0.0.1:45123/ruud/hello:nope not found: manifest unknown: manifest unknown"
    assert "no tag '1.0' in repository ruud/hello" in explain_transfer_failure("pull", str(REF), REF, missing)
    hub = parse_reference("partech:1.0")
    offline = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
    sentence = explain_transfer_failure("push", "partech:1.0", hub, offline)
    assert "docker.io/library/partech" in sentence and "<registry>/<user>/partech" in sentence
    assert "Docker Hub cannot be reached" in explain_transfer_failure("pull", "ubuntu", parse_reference("ubuntu"),
                                                                     offline)


def test_a_refused_login_names_the_user_not_the_password():
    sentence = explain_login_failure("127.0.0.1:45123", "ruud",
                                     "login attempt to http://127.0.0.1:45123/v2/ failed with status: 401 Unauthorized")
    assert sentence == ("Login to 127.0.0.1:45123 failed: the registry refused user 'ruud' with that password. "
                        "Check both (they are case-sensitive) and log in again.")


def test_podman_checks_a_loopback_login_as_localhost_and_a_tls_refusal_says_what_to_do():
    podman, docker_engine = SimpleNamespace(backend="podman"), SimpleNamespace(backend="docker")
    assert checked_address(podman, "127.0.0.1:45123") == "localhost:45123"  # its API skips TLS for localhost only
    assert checked_address(docker_engine, "127.0.0.1:45123") == "127.0.0.1:45123"
    assert checked_address(podman, "registry.example:5000") == "registry.example:5000"
    tls = ('pinging container registry 127.0.0.1:45123: Get "https://127.0.0.1:45123/v2/": '
           'http: server gave HTTP response to HTTPS client')
    sentence = explain_transfer_failure("pull", str(REF), REF, tls)
    assert "wants HTTPS at 127.0.0.1:45123" in sentence and "make setup" in sentence


def test_htpasswd_holds_bcrypt_hashes_only(tmp_path):
    path = tmp_path / "htpasswd"
    write_htpasswd(path, {"ruud": "s3cret", "ann": "other"})
    lines = path.read_text().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["ruud", "ann"]
    assert "s3cret" not in path.read_text()
    assert bcrypt.checkpw(b"s3cret", lines[0].split(":", 1)[1].encode())
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_config_listens_on_loopback_only_and_asks_for_htpasswd(tmp_path):
    config = registry_config(5000, tmp_path / "storage", tmp_path / "htpasswd")
    assert config["http"]["addr"] == "127.0.0.1:5000"
    assert config["auth"]["htpasswd"]["path"] == str(tmp_path / "htpasswd")
    assert "auth" not in registry_config(5000, tmp_path, None)
    json.dumps(config)  # written as JSON, which is valid YAML
