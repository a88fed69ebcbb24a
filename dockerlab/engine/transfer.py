"""Login, push and pull: credentials checked by the engine and passed per call, transfers streamed.

Push and pull stream the engine's JSON events into a `TransferProgress` (per-layer status and bytes) and
fail with one sentence when any event carries an error or no digest came back: a half-finished push is
never reported as a success.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import quote

import docker

from ..errors import LoginFailed, TransferFailed
from ..model.progress import TransferProgress
from ..model.references import DOCKER_HUB, Reference
from .connection import Engine
from .translate import ENGINE_ERRORS, explanation, found_or_none, sdk_refusals, translated

HUB_LOGIN_ADDRESS = "https://index.docker.io/v1/"  # the key the engine and the SDK use for Docker Hub
LOOPBACK = "127.0.0.1"
PODMAN_API = "4.0.0"  # the version of Podman's own API asked for the one thing the compatible API lacks
PODMAN_PLAIN_HTTP_FILE = "/etc/containers/registries.conf.d/50-dockerlab-loopback.conf"  # made by `make setup`


def login_key(address: str) -> str:
    """How the engine and the SDK name a registry for credentials (Docker Hub has its legacy URL)."""
    return HUB_LOGIN_ADDRESS if address == DOCKER_HUB else address


def checked_address(engine: Engine, address: str) -> str:
    """Where the engine checks a login: Podman's API checks a plain-HTTP registry only when it is named
    `localhost:PORT`, so the kit's `127.0.0.1:PORT` (the same registry) is checked under that name there."""
    host, _, port = address.rpartition(":")
    if engine.backend == "podman" and host == LOOPBACK and port.isdigit():
        return f"localhost:{port}"
    return address


def explain_login_failure(address: str, username: str, message: str) -> str:
    """One sentence for a refused or failed login (never repeating the password)."""
    low = message.lower()
    if "401" in low or "unauthorized" in low or "incorrect username or password" in low:
        return (f"Login to {address} failed: the registry refused user '{username}' with that password. "
                "Check both (they are case-sensitive) and log in again.")
    return f"Login to {address} failed: {unreachable_reason(address, message) or message}."


def unreachable_reason(address: str, message: str) -> str:
    """Why a registry could not be reached, in words, or "" when the message is about something else."""
    low = message.lower()
    if "http response to https client" in low:
        return (f"the engine wants HTTPS at {address}, which serves plain HTTP; on Podman run `make setup` as root "
                f"(it marks the loopback registries as plain HTTP in {PODMAN_PLAIN_HTTP_FILE})")
    if "connection refused" in low:
        return (f"nothing answers at {address} (is the registry stopped?). Start it (`dockerlab registry "
                "start`, or lab.start_registry()) and try again")
    if any(word in low for word in ("no such host", "lookup ", "network is unreachable", "i/o timeout",
                                    "no route to host", "tls handshake timeout")):
        where = "Docker Hub" if address == DOCKER_HUB else address
        return f"{where} cannot be reached from this machine (it is offline, or the host name is misspelt)"
    return ""


def check_login(engine: Engine, address: str, username: str, password: str) -> None:
    """Check the credentials with the engine (`docker login`); the SDK's in-memory copy is dropped at once."""
    key = login_key(checked_address(engine, address))
    try:
        engine.api.login(username, password, registry=key, reauth=True)
    except docker.errors.APIError as error:
        raise LoginFailed(explain_login_failure(address, username, explanation(error))) from None
    finally:
        forget_sdk_login(engine, key)


def forget_sdk_login(engine: Engine, key: str) -> None:
    """The SDK keeps a successful login in memory for later calls; the kit passes credentials per call."""
    auth_configs = getattr(engine.api, "_auth_configs", None)
    if auth_configs is not None:
        auth_configs.get("auths", {}).pop(key, None)


def explain_transfer_failure(action: str, shown: str, ref: Reference, message: str) -> str:
    """One sentence for a push or pull that did not finish."""
    verb = {"push": "Pushing", "pull": "Pulling"}[action]
    where = "Docker Hub" if ref.on_docker_hub else f"the registry at {ref.registry}"
    low = message.lower()
    if ref.on_docker_hub and action == "push" and ref.path.startswith("library/"):
        return (f"Pushing {shown} means pushing to {ref.full.rsplit(':', 1)[0]} (no host: Docker Hub; no user: "
                "its official 'library' images, which only Docker may push); tag it with your registry and user "
                f"first, e.g. lab.tag('{shown}', '<registry>/<user>/{ref.path.removeprefix('library/')}', "
                f"'{ref.tag}').")
    if any(word in low for word in ("no basic auth credentials", "authentication required", "unauthorized")):
        return (f"{verb} {shown} was refused: {where} wants a login first; log in with "
                f"lab.login('{ref.registry}', USER, PASSWORD) (`docker login {ref.registry}`) and {action} again.")
    reason = unreachable_reason(ref.registry, message)
    if reason:
        return f"{verb} {shown} failed: {reason}."
    if "manifest unknown" in low or "not found" in low:
        return (f"There is no {shown} in {where}: no tag '{ref.tag}' in repository {ref.path} there. Check the "
                "name and the tag (a name without one means ':latest'), or push it first.")
    if "denied" in low:
        return (f"{verb} {shown} was refused: {where} denies access to {ref.path}; you may only push under "
                "your own user name (tag it as <your user>/<name>).")
    return f"{verb} {shown} failed: {message}"


