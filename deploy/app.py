"""CDK app entry of the chat app: the ``cdk`` CLI runs it (``cdk.json`` says how).

In wsgw's repository this is the bundled app (``wsgw synth``/``deploy``/``destroy``);
``wsgw init`` copies it into new projects. The stack name is the ``stackName`` context
value (``cdk.json``, or ``-c stackName=Other`` for a second copy side by side), else
``WsgwChatStack``.
"""

from __future__ import annotations

import aws_cdk as cdk

from stack import WsgwChatStack

DEFAULT_STACK_NAME = "WsgwChatStack"


def main() -> None:
    app = cdk.App()
    stack_name = app.node.try_get_context("stackName") or DEFAULT_STACK_NAME
    # Environment-agnostic on purpose: synth needs no AWS account, and deploy targets
    # the account/region of the caller's credentials (AWS_PROFILE, AWS_REGION).
    WsgwChatStack(app, stack_name, description="wsgw bundled chat app (WebSocket API + Lambda + DynamoDB)")
    app.synth()


if __name__ == "__main__":
    main()
