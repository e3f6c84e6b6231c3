"""CDK app entry of the bundled chat app; the ``cdk`` CLI runs it from ``deploy/``.

Usually reached through ``emulator.template.cdk_cli`` (``synth``/``deploy``/``destroy``), or by
hand: ``cd deploy && npx cdk synth``. The stack name defaults to ``WsgwChatStack``;
``-c stackName=Other`` deploys a second copy side by side.
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
