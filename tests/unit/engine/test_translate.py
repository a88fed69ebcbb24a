"""The one translator: each kind of SDK failure becomes its one sentence (exceptions built as the SDK raises them)."""
import docker
import pytest
import requests

from dockerlab.engine.translate import explain, removed, translated
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