def transfer(engine: Engine, action: str, ref: Reference, shown: str, auth: dict | None,
             on_progress: Callable[[TransferProgress], None] | None = None) -> TransferProgress:
    """`docker push` or `docker pull`, streamed; `TransferFailed` unless the registry confirmed a digest."""
    progress = TransferProgress()
    api = engine.api
    if action == "push" and image_id_of(engine, shown) is None:
        raise TransferFailed(
            f"There is no local image called {shown} to push; give an image that name first with "
            f"lab.tag(IMAGE, '{ref.repository}', '{ref.tag}').")
    before = image_id_of(engine, shown) if action == "pull" and engine.backend == "podman" else None
    try:
        with sdk_refusals():
            if action == "push":
                events = api.push(ref.repository, ref.tag, stream=True, decode=True, auth_config=auth)
            else:
                events = api.pull(ref.repository, tag=ref.digest or ref.tag, stream=True, decode=True,
                                  auth_config=auth)
            for event in events:
                progress.apply(event)
                if on_progress is not None:
                    on_progress(progress)
    except docker.errors.APIError as error:
        progress.error = explanation(error)
    except ENGINE_ERRORS as error:
        progress.error = f"the engine stopped answering ({type(error).__name__})"
    if progress.error:
        raise TransferFailed(explain_transfer_failure(action, shown, ref, progress.error))
    if engine.backend == "podman":
        said_as_the_docker_cli_says(engine, action, ref, shown, progress, before)
    if not progress.digest:
        raise TransferFailed(f"{'Pushing' if action == 'push' else 'Pulling'} {shown} did not finish: the "
                             "registry never confirmed a digest; try again.")
    return progress


def image_id_of(engine: Engine, shown: str) -> str | None:
    """The id of the local image called `shown`, or None when there is none."""
    found = found_or_none(lambda: engine.api.inspect_image(shown), f"find the image {shown}")
    return found["Id"] if found else None


def said_as_the_docker_cli_says(engine: Engine, action: str, ref: Reference, shown: str, progress: TransferProgress,
                                before: str | None) -> None:
    """Podman's API names the tag in the push header and says nothing of a pull's source, digest or outcome:
    the docker CLI's lines, made from the reference, the engine's record and whether the image changed."""
    if action == "push":
        tagged = f":{ref.tag}]"
        if progress.header.endswith(tagged):
            progress.header = progress.header.removesuffix(tagged) + "]"
        return
    progress.header = progress.header or f"{ref.digest or ref.tag}: Pulling from {ref.path}"
    progress.digest = progress.digest or ref.digest or pulled_digest(engine, shown)
    if not progress.outcome:
        changed = before is None or before != image_id_of(engine, shown)
        progress.outcome = f"Status: {'Downloaded newer image' if changed else 'Image is up to date'} for {shown}"


def keep_digest_reference(engine: Engine, ref: Reference, digest: str, auth: dict | None) -> str | None:
    """`REPOSITORY@DIGEST`, kept as a name of the image after a push or a pull by tag, as Docker keeps it
    (it outlives the tag); None where the engine keeps it itself. Podman names an image by digest only when
    pulled by it: the manifest is fetched again (its layers are here already)."""
    if engine.backend != "podman" or ref.digest or not digest:
        return None
    reference = f"{ref.repository}@{digest}"
    with translated(f"record {reference}"):
        with sdk_refusals():
            for _ in engine.api.pull(ref.repository, tag=digest, stream=True, decode=True, auth_config=auth):
                pass
    return reference


def pulled_digest(engine: Engine, shown: str) -> str:
    """The manifest digest a pull just fetched, where the engine printed none (Podman): its own API keeps
    the last one written as the image's `Digest` (its RepoDigests pair every name with every digest)."""
    url = f"{engine.api.base_url}/v{PODMAN_API}/libpod/images/{quote(shown, safe='/:@')}/json"
    found = found_or_none(lambda: engine.api._result(engine.api._get(url), json=True), f"find the image {shown}")
    return (found or {}).get("Digest", "")
