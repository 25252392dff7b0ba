"""Image references as the kubelet and containerd read them, and what a simulated pull reports.

The grammar is distribution/reference's (regexp.go, normalize.go), so an image the real kubelet rejects with
InvalidImageName is rejected here with the same message, and a pull names the image the way containerd does
("nginx" is pulled as "docker.io/library/nginx:latest").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = f"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^((?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$", re.ASCII)
_ANCHORED_NAME = re.compile(rf"^(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})$", re.ASCII)
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_SIZES = {"sha256": 64, "sha384": 96, "sha512": 128}
_MAX_NAME = 255
_DEFAULT_DOMAIN, _LEGACY_DOMAIN, _OFFICIAL_PREFIX = "docker.io", "index.docker.io", "library/"


class InvalidImage(ValueError):
    """parsers.ParseImageName's error: `couldn't parse image name "X": <reason>`."""


@dataclass(frozen=True)
class Reference:
    name: str
    tag: str
    digest: str

    @property
    def full(self) -> str:
        """The reference containerd pulls and reports (ParseDockerRef: a digest wins over a tag)."""
        return f"{self.name}@{self.digest}" if self.digest else f"{self.name}:{self.tag or 'latest'}"

    @property
    def image_id(self) -> str:
        """status.containerStatuses[].imageID: the repo digest."""
        digest = self.digest or "sha256:" + hashlib.sha256(self.full.encode()).hexdigest()
        return f"{self.name}@{digest}"

    @property
    def size(self) -> int:
        """A stable, plausible image size in bytes for the Pulled message."""
        return 10_000_000 + int(hashlib.sha256(self.name.encode()).hexdigest()[:8], 16) % 190_000_000


def _split_docker_domain(name: str) -> tuple[str, str]:
    domain, sep, remainder = name.partition("/")
    if not sep:
        return _DEFAULT_DOMAIN, _OFFICIAL_PREFIX + name
    if domain == _LEGACY_DOMAIN:
        domain = _DEFAULT_DOMAIN
    elif not (domain == "localhost" or any(c in domain for c in ".:") or domain.lower() != domain):
        domain, remainder = _DEFAULT_DOMAIN, name
    if domain == _DEFAULT_DOMAIN and "/" not in remainder:
        remainder = _OFFICIAL_PREFIX + remainder
    return domain, remainder


def _check_digest(digest: str) -> None:
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_SIZES.get(algorithm)
    if size is None:
        raise ValueError("unsupported digest algorithm")
    if len(encoded) != size:
        raise ValueError("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise ValueError("invalid checksum digest format")


def _parse(text: str) -> Reference:
    """reference.Parse on an already domain-qualified string."""
    match = _REFERENCE.match(text)
    if match is None:
        if text.lower() != text and _REFERENCE.match(text.lower()):
            raise ValueError("repository name must be lowercase")
        raise ValueError("invalid reference format")
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    name_match = _ANCHORED_NAME.match(name)
    path = name_match.group(2) if name_match else name
    if len(path) > _MAX_NAME:
        raise ValueError(f"repository name must not be more than {_MAX_NAME} characters")
    if digest:
        _check_digest(digest)
    return Reference(name, tag, digest)


def parse_normalized(image: str) -> Reference:
    """ParseNormalizedNamed, raising InvalidImage with parsers.ParseImageName's wording."""
    try:
        if _IDENTIFIER.match(image):
            raise ValueError(f"invalid repository name ({image}), cannot specify 64-byte hexadecimal strings")
        domain, remainder = _split_docker_domain(image)
        remote = remainder.split(":", 1)[0]
        if remote.lower() != remote:
            raise ValueError(f"invalid reference format: repository name ({remote}) must be lowercase")
        return _parse(f"{domain}/{remainder}")
    except ValueError as err:
        raise InvalidImage(f'couldn\'t parse image name "{image}": {err}') from err


def pull_error(reference: Reference) -> str:
    """What containerd answers for an image the registry does not have."""
    ref = reference.full
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
            f'failed to resolve reference "{ref}": {ref}: not found')


def fails_to_pull(image: str, failing: tuple[str, ...]) -> bool:
    """SimConfig.failing_images: any substring match makes the registry answer "not found"."""
    return any(part and part in image for part in failing)
