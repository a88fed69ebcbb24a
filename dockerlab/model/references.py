"""Image references: `[host[:port]/]path[:tag][@digest]`, parsed and expanded like Docker does.

Pure functions (no engine): `parse_reference("ubuntu")` knows that this means
`docker.io/library/ubuntu:latest`, and an invalid name (`UPPER/case`, `a:b:c`) becomes an
`InvalidReference` saying why, before anything is sent to the engine or a registry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidReference

DOCKER_HUB = "docker.io"
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

# The grammar of github.com/distribution/reference (regexp.go), written out piece by piece.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
DOMAIN = re.compile(rf"^{_DOMAIN}$")
TAG = re.compile(rf"^{_TAG}$")
DIGEST = re.compile(rf"^{_DIGEST}$")
MAX_NAME_LENGTH = 255
FORM = "the form is [host[:port]/]user/repo[:tag], all lowercase, e.g. 127.0.0.1:5000/ruud/partech:1.0"


@dataclass(frozen=True)
class Reference:
    """A parsed image name. `str()` gives it back as written; `.full` gives what Docker expands it to."""

    registry: str  # "docker.io" when the name names no host
    path: str  # "library/ubuntu", "ruud/partech"
    tag: str = DEFAULT_TAG
    digest: str = ""
    explicit_registry: bool = False  # the name spelt its host out
    digest_only: bool = False  # `name@sha256:…` with no tag: Docker adds no `:latest` to it

    @property
    def repository(self) -> str:
        """The name without tag or digest, as the learner would write it (`ubuntu`, `127.0.0.1:5000/x/y`)."""
        if self.explicit_registry:
            return f"{self.registry}/{self.path}"
        return self.path.removeprefix(f"{OFFICIAL_NAMESPACE}/")

    @property
    def full(self) -> str:
        """Everything spelt out: `docker.io/library/ubuntu:latest`, `docker.io/library/ubuntu@sha256:…`."""
        tag = "" if self.digest_only else f":{self.tag}"
        suffix = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.path}{tag}{suffix}"

    @property
    def user(self) -> str:
        """The namespace part (`ruud` in `ruud/partech`), "" for a one-part path on another registry."""
        return self.path.rpartition("/")[0]

    @property
    def on_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    def __str__(self) -> str:
        tag = "" if self.digest_only else f":{self.tag}"
        suffix = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{suffix}"


def _splits_host(first: str) -> bool:
    """Docker's rule: the first part is a host when it has a dot or a colon, or is `localhost`."""
    return "." in first or ":" in first or first == "localhost"


def parse_reference(text: str) -> Reference:
    """Parse an image name the way the Docker CLI does; raise `InvalidReference` with the reason."""
    original = text
    if not text or text != text.strip():
        raise InvalidReference(f"'{original}' is not a valid image name: it is empty or has spaces; {FORM}.")
    name, _, digest = text.partition("@")
    if digest and not DIGEST.match(digest):
        raise InvalidReference(
            f"'{original}' is not a valid image name: after '@' must come a digest like sha256:<64 hex digits>.")
    first, slash, rest = name.partition("/")
    explicit = bool(slash) and _splits_host(first)
    registry, remainder = (first, rest) if explicit else (DOCKER_HUB, name)
    path, _, tag = remainder.partition(":")
    if ":" in tag:
        raise InvalidReference(
            f"'{original}' is not a valid image name: it has more than one ':tag' (only a host may carry a "
            f":port, before the first '/'); {FORM}.")
    if path != path.lower():
        raise InvalidReference(
            f"'{original}' is not a valid image name: repository names must be lowercase "
            f"(try '{original.replace(path, path.lower())}').")
    if explicit and not DOMAIN.match(registry):
        raise InvalidReference(f"'{original}' is not a valid image name: '{registry}' is not a host[:port]; {FORM}.")
    if not PATH.match(path):
        raise InvalidReference(
            f"'{original}' is not a valid image name: '{path}' may hold only lowercase letters, digits and "
            f"single '.', '_' or '-' between them, in parts separated by '/'; {FORM}.")
    if tag and not TAG.match(tag):
        raise InvalidReference(
            f"'{original}' is not a valid image name: the tag '{tag}' may hold only letters, digits, '_', '.' "
            "and '-' (not first), at most 128 characters.")
    if len(registry if explicit else "") + len(path) + 1 > MAX_NAME_LENGTH:
        raise InvalidReference(f"'{original}' is not a valid image name: it is longer than {MAX_NAME_LENGTH} characters.")
    if registry.lower() in HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"{OFFICIAL_NAMESPACE}/{path}"
    return Reference(registry, path, tag or DEFAULT_TAG, digest, explicit and registry != DOCKER_HUB,
                     digest_only=bool(digest) and not tag)


def expand_reference(text: str) -> str:
    """What Docker reads a short name as: `ubuntu` -> `docker.io/library/ubuntu:latest`."""
    return parse_reference(text).full


def familiar_name(name: str) -> str:
    """A name as the `docker` CLI shows it: Podman's API spells every name out (`docker.io/library/ubuntu:1`,
    `docker.io/ruud/partech`); the familiar form drops Docker Hub's host and official namespace
    (`ubuntu:1`, `ruud/partech`). Other names, `<none>` and ids come back as they are."""
    rest = name.removeprefix(f"{DOCKER_HUB}/")
    if rest == name:
        return name
    official = rest.removeprefix(f"{OFFICIAL_NAMESPACE}/")
    return rest if "/" in official.split("@")[0].split(":")[0] else official


def registry_address(text: str) -> str:
    """A registry as `docker login` takes it (`127.0.0.1:5000`, `https://index.docker.io/v1/`) -> `host[:port]`."""
    address = re.sub(r"^[a-z]+://", "", str(text).strip()).split("/", 1)[0]
    if not address or not DOMAIN.match(address):
        raise InvalidReference(f"'{text}' is not a registry address; write it as host[:port], e.g. 127.0.0.1:5000.")
    return DOCKER_HUB if address.lower() in HUB_ALIASES else address
