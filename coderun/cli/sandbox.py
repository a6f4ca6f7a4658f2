"""`coderun sandbox build|check|doctor` and `coderun datasets`."""

from __future__ import annotations

import click

from coderun.cli import main
from coderun.errors import CoderunError


@main.group()
def sandbox() -> None:
    """Build and check the sandbox image."""


@sandbox.command("build")
@click.option("--base-image", help="Base image with python3 [default: $CODERUN_BASE_IMAGE, python:3.12-slim, "
              "or a local coderun-base:bookworm].")
@click.option("--tag", help="Image tag [default: coderun-sandbox:<hash of the sandbox sources>].")
@click.option("--language", "language_names", multiple=True,
              help="Also build this language's toolchain image (`coderun sandbox doctor` lists them). Repeatable.")
def sandbox_build(base_image, tag, language_names):
    """Build the sandbox image from the packaged sources (and toolchain images with --language)."""
    from coderun import languages
    from coderun.execute import image
    from coderun.execute.docker_provider import client

    rows = [languages.get(name) for name in language_names]  # unknown names fail before anything is built
    docker = client()
    image_id = image.build_image(docker, tag, base_image) if tag or not rows else image.ensure(
        docker, image.default_tag(), base_image)
    click.echo(f"built {tag or image.default_tag()} ({image_id[:19]})")
    for row in rows:
        image_id = image.ensure_language(docker, row, base_image)
        click.echo(f"built {image.language_tag(row)} ({image_id[:19]}): {row.title}")


@sandbox.command("doctor")
def sandbox_doctor():
    """Which languages are ready on this machine (their sandbox image built), and their toolchains."""
    import docker.errors

    from coderun import languages
    from coderun.execute import image
    from coderun.execute.docker_provider import client

    docker_client = client()
    for row in languages.registry().values():
        tag = image.language_tag(row)
        try:
            docker_client.images.get(tag)
        except docker.errors.ImageNotFound:
            click.echo(f"{row.key:8} not built   coderun sandbox build --language {row.key}")
            continue
        versions = image.toolchain_versions(docker_client, tag).splitlines() if row.steps else ["python3 (runner)"]
        click.echo(f"{row.key:8} ready       {tag}  {'; '.join(v.strip() for v in versions if v.strip())}")


@sandbox.command("check")
@click.option("--provider", type=click.Choice(["docker", "local"]), default="docker", show_default=True)
def sandbox_check(provider):
    """Start a sandbox and prove its isolation and limits work; say what is wrong if not."""
    from coderun.execute.selfcheck import run_checks
    from coderun.report.console import print_checks

    results = run_checks(provider)
    print_checks(results)
    if not all(ok for _, ok, _ in results):
        raise CoderunError("the sandbox check failed (see above)")


@main.command("datasets")
def list_datasets():
    """List the registered datasets: problems, the command that generates for it, and where it is read from."""
    from coderun.cli.generate import variant_flags
    from coderun.datasets.base import registry

    for name, entry in registry().items():
        bench = entry.loader()
        command = f"coderun {entry.command} {variant_flags(entry.variant)}".strip() if entry.command else "-"
        click.echo(f"{name:38} {entry.language:7} {len(bench):4} problems  {command:44}  {bench.source}")
