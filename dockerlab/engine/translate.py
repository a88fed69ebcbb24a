"""The one translator from the Docker SDK's failures to the kit's errors: one sentence per situation.

Every engine call whose failure a learner can meet goes through `translated(...)` (a context manager)
or `removed(...)` (remove, where "already gone" is fine and "still needed" is reported, not raised).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import docker
import requests
import urllib3

from ..errors import ContainerNotFound, DockerlabError, EngineRefused, EngineUnavailable, ImageNotFound

# What an engine call can raise: the SDK's errors and the transport's.
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, urllib3.exceptions.HTTPError)
CONNECTION_LOST = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                   urllib3.exceptions.ProtocolError)


def no_such_image(name: str) -> ImageNotFound:
    """The sentence for an image that is not on this engine (whatever asked for it)."""
    return ImageNotFound(
        f"There is no image '{name}' on this engine, and no registry is reachable to pull it; "
        "build it first (lab.build) or check the name with lab.images()."
    )


def no_such_container(name: str) -> ContainerNotFound:
    return ContainerNotFound(f"There is no container named '{name}'; list them with lab.ps(all=True).")


def engine_lost(doing: str, error: BaseException) -> EngineUnavailable:
    return EngineUnavailable(
        f"The Docker engine stopped answering while trying to {doing} ({type(error).__name__}); "
        "start it again (`make setup`) and re-run the cell."
    )


def explanation(error: BaseException) -> str:
    """The engine's own words for a refusal (without the SDK's HTTP preamble)."""
    return str(getattr(error, "explanation", None) or error)


def stream_refusal(error: KeyError) -> docker.errors.APIError | None:
    """The refusal behind the SDK's `KeyError: 'message'`: Podman answers a failed push with an error status
    whose body is a stream event (`{"error": ..., "errorDetail": ...}`), which the SDK cannot read."""
    cause = error.__context__
    response = getattr(cause, "response", None)
    if not isinstance(cause, requests.exceptions.HTTPError) or response is None:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    words = ((body.get("errorDetail") or {}).get("message") or body.get("error")) if isinstance(body, dict) else None
    return docker.errors.APIError(cause, response=response, explanation=words) if words else None


@contextmanager
def sdk_refusals() -> Iterator[None]:
    """Engine calls whose refusals always leave as `docker.errors.APIError`, whatever the engine's body."""
    try:
        yield
    except KeyError as error:
        refusal = stream_refusal(error)
        if refusal is None:
            raise
        raise refusal from None


def explain(error: BaseException, doing: str = "do that", *, image: str | None = None,
            container: str | None = None) -> DockerlabError:
    """The kit's error for one SDK failure while trying to `doing` (with the image or container it was about)."""
    if isinstance(error, docker.errors.NotFound):
        if container is not None:
            return no_such_container(container)
        if image is not None:
            return no_such_image(image)
    transport = isinstance(error, (requests.exceptions.RequestException, urllib3.exceptions.HTTPError))
    if transport and not isinstance(error, docker.errors.APIError):  # an APIError is an answer (requests' HTTPError too)
        return engine_lost(doing, error)
    return EngineRefused(f"The engine refused to {doing}: {explanation(error).rstrip('.')}.")


@contextmanager
def translated(doing: str, *, image: str | None = None, container: str | None = None) -> Iterator[None]:
    """Run engine calls; any SDK failure leaves as the kit's error (see `explain`)."""
    try:
        with sdk_refusals():
            yield
    except ENGINE_ERRORS as error:
        raise explain(error, doing, image=image, container=container) from None


def status_of(error: BaseException) -> int | None:
    """The HTTP status of an engine refusal (None for transport failures)."""
    return getattr(error, "status_code", None)


def found_or_none(look: Callable[[], dict], doing: str) -> dict | None:
    """The engine's answer to `look` (an inspect), or None when there is no such thing (404)."""
    try:
        return look()
    except docker.errors.NotFound:
        return None
    except ENGINE_ERRORS as error:
        raise explain(error, doing) from None


def removed(remove: Callable[[], object]) -> bool | None:
    """Call `remove`: True when it removed, None when the thing was already gone (404), False when the
    engine keeps it because something still needs it or another remover is at work (409)."""
    try:
        remove()
        return True
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as error:
        if error.status_code != 409:
            raise
        return False
