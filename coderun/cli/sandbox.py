"""`coderun sandbox build|check` and `coderun datasets`."""

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
def sandbox_build(base_image, tag):
    """Build the sandbox image from the packaged sources."""
    from coderun.execute import image
    from coderun.execute.docker_provider import client

    image_id = image.build_image(client(), tag, base_image)
    click.echo(f"built {tag or image.default_tag()} ({image_id[:19]})")


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
        click.echo(f"{name:24} {len(bench):4} problems  {command:44}  {bench.source}")
