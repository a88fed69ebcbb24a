"""The one translator: each kind of SDK failure becomes its one sentence (exceptions built as the SDK raises them)."""
import docker
import pytest
import requests

from dockerlab.engine.translate import explain, removed, sdk_refusals, translated
from dockerlab.errors import ContainerNotFound, EngineRefused, EngineUnavailable, ImageNotFound


def api_error(status: int, message: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return (docker.errors.NotFound if status == 404 else docker.errors.APIError)(message, response, message)


def test_a_missing_image_or_container_is_named_with_a_way_out():
    assert isinstance(explain(api_error(404, "No such image"), "run it", image="nosuch/image"), ImageNotFound)
    assert "There is no image 'nosuch/image' on this engine" in str(explain(api_error(404, "x"), "run it", image="nosuch/image"))
    assert isinstance(explain(api_error(404, "No such container"), "stop it", container="box"), ContainerNotFound)


def test_a_refusal_is_the_engines_answer_not_a_lost_engine():
    error = explain(api_error(409, "conflict: unable to remove"), "remove the image x")
    assert isinstance(error, EngineRefused)
    assert str(error) == "The engine refused to remove the image x: conflict: unable to remove."


def test_a_broken_connection_says_the_engine_stopped_answering():
    error = explain(requests.exceptions.ConnectionError("reset"), "build")
    assert isinstance(error, EngineUnavailable) and "stopped answering while trying to build" in str(error)


def test_translated_raises_the_kits_error_and_nothing_else():
    with pytest.raises(ImageNotFound):
        with translated("inspect it", image="x"):
            raise api_error(404, "No such image: x")


def test_removed_tells_gone_from_kept():
    def gone():
        raise api_error(404, "gone")

    def kept():
        raise api_error(409, "in use")

    assert removed(lambda: None) is True and removed(gone) is None and removed(kept) is False


# Podman 5.4's answer to a push whose registry cannot be reached (recorded): an error status whose body is a
# stream event, without the "message" the SDK reads (so the SDK itself fails with KeyError: 'message').
PODMAN_PUSH_REFUSAL = (b'{"errorDetail":{"message":"trying to reuse blob sha256:d6328aad at destination: pinging '
                       b'container registry 127.0.0.1:9: connect: connection refused"},"error":"trying to reuse blob '
                       b'sha256:d6328aad at destination: pinging container registry 127.0.0.1:9: connect: connection '
                       b'refused"}')


def sdk_reads(status: int, body: bytes) -> None:
    """What the SDK does with an engine's error answer (its own code, on a recorded body)."""
    response = requests.Response()
    response.status_code, response._content, response.url = status, body, "http+docker://localhost/v1.41/x"
    docker.APIClient._raise_for_status(None, response)


def test_a_refusal_in_stream_form_is_the_engines_words_not_a_key_error():
    with pytest.raises(KeyError):
        sdk_reads(500, PODMAN_PUSH_REFUSAL)  # the SDK alone
    with pytest.raises(docker.errors.APIError) as refused:
        with sdk_refusals():
            sdk_reads(500, PODMAN_PUSH_REFUSAL)
    assert refused.value.explanation.endswith("pinging container registry 127.0.0.1:9: connect: connection refused")
    with pytest.raises(EngineRefused, match="connection refused"):
        with translated("push it"):
            sdk_reads(500, PODMAN_PUSH_REFUSAL)
    with pytest.raises(KeyError):  # any other KeyError is not an engine's answer
        with sdk_refusals():
            {}["message"]
