"""Building and finding the sandbox image.

The tag carries a hash of the image sources (sandbox/Dockerfile and runner.py), so a changed runner
never runs in a stale image, and config.json records the image id every verdict came from.
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources

from coderun.errors import SandboxError

REPOSITORY = "coderun-sandbox"
DEFAULT_BASE = "python:3.12-slim"
SOURCES = ("Dockerfile", "runner.py", "zygote.py", "classic.py", "calltest.py", "frames.py", "plaindata.py")


def context_dir() -> str:
    return str(resources.files("coderun.sandbox"))


def default_tag() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((resources.files("coderun.sandbox") / name).read_bytes())
    return f"{REPOSITORY}:{h.hexdigest()[:12]}"


LOCAL_BASE = "coderun-base:bookworm"  # what sandbox/build-base.sh makes on machines without a registry


def default_base(docker_client=None) -> str:
    """CODERUN_BASE_IMAGE, else the slim Python image, else a locally built debootstrap base."""
    if os.environ.get("CODERUN_BASE_IMAGE"):
        return os.environ["CODERUN_BASE_IMAGE"]
    if docker_client is not None:
        for candidate in (DEFAULT_BASE, LOCAL_BASE):
            if _has_image(docker_client, candidate):
                return candidate
    return DEFAULT_BASE


def _has_image(docker_client, name: str) -> bool:
    import docker.errors

    try:
        docker_client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure(docker_client, tag: str, base_image: str | None = None, build: bool = True) -> str:
    """The image id of `tag`, building it first if it is missing and `build` allows."""
    import docker.errors

    try:
        return docker_client.images.get(tag).id
    except docker.errors.ImageNotFound:
        if not build:
            raise SandboxError(f"sandbox image {tag} not found; run `coderun sandbox build`") from None
    return build_image(docker_client, tag, base_image)


def build_image(docker_client, tag: str | None = None, base_image: str | None = None) -> str:
    """Build the sandbox image from the packaged sources; returns its id."""
    import docker.errors

    tag = tag or default_tag()
    base = base_image or default_base(docker_client)
    _require_base(docker_client, base)
    try:
        image, _ = docker_client.images.build(path=context_dir(), tag=tag, buildargs={"BASE_IMAGE": base},
                                              rm=True, forcerm=True, pull=False,
                                              labels={"io.coderun.base": base})
    except docker.errors.BuildError as exc:
        lines = [str(c.get("stream", c.get("error", ""))).strip() for c in exc.build_log]
        tail = " | ".join(line for line in lines if line)[-300:]
        raise SandboxError(f"building {tag} from {base} failed: {tail}") from None
    except docker.errors.APIError as exc:
        raise SandboxError(f"building {tag} from {base} failed: {exc.explanation or exc}") from None
    docker_client.images.get(tag)  # fail here, not later, if the tag did not land
    return image.id


def _require_base(docker_client, base: str) -> None:
    """The base must be local or pullable; say what to do on machines without a registry."""
    import docker.errors

    if _has_image(docker_client, base):
        return
    try:
        docker_client.images.pull(base)
    except docker.errors.APIError:
        raise SandboxError(
            f"base image {base} is not on this machine and cannot be pulled; without a registry build one "
            f"with `sandbox/build-base.sh` and pass --base-image coderun-base:bookworm "
            f"(or set CODERUN_BASE_IMAGE)") from None
