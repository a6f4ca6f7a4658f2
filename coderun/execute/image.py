"""Building and finding the sandbox image.

The tag carries a hash of the image sources (sandbox/Dockerfile and runner.py), so a changed runner
never runs in a stale image, and config.json records the image id every verdict came from.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib import resources

from coderun.errors import SandboxError

REPOSITORY = "coderun-sandbox"
DEFAULT_BASE = "python:3.12-slim"


def sources() -> list[str]:
    """What the image is built from (its Dockerfile copies every module of the runner's)."""
    modules = sorted(f.name for f in resources.files("coderun.sandbox").iterdir() if f.name.endswith(".py"))
    return ["Dockerfile", *modules]


def context_dir() -> str:
    return str(resources.files("coderun.sandbox"))


def default_tag() -> str:
    h = hashlib.sha256()
    for name in sources():
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
    except docker.errors.DockerException as exc:
        raise _build_failed(f"building {tag} from {base}", exc, 300) from None
    docker_client.images.get(tag)  # fail here, not later, if the tag did not land
    return image.id


def _build_failed(what: str, exc, tail_chars: int) -> SandboxError:
    """One line for a failed image build: the build log's last lines, or the daemon's explanation."""
    import docker.errors

    if isinstance(exc, docker.errors.BuildError):
        lines = [str(c.get("stream", c.get("error", ""))).strip() for c in exc.build_log]
        return SandboxError(f"{what} failed: {' | '.join(line for line in lines if line)[-tail_chars:]}")
    if isinstance(exc, docker.errors.APIError):
        return SandboxError(f"{what} failed: {exc.explanation or exc}")
    raise exc


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


# ---- toolchain images: the sandbox image plus one language's Debian packages ----------------------------------

TOOLCHAIN_REPOSITORY = "coderun-sandbox"
TOOLCHAIN_FILE = "/opt/coderun/toolchain.txt"  # the toolchain's versions, written when the image is built


HOST_CAS = "/usr/local/share/ca-certificates"  # a machine behind a TLS-inspecting egress proxy trusts its CA here


def _host_cas() -> list[str]:
    try:
        return sorted(f for f in os.listdir(HOST_CAS) if f.endswith(".crt"))
    except OSError:
        return []


def toolchain_dockerfile(language, runner_image: str) -> str:
    """The Dockerfile of a language's image: the runner's image, then the row's packages and setup. A setup
    that downloads (npm) trusts the host's extra CAs too, as the host's own package managers do."""
    packages = sorted(set(language.packages) | ({"ca-certificates"} if language.setup else set()))
    lines = [f"FROM {runner_image}",
             "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
             + " ".join(packages) + " >/dev/null && rm -rf /var/lib/apt/lists/*"]
    if language.setup and _host_cas():
        lines += ["COPY ca/ /usr/local/share/ca-certificates/", "RUN update-ca-certificates >/dev/null"]
    if language.files:
        lines += ["COPY lang/ /opt/coderun/lang/"]
        for name in language.files:  # their content names the image too
            lines += [f"# {name} {hashlib.sha256(_language_file(name)).hexdigest()[:12]}"]
    env = "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "
    lines += [f"RUN {env}{command}" for command in language.setup]
    versions = " && ".join(f"({v})" for v in language.versions) or "true"
    lines += [f"RUN ({versions}) > {TOOLCHAIN_FILE} 2>&1",
              f'LABEL io.coderun.image="sandbox" io.coderun.language="{language.key}"']
    return "\n".join(lines) + "\n"


def language_tag(language, runner_tag: str | None = None) -> str:
    """The image of `language` (the Python sandbox image itself for python): named by a hash of the runner's
    sources and the row's packages and setup, so a changed row or runner never runs in a stale image."""
    runner_tag = runner_tag or default_tag()
    if not language.steps:
        return runner_tag
    h = hashlib.sha256(toolchain_dockerfile(language, runner_tag).encode())
    return f"{TOOLCHAIN_REPOSITORY}-{language.key}:{h.hexdigest()[:12]}"


def ensure_language(docker_client, language, base_image: str | None = None, build: bool = True) -> str:
    """The image id of `language`'s sandbox, building it (and the runner's image under it) if missing."""
    import docker.errors

    runner_tag = default_tag()
    tag = language_tag(language, runner_tag)
    if tag == runner_tag:
        return ensure(docker_client, tag, base_image, build)
    try:
        return docker_client.images.get(tag).id
    except docker.errors.ImageNotFound:
        if not build:
            raise SandboxError(f"the {language.key} sandbox image {tag} is not built; run "
                               f"`coderun sandbox build --language {language.key}`") from None
    ensure(docker_client, runner_tag, base_image, build=True)
    dockerfile = toolchain_dockerfile(language, runner_tag)
    context = tempfile.mkdtemp(prefix="coderun-image-")
    try:
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write(dockerfile)
        os.mkdir(os.path.join(context, "ca"))
        os.mkdir(os.path.join(context, "lang"))
        for name in language.files:
            with open(os.path.join(context, "lang", name), "wb") as f:
                f.write(_language_file(name))
        for name in _host_cas() if language.setup else []:
            shutil.copy(os.path.join(HOST_CAS, name), os.path.join(context, "ca", name))
        image, _ = docker_client.images.build(path=context, tag=tag, rm=True, forcerm=True, pull=False)
    except docker.errors.DockerException as exc:
        raise _build_failed(f"building the {language.key} sandbox image", exc, 400) from None
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return image.id


def toolchain_versions(docker_client, image: str) -> str:
    """What the image's toolchain says of its versions (written at build time): the run's fingerprint. Read
    from a created, never started, container: a tenth of the time of running one."""
    import io
    import tarfile

    container = None
    try:
        container = docker_client.containers.create(image, ["true"], entrypoint=[], network_mode="none")
        stream, _ = container.get_archive(TOOLCHAIN_FILE)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            out = member.read() if member else b""
    except Exception:  # noqa: BLE001 - the Python image has no toolchain file
        return ""
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:  # noqa: BLE001 - best effort: an unstarted container holds nothing
                pass
    return out.decode("utf-8", "replace").strip()


def _language_file(name: str) -> bytes:
    return (resources.files("coderun.languages") / "files" / name).read_bytes()
