"""``wsgw synth``, ``wsgw deploy`` and ``wsgw destroy``: the bundled CDK app through the
standard CDK CLI (emulator/template/cdk_cli.py)."""

from __future__ import annotations

from pathlib import Path

import click

from emulator.commands.failure import fail
from emulator.commands.progress import StepProgress
from emulator.core.errors import WsgwError
from emulator.template import cdk_cli
from emulator.tools.console import Console


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where to write the cloud assembly (default: deploy/cdk.out in a checkout, "
                   "else a folder of wsgw's user cache).")
def synth(out_dir: Path | None) -> None:
    """Synthesize the bundled CDK app offline (no AWS credentials needed).

    A fast no-op when neither deploy/ nor handlers/ changed since the last synth.

    \b
    Example:
      wsgw synth --out /tmp/wsgw-assembly
    """
    try:
        assembly = cdk_cli.synth(out_dir, progress=StepProgress(Console()))
    except WsgwError as exc:
        fail(str(exc))
    click.echo(f"wsgw: cloud assembly in {assembly}")


@click.command()
@click.option("--stack", "stack_name", default=cdk_cli.DEFAULT_STACK_NAME, show_default=True, help="Stack name.")
@click.option("--profile", default=None, help="AWS profile to deploy with (default: the usual AWS chain).")
@click.option("--region", default=None, help="AWS region (default: the profile's or AWS_REGION).")
def deploy(stack_name: str, profile: str | None, region: str | None) -> None:
    """Deploy the bundled app to AWS with the standard CDK CLI; prints the WebSocket URL.

    \b
    Example:
      wsgw deploy --profile dev --region eu-west-1
    """
    problems = cdk_cli.check_deploy_prerequisites(profile=profile, region=region)
    # "could not verify the bootstrap" is a warning: deploy itself will tell.
    warnings = [p for p in problems if p.startswith(cdk_cli.UNVERIFIED)]
    for warning in warnings:
        click.echo(f"wsgw: warning: {warning}", err=True)
    blocking = [p for p in problems if p not in warnings]
    if blocking:
        fail("cannot deploy yet: " + "; ".join(blocking))
    try:
        outputs = cdk_cli.deploy(stack_name, profile=profile, region=region, progress=StepProgress(Console()))
    except WsgwError as exc:
        fail(str(exc))
    click.echo(f"wsgw: deployed {stack_name}")
    for key in ("WebSocketUrl", "CallbackUrl"):
        if key in outputs:
            click.echo(f"  {key}: {outputs[key]}")


@click.command()
@click.option("--stack", "stack_name", default=cdk_cli.DEFAULT_STACK_NAME, show_default=True, help="Stack name.")
@click.option("--profile", default=None, help="AWS profile (default: the usual AWS chain).")
@click.option("--region", default=None, help="AWS region (default: the profile's or AWS_REGION).")
def destroy(stack_name: str, profile: str | None, region: str | None) -> None:
    """Remove the deployed stack (the connections table goes with it).

    \b
    Example:
      wsgw destroy --profile dev --region eu-west-1
    """
    problems = [p for p in cdk_cli.check_deploy_prerequisites(profile=profile, region=region)
                if "bootstrap" not in p]
    if problems:
        fail("cannot destroy: " + "; ".join(problems))
    try:
        cdk_cli.destroy(stack_name, profile=profile, region=region, progress=StepProgress(Console()))
    except WsgwError as exc:
        fail(str(exc))
    click.echo(f"wsgw: destroyed {stack_name}")
