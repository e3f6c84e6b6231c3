"""``wsgw init [DIR]``: write a new project the user owns, from the bundled chat app.

The files are the bundled app's own (bundled_app.py finds them in a checkout or in the
installed package): its handlers, its CDK app (``deploy/app.py``, ``deploy/stack.py``) or
its SAM twin (``deploy/chat-app.sam.yaml``, written as ``template.yaml``), and its
end-to-end tests (``examples/test_chat_example.py``). Written here are only the files
that belong to a project rather than to wsgw: ``cdk.json``, requirements, ``pytest.ini``,
README and ``.gitignore``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import click

from emulator.commands.failure import fail
from emulator.core.errors import WsgwError
from emulator.template import bundled_app

# What `cdk init app --language python` watches, with the app in deploy/ and tests apart.
CDK_JSON_WATCH = {
    "include": ["**"],
    "exclude": ["README.md", "cdk*.json", "requirements*.txt", "**/__init__.py", "**/__pycache__", "tests"],
}
CDK_REQUIREMENTS = "aws-cdk-lib>=2.170,<3\nconstructs>=10,<11\n"
DEV_REQUIREMENTS = """\
# The tests' tools; install them where wsgw is installed (its pytest plugin runs there).
pytest>=8
pytest-asyncio>=0.24
"""
PYTEST_INI = """\
[pytest]
testpaths = tests
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
"""
GITIGNORE = """\
.venv/
__pycache__/
*.pyc
.pytest_cache/
cdk.out/
.wsgw/
.aws-sam/
"""
README = """\
# {name}

A chat over an AWS API Gateway WebSocket API: `whoAmI` answers with your connection id,
`sendMessage` delivers a message to another connection, and connection ids are kept in
DynamoDB. Written by `wsgw init`{variant}; yours to change.

```
handlers/          the Lambda functions (Python), one module per route
{definition}
tests/             end-to-end tests with wsgw's pytest fixtures
```

## Set up

In the virtualenv where wsgw is installed (the one `wsgw init` ran from):

```
pip install -r {requirements}
```

## The two commands

```
wsgw run-local     # serve the app on ws://127.0.0.1:3001/dev, reloading on every edit
pytest             # the end-to-end tests, against a local gateway; no AWS account needed
```

Try it with `wsgw connect` in a second terminal: send `{{"action": "whoAmI"}}`.

## Deploy

{deploy}
"""
CDK_DEFINITION = "deploy/app.py      the CDK app (cdk.json runs it)\ndeploy/stack.py    the stack: table, functions, WebSocket API, dev stage"
SAM_DEFINITION = "template.yaml      the SAM template: table, functions, WebSocket API, dev stage"
CDK_DEPLOY = ("`npx aws-cdk deploy` (Node.js needed; the first time in an account and region, "
              "`npx aws-cdk bootstrap`). It prints the WebSocket URL.")
SAM_DEPLOY = "`sam deploy --guided` (the AWS SAM CLI). The stack's outputs name the WebSocket URL."


def stack_name_for(folder: Path) -> str:
    """A CloudFormation stack name from a folder name: ``my-chat`` gives ``MyChatStack``."""
    words = [word for word in re.split(r"[^A-Za-z0-9]+", folder.name) if word]
    name = "".join(word[:1].upper() + word[1:] for word in words) or "Chat"
    return f"{name if name[0].isalpha() else 'App' + name}Stack"


def write_project(target: Path, kind: str) -> list[Path]:
    """Write the project (``kind`` ``cdk`` or ``sam``) into ``target``, which must be
    missing or empty; returns the files written. WsgwError when it cannot."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise WsgwError(f"{target} is not an empty folder: choose a new one (wsgw init never overwrites files)")
    source = bundled_app.app_root()
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "handlers", target / "handlers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "tests").mkdir()
    shutil.copyfile(source / "examples" / "test_chat_example.py", target / "tests" / "test_chat.py")
    if kind == "cdk":
        (target / "deploy").mkdir()
        for name in ("app.py", "stack.py"):
            shutil.copyfile(source / "deploy" / name, target / "deploy" / name)
        settings = {"app": "python3 deploy/app.py", "watch": CDK_JSON_WATCH,
                    "context": {"stackName": stack_name_for(target.resolve())}}
        (target / "cdk.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        (target / "requirements.txt").write_text(CDK_REQUIREMENTS, encoding="utf-8")
    else:
        shutil.copyfile(source / "deploy" / "chat-app.sam.yaml", target / "template.yaml")
    (target / "requirements-dev.txt").write_text(DEV_REQUIREMENTS, encoding="utf-8")
    (target / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (target / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    (target / "README.md").write_text(README.format(
        name=target.resolve().name,
        variant=" --template sam" if kind == "sam" else "",
        definition=CDK_DEFINITION if kind == "cdk" else SAM_DEFINITION,
        requirements="requirements.txt -r requirements-dev.txt" if kind == "cdk" else "requirements-dev.txt",
        deploy=CDK_DEPLOY if kind == "cdk" else SAM_DEPLOY,
    ), encoding="utf-8")
    return sorted(path for path in target.rglob("*") if path.is_file())


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".", required=False)
@click.option("--template", "kind", type=click.Choice(["cdk", "sam"]), default="cdk", show_default=True,
              help="How the project defines its AWS resources: a Python CDK app, or a SAM template.")
def init(directory: Path, kind: str) -> None:
    """Write a new chat app project you own (handlers, CDK app or SAM template, tests).

    DIRECTORY (default: the current folder) must be new or empty. In it, after
    installing its requirements, `wsgw run-local` serves the app and `pytest` runs its
    end-to-end tests.

    \b
    Examples:
      wsgw init my-chat                   # a Python CDK app
      wsgw init my-chat --template sam    # a SAM template instead
    """
    try:
        files = write_project(directory, kind)
    except (WsgwError, OSError) as exc:
        fail(str(exc))
    where = directory.resolve()
    click.echo(f"wsgw: wrote a {'CDK' if kind == 'cdk' else 'SAM'} chat app project in {where} ({len(files)} files)")
    requirements = "-r requirements.txt -r requirements-dev.txt" if kind == "cdk" else "-r requirements-dev.txt"
    click.echo("Next:")
    if where != Path.cwd().resolve():
        click.echo(f"  cd {directory}")
    click.echo(f"  {shlex.quote(sys.executable)} -m pip install {requirements}   # beside wsgw")
    click.echo("  wsgw run-local     # serve it")
    click.echo("  pytest             # its end-to-end tests")
