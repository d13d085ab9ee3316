"""IAM propagation: a new role is not usable by the services at once.

moto's gap: a role can be passed to Lambda, Step Functions and EventBridge
Scheduler the instant ``CreateRole`` returns.

AWS: IAM is eventually consistent.  A role just created can take seconds
before a service can assume it (IAM User Guide, "Troubleshooting IAM":
"Changes that I make are not always immediately visible"), and meanwhile the
service refuses a request naming the role, each in words of its own (the
Terraform AWS provider retries on the same three):

* Lambda ``CreateFunction`` and ``UpdateFunctionConfiguration``:
  ``InvalidParameterValueException`` (HTTP 400), "The role defined for the
  function cannot be assumed by Lambda."
* Step Functions ``CreateStateMachine`` and ``UpdateStateMachine``:
  ``AccessDeniedException`` (HTTP 400), "Neither the global service principal
  states.amazonaws.com, nor the regional one is authorized to assume the
  provided role."
* EventBridge Scheduler ``CreateSchedule`` and ``UpdateSchedule``:
  ``ValidationException`` (HTTP 400), "The execution role you provide must
  allow AWS EventBridge Scheduler to assume the role."

This module refuses those calls while the role they name is younger than a
configurable time (``POST /_harness/iam {"propagation_seconds": N}``, 0 by
default: no delay, moto's behaviour), so that a client's retries are tested.
The emulator calls ``patch()`` at start, ``handle()`` for the endpoint and
``reset()`` on ``POST /_harness/reset``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable

ENDPOINT = "/_harness/iam"
# Longer than any client waits; a bound on what a test can ask for.
MAX_PROPAGATION_SECONDS = 300

_lock = threading.Lock()
_settings = {"propagation_seconds": 0.0}
# How many calls of each operation were refused since the last setting.
_refused: dict[str, int] = {}


def _role_age_seconds(role_arn: str) -> float | None:
    """Seconds since the role ``role_arn`` names was created; None when moto
    has no such role (moto's own checks then answer as they do)."""
    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends

    parts = role_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return None
    partition, account = parts[1], parts[4]
    if account not in iam_backends or partition not in iam_backends[account]:
        return None
    for role in iam_backends[account][partition].roles.values():
        if role.arn == role_arn:
            return (utcnow() - role.create_date).total_seconds()
    return None


def _refuse_if_new(operation: str, role_arn: Any, refusal: Callable[[], Exception]) -> None:
    window = _settings["propagation_seconds"]
    if window <= 0 or not isinstance(role_arn, str):
        return
    age = _role_age_seconds(role_arn)
    if age is not None and age < window:
        with _lock:
            _refused[operation] = _refused.get(operation, 0) + 1
        raise refusal()


def _guard(
    operation: str,
    cls: type,
    method: str,
    parameter: str,
    role_of: Callable[[Any], Any],
    refusal: Callable[[], Exception],
) -> None:
    """Makes ``cls.method`` (the API's ``operation``) raise ``refusal()``
    while the role that ``role_of`` finds in its ``parameter`` has not
    propagated."""
    original = getattr(cls, method)
    signature = inspect.signature(original)

    @functools.wraps(original)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        _refuse_if_new(operation, role_of(arguments.get(parameter)), refusal)
        return original(self, *args, **kwargs)

    setattr(cls, method, guarded)


def patch() -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend
    from moto.core.exceptions import AWSError
    from moto.scheduler.exceptions import ValidationException
    from moto.scheduler.models import EventBridgeSchedulerBackend
    from moto.stepfunctions.models import StepFunctionBackend

    class StatesAccessDenied(AWSError):
        TYPE = "AccessDeniedException"
        STATUS = 400

    def lambda_refusal() -> Exception:
        return InvalidParameterValueException(
            "The role defined for the function cannot be assumed by Lambda."
        )

    def states_refusal() -> Exception:
        return StatesAccessDenied(
            "Neither the global service principal states.amazonaws.com, nor the "
            "regional one is authorized to assume the provided role."
        )

    def scheduler_refusal() -> Exception:
        return ValidationException(
            "The execution role you provide must allow AWS EventBridge Scheduler "
            "to assume the role."
        )

    def role_field(key: str) -> Callable[[Any], Any]:
        return lambda value: value.get(key) if isinstance(value, dict) else None

    def itself(value: Any) -> Any:
        return value

    # The executing Step Functions backend's methods call these through super().
    lambda_role, schedule_role = role_field("Role"), role_field("RoleArn")
    for guarded in [
        ("CreateFunction", LambdaBackend, "create_function", "spec", lambda_role, lambda_refusal),
        (
            "UpdateFunctionConfiguration",
            LambdaBackend,
            "update_function_configuration",
            "body",
            lambda_role,
            lambda_refusal,
        ),
        ("CreateStateMachine", StepFunctionBackend, "create_state_machine", "roleArn", itself, states_refusal),
        ("UpdateStateMachine", StepFunctionBackend, "update_state_machine", "role_arn", itself, states_refusal),
        ("CreateSchedule", EventBridgeSchedulerBackend, "create_schedule", "target", schedule_role, scheduler_refusal),
        ("UpdateSchedule", EventBridgeSchedulerBackend, "update_schedule", "target", schedule_role, scheduler_refusal),
    ]:
        _guard(*guarded)


def handle(method: str, body: Any) -> tuple[int, Any]:
    """``GET`` or ``POST /_harness/iam``: the setting (after a POST's change,
    which also clears the counts) and how many calls of each operation were
    refused since it was set."""
    if method == "POST":
        seconds = body["propagation_seconds"]
        if (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not 0 <= seconds <= MAX_PROPAGATION_SECONDS
        ):
            raise ValueError(
                f"propagation_seconds must be a number from 0 to {MAX_PROPAGATION_SECONDS}"
            )
        with _lock:
            _settings["propagation_seconds"] = float(seconds)
            _refused.clear()
    elif method != "GET":
        return 405, {"error": f"{method} {ENDPOINT}: GET or POST"}
    with _lock:
        return 200, {**_settings, "refused": dict(_refused)}


def reset() -> None:
    with _lock:
        _settings["propagation_seconds"] = 0.0
        _refused.clear()
