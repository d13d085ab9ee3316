"""Step Functions logging and the account's CloudWatch Logs resource policy.

moto gap: CreateStateMachine and UpdateStateMachine store a
``loggingConfiguration`` and nothing else happens: no resource policy is
written, and no number of state machines logging to no matter which groups
ever fails.

AWS's behaviour: to deliver a state machine's execution logs, Step Functions
(through CloudWatch Logs' vended-log delivery) grants
``delivery.logs.amazonaws.com`` ``logs:CreateLogStream`` and
``logs:PutLogEvents`` on the destination group in the account's (per
region) CloudWatch Logs resource policy ``AWSLogDeliveryWrite20150319``,
creating the policy if missing and appending the group's
``log-group:<name>:log-stream:*`` ARN to its ``Resource`` list otherwise.
Entries are never removed when the state machine goes.  A group whose name
begins with ``/aws/vendedlogs/`` needs no entry of its own (CloudWatch Logs
grants those under one ``/aws/vendedlogs/*`` entry, which this model does
not write: it adds no size a test could observe).  A resource policy is at
most 5,120 characters; when the entry would not fit, CreateStateMachine and
UpdateStateMachine fail with ``InvalidLoggingConfiguration``: "Invalid Logging
Configuration: The CloudWatch Logs Resource Policy size was exceeded. We
suggest prefixing your CloudWatch log group name with /aws/vendedlogs/states/."

Sources: Step Functions Developer Guide, "Avoiding Amazon CloudWatch Logs
resource policy size restrictions" (bp-cwl.html: the 5,120-character limit
and the ``/aws/vendedlogs/`` prefix) and "Logging using CloudWatch Logs";
CloudWatch Logs User Guide, "Logs sent to CloudWatch Logs"
(AWS-logs-infrastructure-CWL.html: the policy name, principal, actions and
resource ARN); the Logs API model's ``PolicyDocument`` (max 5,120); the
error's wording as AWS returns it (quoted in, for example,
aws-samples/aws-batch-runtime-monitoring#23 and aws/aws-cdk#28900).

The document is written compactly (``{"Version":...}``), as
DescribeResourcePolicies shows AWS's, so its length is the length AWS
counts.
"""

from __future__ import annotations

import json
import threading
from typing import Any

POLICY_NAME = "AWSLogDeliveryWrite20150319"
POLICY_LIMIT = 5120
VENDED_PREFIX = "/aws/vendedlogs/"
_LOCK = threading.Lock()


def _destination_groups(logging_configuration: Any) -> list[tuple[str, str]]:
    """(log group ARN without its ``:*``, group name) of each destination."""
    groups = []
    for destination in (logging_configuration or {}).get("destinations") or []:
        arn = ((destination or {}).get("cloudWatchLogsLogGroup") or {}).get("logGroupArn") or ""
        parts = arn.split(":")
        # arn:<partition>:logs:<region>:<account>:log-group:<name>[:*]
        if len(parts) >= 7 and parts[5] == "log-group":
            groups.append((":".join(parts[:7]), parts[6]))
    return groups


def _statement() -> dict[str, Any]:
    return {
        "Sid": POLICY_NAME,
        "Effect": "Allow",
        "Principal": {"Service": ["delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [],
    }


def grant_delivery(logs: Any, logging_configuration: Any) -> bool:
    """Adds each destination outside ``/aws/vendedlogs/`` to the log
    delivery policy of ``logs`` (moto's Logs backend of the state machine's
    account and region); False, with nothing written, when the policy would
    pass 5,120 characters."""
    groups = [
        arn
        for arn, name in _destination_groups(logging_configuration)
        if not name.startswith(VENDED_PREFIX)
    ]
    if not groups:
        return True
    with _LOCK:
        existing = logs.resource_policies.get(POLICY_NAME)
        document = (
            json.loads(existing.policy_document)
            if existing
            else {"Version": "2012-10-17", "Statement": [_statement()]}
        )
        resources = document["Statement"][0]["Resource"]
        for arn in groups:
            if f"{arn}:log-stream:*" not in resources:
                resources.append(f"{arn}:log-stream:*")
        text = json.dumps(document, separators=(",", ":"))
        if existing and text == existing.policy_document:
            return True
        if len(text) > POLICY_LIMIT:
            return False
        logs.put_resource_policy(POLICY_NAME, text)
        return True


def patch_sfn_log_delivery_policy() -> None:
    """Installs :func:`grant_delivery` in front of moto's CreateStateMachine
    and UpdateStateMachine (the base backend's, which the executing parser
    backend calls through ``super()``, after its definition check)."""
    from moto.core.exceptions import AWSError
    from moto.logs.models import logs_backends
    from moto.stepfunctions.models import StepFunctionBackend

    class InvalidLoggingConfiguration(AWSError):
        TYPE = "InvalidLoggingConfiguration"
        STATUS = 400

    def granted(backend: Any, logging_configuration: Any) -> None:
        logs = logs_backends[backend.account_id][backend.region_name]
        if not grant_delivery(logs, logging_configuration):
            raise InvalidLoggingConfiguration(
                "Invalid Logging Configuration: The CloudWatch Logs Resource Policy size was "
                "exceeded. We suggest prefixing your CloudWatch log group name with "
                "/aws/vendedlogs/states/."
            )

    create = StepFunctionBackend.create_state_machine
    update = StepFunctionBackend.update_state_machine

    def create_state_machine(self: Any, *args: Any, **kwargs: Any) -> Any:
        granted(self, kwargs.get("loggingConfiguration"))
        return create(self, *args, **kwargs)

    def update_state_machine(self: Any, *args: Any, **kwargs: Any) -> Any:
        granted(self, kwargs.get("logging_configuration"))
        return update(self, *args, **kwargs)

    StepFunctionBackend.create_state_machine = create_state_machine  # type: ignore[method-assign]
    StepFunctionBackend.update_state_machine = update_state_machine  # type: ignore[method-assign]
