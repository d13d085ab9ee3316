#!/usr/bin/env python3
"""Local AWS emulator for the sjob tests: moto 5.2.x in-process, plus patches.

Usage
-----
    python3 tests/harness/emulator.py [--port N] [--verbose] [--no-stdin-watch]
    python3 tests/harness/emulator.py --fork-server SOCKET

* ``--port 0`` (the default) picks a free loopback port.  The server binds to
  127.0.0.1 only.  Once it answers, exactly one line ``READY <port>`` is printed
  to stdout (flushed); everything else goes to stderr.
* The process runs until SIGTERM/SIGINT, or until its stdin reaches EOF when
  stdin is a pipe or socket (so a test process that dies takes the emulator
  with it: spawn it with a piped stdin and keep the write end open).  When
  stdin is a terminal, /dev/null or a regular file it is ignored, so that the
  emulator can also run in the background of a shell script or a CI job that
  has no stdin.  ``--no-stdin-watch`` never watches stdin.
* ``--fork-server SOCKET`` loads moto once and starts a fresh emulator per
  connection to the Unix socket, by forking (see ``_fork_server``): how the
  end-to-end tests start theirs.
* Point SDK clients at ``http://127.0.0.1:<port>`` with any credentials
  (e.g. ``AWS_ACCESS_KEY_ID=testing``).  Nothing here ever talks to real AWS.

moto is configured at start as if by ``POST /moto-api/config`` with
``{"stepfunctions":{"execute_state_machine":true},"batch":{"use_docker":false},
"lambda":{"use_docker":false}}`` (Step Functions executes definitions; Batch jobs
and Lambda functions do not need Docker), and with
``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` (AWS-managed policy ARNs exist).

Harness endpoints (served next to moto's API on the same port)
---------------------------------------------------------------
``GET  /_harness/health``
    ``{"ok": true, "port": N}``.
``POST /_harness/lambda``  body ``{"function_name": "f", "command": ["/path/bin", ...]}``
    Registers a real Lambda binary for the function name ``f`` (registration may
    come before or after CreateFunction).  ``"command": null`` unregisters.
    Invocations of a registered function (Lambda Invoke API, and therefore also
    Step Functions ``arn:aws:states:::lambda:invoke``) run the binary under a
    one-shot AWS Lambda Runtime API; see ``LambdaRunner``.  The binary's
    stdout/stderr is appended to the file named by ``SJOB_HARNESS_LAMBDA_LOG``
    (read at each invocation) when set.
``GET  /_harness/lambda``
    ``{"f": ["/path/bin", ...], ...}``: the registrations.
``GET  /_harness/lambda/invocations``
    JSON list, oldest first, of ``{"function_name", "request_id", "event",
    "response"}`` or ``{..., "error"}`` for every forwarded invocation.
    ``DELETE`` on the same path clears the list.
``POST /_harness/batch``  body ``{"outcome": "succeeded"|"failed"|"running"|"command", "failed_array_indexes": [1]}``
    How Batch jobs submitted from now on end: SUCCEEDED (exit code 0), FAILED
    (exit code 1), not at all (RUNNING until TerminateJob), or as their own
    container command ends when run on this machine (see
    `_run_container_command`).  The children
    of an array job at ``failed_array_indexes`` (optional, default none) fail
    whatever the outcome; the parent ends FAILED when any child failed.
    ``GET`` returns the current setting.  The initial value is "failed" when
    ``MOTO_SIMPLE_BATCH_FAIL_AFTER`` is set at start.
``POST /_harness/lambda/failures``  body ``{"function_name": "f", "errors": [{...}, ...]}``
    The next ``len(errors)`` RequestResponse invocations of ``f`` answer with
    these function-error payloads (``X-Amz-Function-Error: Unhandled``)
    instead of running the binary; a payload without ``errorType`` is a crash
    Step Functions reports as ``Lambda.Unknown``.  Recorded in the invocation
    log with ``"injected": true``.
``POST /_harness/sfn``  body ``{"retry_wait_scale": 0.01}``
    Multiplies every Retry wait of the Step Functions interpreter (0 to 1;
    1, AWS's timing, by default).
``GET`` / ``POST /_harness/iam``  body ``{"propagation_seconds": 5}``
    A role younger than this is not yet assumable by Lambda, Step Functions
    or Scheduler (0, no delay, by default); see ``iam_propagation``.
``POST /_harness/reset``
    Resets all moto backends (like ``POST /moto-api/reset``) and the harness
    state except Lambda registrations (invocation log and queued failures
    cleared, batch outcome "succeeded" with no failed array children, retry
    wait scale 1, no IAM propagation delay).

Patches (each a function below, named after the moto gap it fixes)
-------------------------------------------------------------------
See ``apply_patches()`` for the list; every patch is documented where defined.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import batch_compute_update
import conformance
import iam_propagation
import log_delivery
import policy_documents

# Must be set before moto is imported: moto reads it when the IAM backend loads.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
# Belt and braces: nothing in this process may reach for real credentials/IMDS.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "batch": {"use_docker": False},
    "lambda": {"use_docker": False},
}

LOG = logging.getLogger("sjob-harness")


# --------------------------------------------------------------------------
# Harness state shared by the endpoints and the patches
# --------------------------------------------------------------------------
class HarnessState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.port = 0
        self.lambda_commands: dict[str, list[str]] = {}
        self.invocations: list[dict[str, Any]] = []
        # How Batch jobs submitted from now on end: "succeeded", "failed",
        # "running" (they run until TerminateJob), or "command" (as their
        # container command ends, run here).
        self.batch_outcome = (
            "failed" if os.environ.get("MOTO_SIMPLE_BATCH_FAIL_AFTER") else "succeeded"
        )
        # The children of array jobs that fail whatever the outcome.
        self.failed_array_indexes: set[int] = set()
        # The lines each job's container writes when its attempt starts.
        self.container_output: list[str] = []
        self.lambda_failures: dict[str, list[dict[str, Any]]] = {}
        self.retry_wait_scale = 1.0

    def next_lambda_failure(self, function_name: str) -> dict[str, Any] | None:
        with self.lock:
            queued = self.lambda_failures.get(function_name)
            return queued.pop(0) if queued else None

    def lambda_command(self, function_name: str) -> list[str] | None:
        with self.lock:
            cmd = self.lambda_commands.get(function_name)
            return list(cmd) if cmd else None

    def record_invocation(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.invocations.append(record)


STATE = HarnessState()


def _function_name_of(name_or_arn: str) -> str:
    """`f`, `f:qual`, `123456789012:function:f` or a full ARN -> `f`."""
    parts = name_or_arn.split(":")
    if name_or_arn.startswith("arn:") and len(parts) >= 7:
        return parts[6]
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2]
    return parts[0]


# --------------------------------------------------------------------------
# Patch a: Step Functions ValidateStateMachineDefinition
# --------------------------------------------------------------------------
def _diag(message: str, location: str) -> dict[str, str]:
    return {
        "severity": "ERROR",
        "code": "SCHEMA_VALIDATION_FAILED",
        "message": message,
        "location": location,
    }


def _check_states_block(block: Any, location: str, diags: list[dict[str, str]]) -> None:
    """Structural checks of one {StartAt, States} block (top level, Parallel
    branch, Map ItemProcessor/Iterator), recursively."""
    if not isinstance(block, dict):
        diags.append(_diag("Expected an object", location))
        return
    states = block.get("States")
    start_at = block.get("StartAt")
    if start_at is None:
        diags.append(_diag("The field 'StartAt' is required but was missing", location))
    if not isinstance(states, dict) or not states:
        diags.append(_diag("The field 'States' is required but was missing", location))
        return
    if start_at is not None and start_at not in states:
        diags.append(
            _diag(
                f"Missing 'Next' target: {start_at}",
                f"{location}/StartAt".lstrip("/"),
            )
        )
    for name, st in states.items():
        here = f"{location}/States/{name}".lstrip("/")
        if not isinstance(st, dict):
            diags.append(_diag("State must be an object", here))
            continue
        if "Type" not in st:
            diags.append(_diag("The field 'Type' is required but was missing", here))
        targets: list[tuple[str, Any]] = []
        if "Next" in st:
            targets.append((f"{here}/Next", st["Next"]))
        if "Default" in st:
            targets.append((f"{here}/Default", st["Default"]))
        for i, choice in enumerate(st.get("Choices") or []):
            if isinstance(choice, dict) and "Next" in choice:
                targets.append((f"{here}/Choices[{i}]/Next", choice["Next"]))
        for i, catcher in enumerate(st.get("Catch") or []):
            if isinstance(catcher, dict) and "Next" in catcher:
                targets.append((f"{here}/Catch[{i}]/Next", catcher["Next"]))
        for loc, target in targets:
            if target not in states:
                diags.append(_diag(f"Missing 'Next' target: {target}", loc))
        if st.get("Type") == "Parallel":
            branches = st.get("Branches")
            if not isinstance(branches, list) or not branches:
                diags.append(
                    _diag("The field 'Branches' is required but was missing", here)
                )
            else:
                for i, branch in enumerate(branches):
                    _check_states_block(branch, f"{here}/Branches[{i}]", diags)
        if st.get("Type") == "Map":
            for key in ("ItemProcessor", "Iterator"):
                if key in st:
                    _check_states_block(st[key], f"{here}/{key}", diags)


def validate_asl_definition(definition: Any) -> dict[str, Any]:
    """Result of ValidateStateMachineDefinition for `definition` (a string)."""
    try:
        doc = json.loads(definition) if isinstance(definition, str) else None
    except ValueError as exc:
        doc = None
        err = str(exc)
    else:
        err = "Definition must be a JSON object"
    if not isinstance(doc, dict):
        return {
            "result": "FAIL",
            "diagnostics": [_diag(f"Invalid JSON: {err}", "")],
            "truncated": False,
        }
    diags: list[dict[str, str]] = []
    _check_states_block(doc, "", diags)
    if not diags:
        # Also run moto's own ASL parser, which CreateStateMachine uses: a
        # definition that validates OK here must be creatable in moto.
        try:
            from moto.stepfunctions.parser.asl.parse.asl_parser import (
                AmazonStateLanguageParser,
            )

            AmazonStateLanguageParser.parse(definition)
        except Exception as exc:  # noqa: BLE001 - any parser error is a FAIL
            diags.append(_diag(f"{type(exc).__name__}: {exc}", ""))
    if diags:
        return {"result": "FAIL", "diagnostics": diags, "truncated": False}
    return {"result": "OK", "diagnostics": [], "truncated": False}


def patch_sfn_validate_state_machine_definition() -> None:
    """moto gap: `ValidateStateMachineDefinition` is not implemented (HTTP 500;
    the Terraform provider retries it until timeout).  Structural validation:
    JSON, StartAt/States present, StartAt and every Next/Default/Choices/Catch
    target exist, recursively into Parallel branches and Map processors; then
    moto's own ASL parser."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self: Any) -> ActionResult:
        return ActionResult(validate_asl_definition(self._get_param("definition")))

    StepFunctionResponse.validate_state_machine_definition = (  # type: ignore[attr-defined]
        validate_state_machine_definition
    )


# --------------------------------------------------------------------------
# Patch b: ListStateMachineVersions (and ListStateMachineAliases if missing)
# --------------------------------------------------------------------------
def patch_sfn_list_versions_and_aliases() -> None:
    """moto gap: `ListStateMachineVersions` is not implemented (the Terraform
    provider calls it on every read).  Returns the versions moto knows
    (published with publish=true), newest first, else an empty list.
    `ListStateMachineAliases` exists in moto 5.2.5; it gets the same empty
    answer only if a future/older moto lacks it."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: Any) -> ActionResult:
        arn = self._get_param("stateMachineArn")
        versions: list[dict[str, Any]] = []
        try:
            sm = self.stepfunction_backend.describe_state_machine(arn)
            for number in sorted(getattr(sm, "versions", {}) or {}, reverse=True):
                v = sm.versions[number]
                versions.append(
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                )
        except Exception:  # noqa: BLE001 - unknown machine: empty list
            versions = []
        return ActionResult({"stateMachineVersions": versions})

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]

    if not hasattr(StepFunctionResponse, "list_state_machine_aliases"):

        def list_state_machine_aliases(self: Any) -> ActionResult:
            return ActionResult({"stateMachineAliases": []})

        StepFunctionResponse.list_state_machine_aliases = list_state_machine_aliases  # type: ignore[attr-defined]


# --------------------------------------------------------------------------
# Patch c: Batch service integration in the ASL interpreter
# --------------------------------------------------------------------------
def _operation_model(service: str, action: str) -> Any:
    """botocore's model of `action` (`submitJob` or `submit_job`)."""
    import botocore.session

    op = "".join(p[:1].upper() + p[1:] for p in action.split("_"))
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(op)


def _map_members_through_shapes(cls: Any, service: str | None = None) -> None:
    """The interpreter's `_normalise_parameters` and `_normalise_response`
    are no-ops; on `cls` they become what Step Functions does: the state's
    PascalCase parameters -> the API's members (`_to_boto_request`), the
    answer -> PascalCase (`_to_sfn_response`) with timestamps as text.
    `service` is the botocore service, the task's own by default."""

    def operation(self: Any, service_action_name: str | None) -> Any:
        return _operation_model(
            service or self._get_boto_service_name(),
            service_action_name or self.resource.api_action,
        )

    def _normalise_parameters(
        self: Any,
        parameters: dict,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        self._to_boto_request(parameters, operation(self, service_action_name).input_shape)

    def _normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        _to_sfn_response(response, operation(self, service_action_name).output_shape)
        _iso_timestamps(response)

    cls._normalise_parameters = _normalise_parameters
    cls._normalise_response = _normalise_response


def _iso_timestamps(value: Any) -> Any:
    """Every datetime in a boto3 answer -> ISO 8601 text, in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _iso_timestamps(item)
    elif isinstance(value, list):
        value[:] = [_iso_timestamps(item) for item in value]
    elif isinstance(value, datetime):
        return _aws_timestamp(value)
    return value


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def _to_sfn_response(value: Any, shape: Any) -> Any:
    """Batch API (camelCase) -> Step Functions (PascalCase), in place, driven
    by the botocore shape: structure member names are capitalised at every
    level, map-valued members (tags, parameters, log options) keep their keys.
    Keys the shape does not know are left alone, which makes this idempotent."""
    from botocore.model import ListShape, MapShape, StructureShape

    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = shape.members
        for key in list(value.keys()):
            lookup = key[:1].lower() + key[1:]
            member = members.get(key) or members.get(lookup)
            if member is None:
                continue
            item = value.pop(key)
            value[_pascal(key)] = _to_sfn_response(item, member)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = _to_sfn_response(item, shape.member)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key in list(value.keys()):
            value[key] = _to_sfn_response(value[key], shape.value)
    return value


def _batch_client_error_cause(ex: Any) -> tuple[str, str]:
    """botocore ClientError from Batch -> (Error, Cause) as Step Functions
    reports them, e.g. ("Batch.ClientException", "Job queue x does not exist
    (Service: AWSBatch; Status Code: 400; Error Code: ClientException;
    Request ID: <uuid>; Proxy: null)")."""
    code = ex.response.get("Error", {}).get("Code") or "ClientException"
    message = ex.response.get("Error", {}).get("Message") or ""
    meta = ex.response.get("ResponseMetadata", {})
    status = meta.get("HTTPStatusCode", 400)
    request_id = meta.get("RequestId") or ""
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", request_id):
        request_id = str(uuid.uuid4())  # moto's ids are not UUIDs; AWS's are
    details = "; ".join(
        [
            "Service: AWSBatch",
            f"Status Code: {status}",
            f"Error Code: {code}",
            f"Request ID: {request_id}",
            "Proxy: null",
        ]
    )
    return f"Batch.{code}", f"{message} ({details})"


def patch_sfn_batch_integration() -> None:
    """moto gap: the interpreter's `StateTaskService._normalise_parameters` and
    `_normalise_response` are no-ops, so `batch:submitJob(.sync)` sends
    PascalCase names to Batch (every task fails with States.Runtime) and
    returns camelCase.  For the Batch service task:
    * request: Step Functions' PascalCase -> Batch camelCase via the botocore
      SubmitJob input shape (nested ContainerOverrides/Environment/...; map
      members such as Parameters/Tags keep the user's keys);
    * response: SubmitJob/DescribeJobs output -> PascalCase at every level,
      map members keep their keys (see `_to_sfn_response`);
    * the interpreter silently dropped PropagateTags, ShareIdentifier, ... :
      the supported-parameter list is completed;
    * `.sync` failure: Error "States.TaskFailed", Cause = *compact* JSON of the
      PascalCase job record (moto used json.dumps with spaces);
    * SubmitJob rejected by Batch: Error "Batch.<Code>", Cause
      "<message> (Service: AWSBatch; Status Code: 400; ...; Proxy: null)"
      (moto wrapped it in "Error executing request, Exception : ...");
    * a `.sync` task that ends before its job (TimeoutSeconds, or the
      execution stopped) left the job running; AWS terminates it, naming the
      execution in the reason (which is why Step Functions' Batch `.sync`
      policy needs batch:TerminateJob).
    The MANAGED_BY_AWS=STARTED_BY_STEP_FUNCTIONS variable is appended by moto
    already (lower-case name/value keys, which the request mapping accepts).
    """
    from botocore.exceptions import ClientError

    from moto.batch.utils import JobStatus
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as batch_mod,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    cls = batch_mod.StateTaskServiceBatch

    batch_mod._SUPPORTED_API_PARAM_BINDINGS["submitjob"].update(
        {
            "PropagateTags",
            "ShareIdentifier",
            "SchedulingPriorityOverride",
            "EcsPropertiesOverride",
            "EksPropertiesOverride",
            "NodeOverrides",
            "ConsumableResourcePropertiesOverride",
        }
    )

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            error, cause = _batch_client_error_cause(ex)
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return original_from_error(self, env, ex)

    def _build_sync_resolver(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any,
    ) -> Any:
        batch_client = boto_client_for(
            service="batch",
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )
        submission_output: dict = env.stack.pop()
        job_id = submission_output["JobId"]

        def _sync_resolver() -> dict | None:
            resp = batch_client.describe_jobs(jobs=[job_id])
            jobs = resp.get("jobs") or []
            if not jobs:
                return None
            status = jobs[0].get("status")
            if status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                return None
            resp.pop("ResponseMetadata", None)
            self._normalise_response(response=resp, service_action_name="describe_jobs")
            job = resp["Jobs"][0]
            if status == JobStatus.SUCCEEDED:
                return job
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=json.dumps(job, separators=(",", ":")),
                        )
                    ),
                )
            )

        _sync_resolver.stop = lambda reason: batch_client.terminate_job(jobId=job_id, reason=reason)
        return _sync_resolver

    def _eval_sync(self: Any, env: Any, sync_resolver: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_eval_sync(self, env, sync_resolver, *args, **kwargs)
        # The job's description when it ended; otherwise nothing, or the
        # callback's outcome (`CallbackOutcomeTimedOut` when the task's
        # TimeoutSeconds passed), and the task has ended with the job
        # still going.
        job_ended = isinstance(result, dict)
        if sync_resolver is not None and not job_ended and not env.is_running():
            execution = env.states.context_object.context_object_data["Execution"]["Id"]
            sync_resolver.stop(
                f"The Task state in AWS Step Functions execution [{execution}] "
                "which was managing this resource has ended"
            )
        return result

    original_from_error = cls.__mro__[1]._from_error
    original_eval_sync = cls._eval_sync
    cls._eval_sync = _eval_sync
    _map_members_through_shapes(cls, "batch")
    cls._from_error = _from_error
    cls._build_sync_resolver = _build_sync_resolver


# --------------------------------------------------------------------------
# DynamoDB: atomic conditional writes, and tables that take time to create
# --------------------------------------------------------------------------
#: How long a new table stays CREATING (AWS: usually a few seconds).
DYNAMODB_TABLE_CREATING_SECONDS = 2.0


def patch_dynamodb_conditional_writes_atomic() -> None:
    """moto gap: PutItem, UpdateItem and DeleteItem evaluate their
    ConditionExpression and then write, with nothing in between keeping
    another request thread of the server from writing the same item, so two
    conditional writes that exclude each other can both succeed. AWS:
    conditional writes are atomic; of concurrent writes to one item whose
    conditions exclude each other, one succeeds and the others fail with
    ConditionalCheckFailedException (DynamoDB developer guide, "Condition
    expressions" / "Conditional writes").  Item reads and writes here take
    one lock, so each is atomic as on AWS."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("get_item", "put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, atomic)


def patch_dynamodb_table_creating() -> None:
    """moto gap: CreateTable makes a table ACTIVE at once.  AWS: CreateTable
    is asynchronous; the table is CREATING (DescribeTable's TableStatus)
    until DynamoDB has allocated it, and only an ACTIVE table takes reads
    and writes, which fail with ResourceNotFoundException before (DynamoDB
    API reference, CreateTable: "You can perform read and write operations
    only on an ACTIVE table").  Here a new table is CREATING for
    DYNAMODB_TABLE_CREATING_SECONDS, so a deployer that does not wait for
    ACTIVE before starting what writes to the table is caught."""
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original_create = DynamoDBBackend.create_table
    original_describe = Table.describe

    def create_table(self: Any, *args: Any, **kwargs: Any) -> Any:
        table = original_create(self, *args, **kwargs)
        table.sjob_active_at = time.monotonic() + DYNAMODB_TABLE_CREATING_SECONDS
        return table

    def creating(table: Any) -> bool:
        return time.monotonic() < getattr(table, "sjob_active_at", 0.0)

    def describe(self: Any, *args: Any, **kwargs: Any) -> Any:
        described = original_describe(self, *args, **kwargs)
        if creating(self):
            for description in described.values():
                description["TableStatus"] = "CREATING"
        return described

    DynamoDBBackend.create_table = create_table  # type: ignore[method-assign]
    Table.describe = describe  # type: ignore[method-assign]
    for name in ("get_item", "put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def only_when_active(
            self: Any, table_name: str, *args: Any, _original: Any = original, **kwargs: Any
        ) -> Any:
            table = self.tables.get(table_name)
            if table is not None and creating(table):
                raise ResourceNotFoundException(table_name=table_name)
            return _original(self, table_name, *args, **kwargs)

        setattr(DynamoDBBackend, name, only_when_active)


# --------------------------------------------------------------------------
# Patch d: States.* errors leaving a Parallel state
# --------------------------------------------------------------------------
def patch_sfn_aws_sdk_integration() -> None:
    """moto gap: the interpreter's AWS SDK integrations
    (`arn:aws:states:::aws-sdk:<service>:<action>`) pass the state's
    parameters to boto3 as written (`StateMachineArn`, which boto3 refuses
    for `stateMachineArn`) and return boto3's answer as it is: camelCase
    members and datetime objects, which the execution history cannot hold.
    AWS: an SDK integration takes and returns the API's members with the
    first letter capitalised, timestamps as text (Step Functions developer
    guide, "Integrating other services" / AWS SDK integrations).  Both
    directions are mapped through the operation's botocore shapes, as for
    Batch above."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk_mod,
    )

    _map_members_through_shapes(sdk_mod.StateTaskServiceAwsSdk)


def patch_sfn_parallel_states_errors() -> None:
    """moto gap: a failing Parallel branch is re-raised as
    `CustomErrorName(error)`, whose constructor rejects the `States.` prefix
    (ValueError), so e.g. States.TaskFailed from a failed `.sync` job never
    reaches the Parallel's Catch.  The branch error name is rebuilt as a
    StatesErrorName for `States.*` names (so `ErrorEquals: ["States.TaskFailed"]`
    matches too) and as a plain error name otherwise; Error and Cause are passed
    through unchanged."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import (
        ErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import (
        branches_decl,
    )

    class _AnyErrorName(ErrorName):
        """An error name that may start with `States.` (unknown States.* names)."""

    def branch_error_name(error_name: str | None) -> ErrorName:
        if error_name is not None and error_name.startswith("States."):
            try:
                return StatesErrorName.from_name(error_name)
            except ValueError:
                return _AnyErrorName(error_name)
        return CustomErrorName(error_name)

    branches_decl.CustomErrorName = branch_error_name  # type: ignore[attr-defined]


# --------------------------------------------------------------------------
# Patch e: Lambda invoke forwarding to real binaries (Runtime API)
# --------------------------------------------------------------------------
def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """Request body with Content-Length or chunked transfer encoding."""
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            line = handler.rfile.readline().strip()
            size = int(line.split(b";")[0] or b"0", 16)
            if size == 0:
                while handler.rfile.readline().strip():  # trailers
                    pass
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class LambdaRunner:
    """One invocation of a registered binary under a one-shot Runtime API.

    Serves GET /2018-06-01/runtime/invocation/next (the event, once; later
    calls block until the runner ends), POST .../invocation/{id}/response,
    POST .../invocation/{id}/error and POST /2018-06-01/runtime/init/error on a
    fresh 127.0.0.1 port; spawns the binary with the function's environment;
    kills it (its whole process group) after the response or the timeout."""

    API = "/2018-06-01/runtime"

    def __init__(self, fn: Any, command: list[str], payload: bytes, timeout: float):
        self.fn = fn
        self.command = command
        self.payload = payload
        self.timeout = timeout
        self.request_id = str(uuid.uuid4())
        self.done = threading.Event()
        self.closing = threading.Event()
        self.delivered = False
        self.result: bytes | None = None
        self.is_error = False

    # -- Runtime API server ------------------------------------------------
    def _make_server(self) -> ThreadingHTTPServer:
        runner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                LOG.debug("runtime-api: " + fmt, *args)

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self) -> None:  # noqa: N802
                if self.path != f"{runner.API}/invocation/next":
                    self._reply(404, b'{"errorMessage":"not found"}')
                    return
                if runner.delivered:
                    # One-shot: the runtime loops for a second event; park it
                    # until the runner kills the process.
                    runner.closing.wait(runner.timeout + 5)
                    self.close_connection = True
                    self._reply(410, b'{"errorMessage":"runtime is shutting down"}')
                    return
                runner.delivered = True
                deadline_ms = int((time.time() + runner.timeout) * 1000)
                self._reply(
                    200,
                    runner.payload,
                    {
                        "Lambda-Runtime-Aws-Request-Id": runner.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": runner.fn.function_arn,
                        "Lambda-Runtime-Trace-Id": (
                            f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                            "Parent=0000000000000000;Sampled=0"
                        ),
                    },
                )

            def do_POST(self) -> None:  # noqa: N802
                body = _read_body(self)
                prefix = f"{runner.API}/invocation/{runner.request_id}/"
                if self.path == prefix + "response":
                    runner._finish(body, is_error=False)
                elif self.path == prefix + "error" or self.path == f"{runner.API}/init/error":
                    err_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                    runner._finish(_error_payload(body, err_type), is_error=True)
                else:
                    self._reply(404, b'{"errorMessage":"unknown request id or path"}')
                    return
                self._reply(202, b'{"status":"OK"}')

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server

    def _finish(self, body: bytes, is_error: bool) -> None:
        if self.done.is_set():
            return
        self.result = body
        self.is_error = is_error
        self.done.set()

    # -- process -----------------------------------------------------------
    def _environment(self, api_port: int) -> dict[str, str]:
        fn = self.fn
        region = fn.region
        env = {
            # Only a minimal part of the emulator's environment is inherited
            # (never its AWS_* settings), like a real Lambda sandbox.
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "RUST_LOG", "RUST_BACKTRACE")
        }
        env.update(
            {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{STATE.port}",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": (
                    f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
                ),
                "AWS_EC2_METADATA_DISABLED": "true",
                "_HANDLER": fn.handler or "bootstrap",
            }
        )
        logging = logging_config(fn)
        env["AWS_LAMBDA_LOG_FORMAT"] = logging["LogFormat"]
        if logging["LogFormat"] == "JSON":
            env["AWS_LAMBDA_LOG_LEVEL"] = logging["ApplicationLogLevel"]
        # The function's own variables win (AWS_ENDPOINT_URL included: tests
        # point it elsewhere to simulate an unreachable service).
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{api_port}"
        return env

    def run(self) -> tuple[bytes, bool]:
        server = self._make_server()
        api_port = server.server_address[1]
        # Short poll interval: shutdown() waits for it after every invocation.
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        out = tempfile.TemporaryFile()
        started = time.time()
        proc = None
        try:
            try:
                proc = subprocess.Popen(
                    self.command,
                    env=self._environment(api_port),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                return _error_json("Runtime.InvalidEntrypoint", f"{exc}"), True
            deadline = started + self.timeout
            while not self.done.wait(0.02):
                if proc.poll() is not None:
                    # Exited: give an in-flight POST a moment to land.
                    if self.done.wait(0.2):
                        break
                    return (
                        _error_json(
                            "Runtime.ExitError",
                            f"RequestId: {self.request_id} Error: Runtime exited "
                            f"with error: exit status {proc.returncode}",
                        ),
                        True,
                    )
                if time.time() > deadline:
                    return (
                        _error_json(
                            "Sandbox.Timedout",
                            f"RequestId: {self.request_id} Error: Task timed out "
                            f"after {self.timeout:.2f} seconds",
                        ),
                        True,
                    )
            return self.result or b"", self.is_error
        finally:
            self.closing.set()
            if proc is not None:
                _kill_group(proc)
            server.shutdown()
            server.server_close()
            self._append_log(out, started)
            out.close()

    def _append_log(self, out: Any, started: float) -> None:
        path = os.environ.get("SJOB_HARNESS_LAMBDA_LOG")
        if not path:
            return
        out.seek(0)
        data = out.read()
        header = (
            f"=== {datetime.now(timezone.utc).isoformat()} {self.fn.function_name} "
            f"request {self.request_id} ({time.time() - started:.3f}s) ===\n"
        )
        with _LOG_FILE_LOCK, open(path, "ab") as f:
            f.write(header.encode())
            f.write(data)
            if data and not data.endswith(b"\n"):
                f.write(b"\n")


_LOG_FILE_LOCK = threading.Lock()


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop the binary we spawned (and anything it spawned in its session)."""
    for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _error_payload(body: bytes, error_type_header: str | None) -> bytes:
    """What a runtime posted to .../error, as the Invoke API returns it."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        if "errorType" not in doc and error_type_header:
            doc["errorType"] = error_type_header
        return json.dumps(doc, separators=(",", ":")).encode()
    return _error_json(
        error_type_header or "Runtime.Unknown", body.decode("utf-8", "replace")
    )


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def forward_invocation(fn: Any, command: list[str], payload: bytes) -> tuple[bytes, bool]:
    runner = LambdaRunner(fn, command, payload, float(fn.timeout or 3))
    LOG.info("lambda %s: invoking %s (request %s)", fn.function_name, command[0], runner.request_id)
    result, is_error = runner.run()
    record = {
        "function_name": fn.function_name,
        "request_id": runner.request_id,
        "event": _json_or_text(payload),
    }
    record["error" if is_error else "response"] = _json_or_text(result)
    STATE.record_invocation(record)
    LOG.info("lambda %s: %s", fn.function_name, "error" if is_error else "ok")
    return result, is_error


def patch_lambda_invoke_forwarding() -> None:
    """moto gap: with use_docker=false Lambda never looks the function up and
    just echoes the payload.  For functions registered via POST /_harness/lambda
    the invocation runs the real binary (see LambdaRunner); an error post
    becomes a function error (X-Amz-Function-Error: Unhandled), so the Invoke
    API and Step Functions' lambda:invoke (Error = errorType, Cause = compact
    payload JSON) behave as on AWS.  InvocationType=Event runs in the
    background and answers 202; DryRun runs nothing.  Unregistered functions
    keep moto's behaviour.  Failures queued with POST /_harness/lambda/failures
    answer the next RequestResponse invocations instead of the binary: the
    Lambda-side crashes (timeouts, out of memory) a test cannot make a healthy
    handler have once."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        command = STATE.lambda_command(_function_name_of(function_name))
        if command is None:
            return original(self, function_name, qualifier, body, headers, response_headers)
        fn = self.get_function(function_name, qualifier)  # 404 if not created
        if isinstance(body, str):
            body = body.encode("utf-8")
        payload = body or b"{}"
        invocation_type = (headers.get("X-Amz-Invocation-Type") if headers else None) or (
            "RequestResponse"
        )
        response_headers["x-amz-executed-version"] = "$LATEST"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            threading.Thread(
                target=forward_invocation, args=(fn, command, payload), daemon=True
            ).start()
            return b""
        injected = STATE.next_lambda_failure(_function_name_of(function_name))
        if injected is not None:
            STATE.record_invocation(
                {"function_name": fn.function_name, "event": _json_or_text(payload),
                 "error": injected, "injected": True}
            )
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(injected).encode()
        result, is_error = forward_invocation(fn, command, payload)
        if is_error:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]


def patch_sfn_lambda_unknown() -> None:
    """moto gap: a Lambda function error whose payload has no `errorType`
    (a timeout or an out-of-memory crash on older runtimes) becomes the error
    "Exception"; AWS reports it as `Lambda.Unknown` ("Unhandled errors in
    Lambda are reported as Lambda.Unknown in the error output. These include
    out-of-memory errors and function timeouts", Step Functions developer
    guide, "Handling transient Lambda service exceptions"), with the cause
    "The cause could not be determined because Lambda did not return an error
    type. Returned payload: ..."."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskServiceLambda._from_error

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
            try:
                error_type = json.loads(ex.payload).get("errorType")
            except (ValueError, AttributeError):
                error_type = None
            if not error_type:
                cause = (
                    "The cause could not be determined because Lambda did not "
                    f"return an error type. Returned payload: {ex.payload}"
                )
                return FailureEvent(
                    env=env,
                    error_name=CustomErrorName("Lambda.Unknown"),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error="Lambda.Unknown",
                            cause=cause,
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                        )
                    ),
                )
        return original(self, env, ex)

    StateTaskServiceLambda._from_error = _from_error  # type: ignore[method-assign]


def patch_sfn_retry_wait_scale() -> None:
    """Not a gap: a test knob.  A Retry waits IntervalSeconds x BackoffRate^n
    as on AWS; tests that exhaust a handler's six retries (about two minutes)
    set a scale (POST /_harness/sfn) that multiplies every such wait.  The
    default, 1, is AWS's timing."""
    import types

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    real_sleep = time.sleep
    retrier_decl.time = types.SimpleNamespace(  # type: ignore[attr-defined]
        sleep=lambda seconds: real_sleep(seconds * STATE.retry_wait_scale)
    )


# --------------------------------------------------------------------------
# Patch f (+g): Batch job outcome and a realistic job record
# --------------------------------------------------------------------------
STATUS_REASON = "Essential container in task exited"
ARRAY_CHILD_FAILED = "Array Child Job failed"
# Batch's container log group when the job definition names none.
DEFAULT_BATCH_LOG_GROUP = "/aws/batch/job"


def _write_container_output(job: Any) -> str | None:
    """moto gap: batch_simple runs no container and writes no log stream
    (moto's Docker path writes to `/aws/batch/job` whatever the job
    definition says).  AWS: the awslogs driver writes the container's output
    to `awslogs-group` (Batch's `/aws/batch/job`, which it creates, when the
    definition has no logConfiguration) in the stream
    `PREFIX/default/TASK-ID`, the prefix being `awslogs-stream-prefix` or
    the job definition's name; a named group that does not exist fails the
    task before the container starts (CannotStartContainerError,
    ResourceInitializationError).  Writes the container's lines there (see
    `_container_output`); the failure's status reason, or None."""
    props = job.job_definition.container_properties or {}
    config = props.get("logConfiguration") or {}
    options = config.get("options") or {} if config.get("logDriver") == "awslogs" else {}
    group = options.get("awslogs-group", DEFAULT_BATCH_LOG_GROUP)
    prefix = options.get("awslogs-stream-prefix", job.job_definition.name)
    task_id = job.latest_attempt["container"]["taskArn"].rsplit("/", 1)[-1]
    stream = f"{prefix}/default/{task_id}"
    logs = job._log_backend
    if group == DEFAULT_BATCH_LOG_GROUP:
        logs.ensure_log_group(group)
    elif group not in logs.groups:
        return (
            "ResourceInitializationError: failed to validate logger args: "
            "The specified log group does not exist."
        )
    logs.ensure_log_stream(group, stream)
    start = int(time.time() * 1000)
    events = [
        {"timestamp": start + i, "message": line}
        for i, line in enumerate(_container_output(job))
    ]
    if events:
        logs.put_log_events(group, stream, events)
    job.log_stream_name = stream
    job.latest_attempt["container"]["logStreamName"] = stream
    return None


# How long a container command the harness runs may take (outcome "command").
CONTAINER_COMMAND_TIMEOUT = 60


def _container_output(job: Any) -> list[str]:
    """The lines a job's container writes: the harness's `container_output`,
    or with the outcome "command" those of the job's own command, run here
    (its exit code is kept on the job for `_mark_job_as_finished`)."""
    if STATE.batch_outcome != "command":
        return STATE.container_output
    job.harness_exit_code, lines = _run_container_command(job)
    return lines


def _run_container_command(job: Any) -> tuple[int, list[str]]:
    """moto gap: batch_simple runs no container, so every job ends as the
    harness says, whatever its command.  AWS runs the job definition's
    command (or SubmitJob's override) in the image with the job's
    environment; the container's exit code decides the attempt (0
    SUCCEEDED, anything else FAILED with that `exitCode`), and the awslogs
    driver sends its stdout and stderr lines to the job's log stream.  With
    the outcome "command" the harness runs that command on this machine (the
    image aside: keep commands to what any POSIX `sh` does) with the job's
    environment and `AWS_BATCH_JOB_ID`, `AWS_BATCH_JOB_ATTEMPT`,
    `AWS_BATCH_JQ_NAME`, and takes its exit code and output lines.  A command
    that cannot start exits 127, as a shell reports it; one still running
    after `CONTAINER_COMMAND_TIMEOUT` seconds is killed and exits 137."""
    command = job._get_container_property("command", [])
    env = {e["name"]: e["value"] for e in job._get_container_property("environment", [])}
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_BATCH_JOB_ID": job.job_id,
            "AWS_BATCH_JOB_ATTEMPT": str(len(job.attempts)),
            "AWS_BATCH_JQ_NAME": job.job_queue.name,
        }
    )
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=CONTAINER_COMMAND_TIMEOUT,
        )
    except subprocess.TimeoutExpired as timeout:
        return 137, (timeout.output or b"").decode(errors="replace").splitlines()
    except OSError as exc:
        return 127, [f"{command[0] if command else '(no command)'}: {exc.strerror}"]
    return done.returncode, done.stdout.decode(errors="replace").splitlines()


def patch_lambda_permission_statement_ids() -> None:
    """moto gap: AddPermission appends a statement whose id the policy
    already has, so the policy ends with two statements of one id and
    RemovePermission removes only the first.  AWS refuses it with
    ResourceConflictException (409): "The statement id (...) provided
    already exists. Please provide a new statement id, or remove the
    existing statement." (Lambda API reference, AddPermission)."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.policy import Policy

    original = Policy.add_statement

    def add_statement(self: Any, raw: str, qualifier: str | None = None) -> tuple[Any, str]:
        sid = json.loads(raw).get("StatementId")
        if sid and any(s.get("Sid") == sid for s in self.statements):
            error = LambdaClientError(
                "ResourceConflictException",
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement.",
            )
            error.code = 409
            raise error
        return original(self, raw, qualifier)

    Policy.add_statement = add_statement  # type: ignore[method-assign]


def patch_lambda_logging_config() -> None:
    """moto gap: CreateFunction and UpdateFunctionConfiguration drop
    ``LoggingConfig``, and GetFunction(Configuration) never return it.  AWS
    stores it and returns it on every function: ``LogFormat`` ``Text`` and
    ``LogGroup`` ``/aws/lambda/<name>`` when none was set ("Configuring
    advanced logging controls for Lambda functions").  AWS also passes the
    settings to the runtime as ``AWS_LAMBDA_LOG_FORMAT`` and, for JSON,
    ``AWS_LAMBDA_LOG_LEVEL`` (the application log level); LambdaRunner does
    the same from the stored config."""
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self.harness_logging_config = dict(spec.get("LoggingConfig") or {})

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original_get(self, on_create)
        config["LoggingConfig"] = logging_config(self)
        return config

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            self.harness_logging_config = dict(config_updates["LoggingConfig"] or {})
        return original_update(self, config_updates)

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]


def logging_config(fn: Any) -> dict[str, Any]:
    """A function's LoggingConfig as AWS returns it, defaults filled in."""
    stored = getattr(fn, "harness_logging_config", {}) or {}
    config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fn.function_name}"}
    config.update(stored)
    if config["LogFormat"] == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    return config


def patch_batch_job_outcome() -> None:
    """moto (batch_simple) finishes every job inside SubmitJob; it reads
    MOTO_SIMPLE_BATCH_FAIL_AFTER per job, but a failed job looks nothing like
    a real one.  Replaced `_mark_job_as_finished`: outcome from the harness
    setting (POST /_harness/batch), never sleeps; both ends get exit code
    (0/1, or the command's with the outcome "command") at top level and in
    the single attempt, StatusReason "Essential
    container in task exited", a log stream name, StartedAt/StoppedAt.  A
    "running" job gets its attempt and stays RUNNING (see
    `patch_batch_terminate_running_job`).

    An array job's children end like any job (or FAILED at the harness's
    `failed_array_indexes`); batch_simple then finishes the parent, which
    moto ends like a child, with an exit code and a log stream.  AWS's parent
    runs no container: no attempt, exit code or log stream; it is PENDING
    while children run, FAILED with StatusReason "Array Child Job failed"
    when any child failed, SUCCEEDED otherwise ("Array jobs", AWS Batch User
    Guide)."""
    from moto.batch.utils import JobStatus
    from moto.batch_simple.models import BatchSimpleBackend

    def _finish_array_parent(self: Any, job: Any, size: int) -> None:
        children = [self.backend._jobs.get(f"{job.job_id}:{i}") for i in range(size)]
        statuses = [child.status for child in children if child is not None]
        if any(s not in (JobStatus.SUCCEEDED, JobStatus.FAILED) for s in statuses):
            job.status = JobStatus.PENDING
            return
        failed = JobStatus.FAILED in statuses
        if failed:
            job.job_stopped_reason = ARRAY_CHILD_FAILED
        job._mark_stopped(success=not failed)

    def _mark_job_as_finished(self: Any, include_start_attempt: bool, job: Any) -> None:
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.now()
        array = job.array_properties or {}
        if "size" in array:
            _finish_array_parent(self, job, array["size"])
            return
        job.log_stream_name = job._stream_name
        if include_start_attempt:
            job._start_attempt()
            # moto puts "TBD" and the job definition ARN here; a Fargate
            # attempt has an ECS task ARN and no container instance.
            container = job.latest_attempt["container"]
            container["taskArn"] = (
                f"arn:aws:ecs:{job.job_definition._region}:{self.account_id}:task/"
                f"AWSBatch-{job.job_queue.name}/{uuid.uuid4().hex}"
            )
            if "FARGATE" in (job.job_definition.platform_capabilities or []):
                container.pop("containerInstanceArn", None)
            cannot_start = _write_container_output(job)
            if cannot_start is not None:
                job.job_stopped_reason = cannot_start
                job.latest_attempt["statusReason"] = cannot_start
                container.pop("logStreamName", None)
                job.log_stream_name = None
                job._mark_stopped(success=False)
                return
        failed_child = array.get("index") in STATE.failed_array_indexes
        if STATE.batch_outcome == "running" and not failed_child:
            job.status = JobStatus.RUNNING
            return
        exit_code = getattr(job, "harness_exit_code", 1 if STATE.batch_outcome == "failed" else 0)
        if failed_child:
            exit_code = exit_code or 1
        fail = exit_code != 0
        job.exit_code = exit_code
        job.job_stopped_reason = STATUS_REASON
        if job.latest_attempt is not None:
            job.latest_attempt["container"]["exitCode"] = job.exit_code
            job.latest_attempt["statusReason"] = STATUS_REASON
        job._mark_stopped(success=not fail)

    BatchSimpleBackend._mark_job_as_finished = _mark_job_as_finished  # type: ignore[method-assign]


def patch_batch_terminate_running_job() -> None:
    """moto gap: `Job.terminate` only sets a flag the job's own thread reads;
    batch_simple jobs have no thread, so TerminateJob never ends a RUNNING
    job.  AWS: TerminateJob ends a STARTING or RUNNING job FAILED, with the
    given reason as its status reason; on an array job's parent it ends the
    children that have not ended, and the parent with them (Batch API
    reference, TerminateJob)."""
    from moto.batch.models import Job
    from moto.batch.utils import JobStatus

    original = Job.terminate

    def terminate(self: Any, reason: str) -> None:
        original(self, reason)
        if self._child_jobs and not self.job_stopped:
            for child in self._child_jobs:
                child.terminate(reason)
            self.job_stopped_reason = reason
            self._mark_stopped(success=False)
        if self.status in (JobStatus.STARTING, JobStatus.RUNNING) and not self.job_stopped:
            self.job_stopped_reason = reason
            if self.latest_attempt is not None:
                self.latest_attempt["statusReason"] = reason
            self._mark_stopped(success=False)

    Job.terminate = terminate  # type: ignore[method-assign]


def patch_batch_array_summaries() -> None:
    """moto gap: ListJobs' job summaries lack `arrayProperties`.  AWS gives
    each child its `index` and each parent its `size` (Batch API reference,
    JobSummary and ArrayPropertiesSummary), which is how a caller of
    ListJobs with `arrayJobId` learns which children failed.  DescribeJobs
    shows a child's index too (ArrayPropertiesDetail)."""
    from moto.batch.models import Job

    original = Job.describe_short

    def describe_short(self: Any) -> dict[str, Any]:
        result = original(self)
        array = self.array_properties or {}
        if "index" in array:
            result["arrayProperties"] = {"index": array["index"]}
        elif "size" in array:
            result["arrayProperties"] = {"size": array["size"]}
        return result

    Job.describe_short = describe_short  # type: ignore[method-assign]


def patch_batch_evaluate_on_exit_action() -> None:
    """moto gap: RegisterJobDefinition lower-cases each `evaluateOnExit`
    action, so DescribeJobDefinitions and every job record show `retry` and
    `exit`.  AWS: the action's values are `RETRY` and `EXIT` (Batch API
    reference, EvaluateOnExit; the input is case-insensitive), and that is
    what it returns."""
    from moto.batch.models import BatchBackend

    original = BatchBackend.register_job_definition

    def register_job_definition(self: Any, *args: Any, **kwargs: Any) -> Any:
        definition = original(self, *args, **kwargs)
        for rule in (definition.retry_strategy or {}).get("evaluateOnExit") or []:
            if isinstance(rule.get("action"), str):
                rule["action"] = rule["action"].upper()
        return definition

    BatchBackend.register_job_definition = register_job_definition  # type: ignore[method-assign]


def patch_batch_fargate_platform_version() -> None:
    """moto gap: RegisterJobDefinition takes any ``fargatePlatformConfiguration``
    with any container settings.  AWS: more than the default 20 GiB of task
    storage (``ephemeralStorage``) and ARM64 (``runtimePlatform``) need
    Fargate platform version 1.4.0 or later (Amazon ECS Developer Guide,
    "Fargate Linux platform versions"; Batch API reference,
    ``EphemeralStorage`` and ``RuntimePlatform``); Batch refuses the job
    definition with a ``ClientException``."""
    from moto.batch.exceptions import ClientException
    from moto.batch.models import BatchBackend

    original = BatchBackend.register_job_definition

    def register_job_definition(self: Any, *args: Any, **kwargs: Any) -> Any:
        container = kwargs.get("container_properties") or {}
        version = (container.get("fargatePlatformConfiguration") or {}).get("platformVersion")
        arm64 = (container.get("runtimePlatform") or {}).get("cpuArchitecture") == "ARM64"
        if version == "1.3.0" and (container.get("ephemeralStorage") or arm64):
            raise ClientException(
                "Fargate platform version 1.3.0 does not support ephemeral storage or ARM64: "
                "use platform version 1.4.0 or later"
            )
        return original(self, *args, **kwargs)

    BatchBackend.register_job_definition = register_job_definition  # type: ignore[method-assign]


def patch_batch_job_description() -> None:
    """moto gaps in Batch DescribeJobs (what `.sync` returns):
    * the environment list of a job grows on every DescribeJobs call
      (`_get_container_property` appends AWS_BATCH_JOB_ID and the job
      definition's variables to the job's own override list); AWS_BATCH_JOB_ID
      is dropped from the listing, as on AWS;
    * `container.exitCode` is dropped by `describe()` (it overwrites the
      container block of `describe_short()`);
    * container details lack image, resourceRequirements (with overrides),
      roles, log/network/Fargate configuration, taskArn;
    * retryStrategy, propagateTags, platformCapabilities and SubmitJob's
      retryStrategy/propagateTags are not recorded (see patch_batch_submit_job).
    """
    import copy

    from moto.batch.models import Job

    original_container_details = Job._container_details
    original_describe = Job.describe
    original_get_property = Job._get_container_property

    def _get_container_property(self: Any, p: str, default: Any) -> Any:
        if p == "environment":
            saved = self.container_overrides
            self.container_overrides = copy.deepcopy(saved)
            try:
                env = original_get_property(self, p, default)
            finally:
                self.container_overrides = saved
            # AWS injects AWS_BATCH_* at run time; DescribeJobs does not list them.
            return [e for e in env if e.get("name") != "AWS_BATCH_JOB_ID"]
        return original_get_property(self, p, default)

    def _container_details(self: Any) -> dict[str, Any]:
        details = original_container_details(self)
        props = self.job_definition.container_properties or {}
        overrides = self.container_overrides or {}
        for key in (
            "image",
            "jobRoleArn",
            "executionRoleArn",
            "logConfiguration",
            "networkConfiguration",
            "fargatePlatformConfiguration",
            "runtimePlatform",
            "ephemeralStorage",
            "mountPoints",
            "secrets",
        ):
            if key in props:
                details[key] = copy.deepcopy(props[key])
        requirements = overrides.get("resourceRequirements") or props.get(
            "resourceRequirements"
        )
        if requirements:
            details["resourceRequirements"] = copy.deepcopy(requirements)
            # Fargate jobs carry no vcpus/memory fields, only requirements.
            details.pop("vcpus", None)
            details.pop("memory", None)
        if self.exit_code is not None:
            details["exitCode"] = self.exit_code
        if self.latest_attempt is not None:
            details["taskArn"] = self.latest_attempt["container"].get("taskArn")
            details["networkInterfaces"] = []
        return details

    def describe(self: Any) -> dict[str, Any]:
        result = original_describe(self)
        jd = self.job_definition
        retry = getattr(self, "harness_retry_strategy", None) or jd.retry_strategy
        result["retryStrategy"] = copy.deepcopy(retry) if retry else {"attempts": 1}
        propagate = getattr(self, "harness_propagate_tags", None)
        result["propagateTags"] = bool(jd.propagate_tags if propagate is None else propagate)
        if jd.platform_capabilities:
            result["platformCapabilities"] = list(jd.platform_capabilities)
        if self.job_stopped_reason is not None:
            result["statusReason"] = self.job_stopped_reason
        return result

    Job._get_container_property = _get_container_property  # type: ignore[method-assign]
    Job._container_details = _container_details  # type: ignore[method-assign]
    Job.describe = describe  # type: ignore[method-assign]


def patch_batch_submit_job() -> None:
    """moto gap: SubmitJob ignores retryStrategy and propagateTags (they
    never show up in DescribeJobs).  Recorded on the job after submission."""
    from moto.batch.responses import BatchResponse

    original = BatchResponse.submitjob

    def submitjob(self: Any) -> str:
        body = original(self)
        job_id = json.loads(body)["jobId"]
        job = self.batch_backend._jobs.get(job_id)
        if job is not None:
            job.harness_retry_strategy = self._get_param("retryStrategy")
            job.harness_propagate_tags = self._get_param("propagateTags")
        return body

    BatchResponse.submitjob = submitjob  # type: ignore[method-assign]


def patch_batch_describe_job_definitions_pages() -> None:
    """moto gap: DescribeJobDefinitions returns every match in one answer,
    ignoring maxResults and nextToken.  AWS pages them (at most 100 a page);
    callers that page must see pages.  The token is the next offset.  Only
    the page's definitions are described: describing every match for each
    page made a listing of 1,000 definitions cost seconds of emulator CPU."""
    from moto.batch.responses import BatchResponse

    def describejobdefinitions(self: Any) -> str:
        found = self.batch_backend.describe_job_definitions(
            self._get_param("jobDefinitionName"),
            self._get_param("jobDefinitions"),
            self._get_param("status"),
        )
        size = int(self._get_param("maxResults") or 100)
        start = int(self._get_param("nextToken") or 0)
        page: dict[str, Any] = {
            "jobDefinitions": [d.describe() for d in found[start : start + size]]
        }
        if start + size < len(found):
            page["nextToken"] = str(start + size)
        return json.dumps(page)

    BatchResponse.describejobdefinitions = describejobdefinitions  # type: ignore[method-assign]


def patch_batch_optional_service_role() -> None:
    """moto gaps: CreateComputeEnvironment requires serviceRole ("ServiceRole
    is required."), while on AWS it is optional and defaults to the Batch
    service-linked role; and moto names the service-linked role of
    ``batch.amazonaws.com`` ``AWSServiceRoleForbatch`` (its name table,
    ``SERVICE_NAME_CONVERSION``, lacks Batch), where AWS names it
    ``AWSServiceRoleForBatch``.

    AWS's behaviour: an account has one Batch service-linked role,
    ``AWSServiceRoleForBatch`` at path ``/aws-service-role/batch.amazonaws.com/``,
    created with the first compute environment that names no service role and
    reused by every later one (AWS Batch User Guide, "Using service-linked
    roles for AWS Batch").  Here: CreateServiceLinkedRole for Batch (the API,
    and this patch) gives AWS's name, and a compute environment without a
    service role uses that role, creating it when it is missing."""
    from moto.batch.models import BatchBackend
    from moto.iam import models as iam_models

    iam_models.SERVICE_NAME_CONVERSION["batch"] = "Batch"
    original = BatchBackend.create_compute_environment

    def create_compute_environment(
        self: Any,
        compute_environment_name: str,
        _type: str,
        state: str,
        compute_resources: dict[str, Any],
        service_role: str,
        tags: dict[str, str] | None = None,
    ) -> Any:
        if not service_role:
            iam = self.iam_backend
            try:
                role = iam.get_role("AWSServiceRoleForBatch")
            except iam_models.NotFoundException:
                role = iam.create_service_linked_role(
                    "batch.amazonaws.com", "Service-linked role for AWS Batch", ""
                )
            service_role = role.arn
        return original(
            self, compute_environment_name, _type, state, compute_resources, service_role, tags
        )

    BatchBackend.create_compute_environment = create_compute_environment  # type: ignore[method-assign]


def patch_batch_job_definition_arn_without_revision() -> None:
    """moto gap: SubmitJob (and so Step Functions' `batch:submitJob`) rejects a
    job definition ARN without a revision, `arn:aws:batch:<region>:<account>:
    job-definition/<name>` ("Job definition ... does not exist"): moto splits
    every identifier that is not a full revision ARN at its first `:` as
    `<name>:<revision>`.  AWS accepts that ARN and uses the latest ACTIVE
    revision; so do we.  Names, `<name>:<revision>` and revision ARNs are
    resolved by moto as before."""
    from moto.batch.models import BatchBackend

    original = BatchBackend.get_job_definition
    unversioned_arn = re.compile(r"arn:[^:]+:batch:[^:]*:[^:]*:job-definition/([^:/]+)")

    def get_job_definition(self: Any, identifier: str) -> Any:
        match = unversioned_arn.fullmatch(identifier or "")
        if match is None:
            return original(self, identifier)
        active = [
            d
            for d in self._job_definitions.values()
            if d.name == match.group(1) and d.status == "ACTIVE"
        ]
        return max(active, key=lambda d: d.revision, default=None)

    BatchBackend.get_job_definition = get_job_definition  # type: ignore[method-assign]


def patch_sfn_execution_name() -> None:
    """moto gap (executing backend): StartExecution without `name` names the
    execution None -- ARN `...:execution:<machine>:None`, `$$.Execution.Name`
    null -- and every later unnamed StartExecution with the same input is
    "ExecutionAlreadyExists".  AWS generates a UUID name; so do we."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(
            self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
        )

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def patch_sfn_stop_execution_synchronous() -> None:
    """moto gap (executing backend): StopExecution only raises a flag that
    the execution's worker thread reads at its next step; until then (a
    `.sync` task polling a running Batch job: seconds, more under load)
    DescribeExecution still answers RUNNING.  On AWS the execution is
    ABORTED when StopExecution returns, with that call's stopDate (Step
    Functions API reference, StopExecution).  `overlap = "skip"` reads a
    claim holder's status right after such a stop."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.stop

    def stop(self: Any, stop_date: Any, error: Any, cause: Any) -> None:
        original(self, stop_date, error, cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date

    Execution.stop = stop  # type: ignore[method-assign]


def _aws_timestamp(value: Any) -> Any:
    """datetime -> "2024-01-02T03:04:05.678Z" (the context object's format)."""
    from datetime import timedelta

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        value = (value - (value.utcoffset() or timedelta(0))).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def patch_sfn_context_timestamps() -> None:
    """moto gaps in the context object: `$$.Execution.StartTime` and
    `$$.State.EnteredTime` are Python isoformat strings
    ("2024-01-02T03:04:05.678901+00:00"); AWS sends millisecond UTC with a Z
    ("2024-01-02T03:04:05.678Z").  `$$.Execution.RedriveCount` is missing;
    AWS documents it on every execution (0 until redriven), so a path to it
    must resolve."""
    import types

    from moto.stepfunctions.parser.asl.component.state import state as state_mod
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_env = ExecutionWorker._get_evaluation_environment

    def _get_evaluation_environment(self: Any) -> Any:
        env = original_env(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["StartTime"] = _aws_timestamp(execution.get("StartTime"))
        execution.setdefault("RedriveCount", 0)
        return env

    ExecutionWorker._get_evaluation_environment = _get_evaluation_environment  # type: ignore[method-assign]

    import datetime as dt_mod

    class _AwsDatetime(dt_mod.datetime):
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return _aws_timestamp(dt_mod.datetime.fromtimestamp(self.timestamp(), dt_mod.timezone.utc))

    # state.py only uses `datetime.datetime.now(tz=datetime.timezone.utc).isoformat()`.
    state_mod.datetime = types.SimpleNamespace(  # type: ignore[attr-defined]
        datetime=_AwsDatetime, timezone=dt_mod.timezone, timedelta=dt_mod.timedelta
    )


def patch_dispatch_module_list() -> None:
    """moto cost, not behaviour: to route each request, moto's dispatcher
    asks whether the Host header names a moto module, listing moto's package
    directory and stat-ing every entry (about 150) on every request. The list
    never changes while the server runs: it is read once. A benchmark of
    thousands of calls measures the emulator's CPU per call as part of its
    floor (bench/run.py), and this was a millisecond of it."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]


def patch_iam_account_authorization_details_pages() -> None:
    """moto gap: GetAccountAuthorizationDetails ignores ``MaxItems`` and
    ``Marker`` and answers every entity in one page with ``IsTruncated``
    false. AWS answers at most ``MaxItems`` entities (default 100, at most
    1,000) and, when more remain, ``IsTruncated`` true and a ``Marker`` to
    pass back for the next page. Here a page is cut across the users, groups,
    roles and policies in that order, and the marker is the offset."""
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    original = IamResponse.get_account_authorization_details
    kinds = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")

    def paged(self: Any) -> Any:
        result = dict(original(self).result)
        size = min(max(self._get_int_param("MaxItems", 100), 1), 1000)
        start = int(self._get_param("Marker") or 0)
        entities = [(kind, e) for kind in kinds for e in result[kind]]
        page = entities[start : start + size]
        for kind in kinds:
            result[kind] = [e for k, e in page if k == kind]
        if start + size < len(entities):
            result["IsTruncated"] = True
            result["Marker"] = str(start + size)
        return ActionResult(result)

    IamResponse.get_account_authorization_details = paged  # type: ignore[method-assign]


def patch_serializer_key_aliases() -> None:
    """moto cost, not behaviour: to find each field of an answer in its
    Python objects, moto's serializer builds six alias providers and asks
    each whether it applies, for every field of every object it serializes
    (a page of 1,000 roles has hundreds of thousands of fields). Their
    answers depend only on the picker, the object's class, the field's name
    and its shape and parent shape: each set of candidate names is worked
    out once. Shapes are held by the cache, so their identities stay
    theirs."""
    from moto.core.serialize import AttributePicker, XFormedAttributePicker

    known_keys: dict[tuple, tuple] = {}
    for picker in (AttributePicker, XFormedAttributePicker):
        candidates = picker.__dict__["get_possible_keys"]

        def get_possible_keys(
            self: Any, context: Any, candidates: Any = candidates, picker: type = picker
        ) -> tuple[str, ...]:
            shape = context.shape
            parent = getattr(shape, "parent", None)
            key = (picker, type(self), id(self.alias_providers), type(context.obj),
                   context.key, id(shape), id(parent))
            known = known_keys.get(key)
            if known is None or known[0] is not shape or known[1] is not parent:
                known = known_keys[key] = (shape, parent, tuple(candidates(self, context)))
            return known[2]

        picker.get_possible_keys = get_possible_keys  # type: ignore[method-assign]


def patch_sfn_parse_two_stage() -> None:
    """moto cost, not behaviour: moto parses every state machine definition
    (on create, update and each execution) with its ANTLR grammar in full LL
    prediction mode, 70 ms of CPU for one of sjob's definitions and two
    thirds of the emulator's CPU in a 100-job deploy. ANTLR's two-stage
    parse tries the faster SLL mode first, bailing out at the first error;
    ANTLR documents that an SLL parse that succeeds gives the tree LL would.
    Only when SLL bails does the definition go through moto's own LL parse,
    which reports the syntax errors as before. Parses take turns: the ANTLR
    runtime's prediction cache is shared by every parser and is not safe
    for concurrent writers (50 definitions validated at once once failed
    with an IndexError), and under the GIL they would not run in parallel
    anyway."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.atn.PredictionMode import PredictionMode
    from antlr4.error.ErrorListener import ErrorListener
    from antlr4.error.ErrorStrategy import BailErrorStrategy
    from antlr4.error.Errors import ParseCancellationException
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    parse_ll = AmazonStateLanguageParser.parse
    one_at_a_time = threading.RLock()

    class BailOnLexerError(ErrorListener):
        def syntaxError(self, *_: Any) -> None:
            raise ParseCancellationException("a character the lexer cannot read")

    def parse(definition: str) -> Any:
        with one_at_a_time:
            return parse_two_stage(definition)

    def parse_two_stage(definition: str) -> Any:
        lexer = ASLLexer(InputStream(definition))
        lexer.removeErrorListeners()
        lexer.addErrorListener(BailOnLexerError())
        parser = ASLParser(CommonTokenStream(lexer))
        parser.removeErrorListeners()
        parser._interp.predictionMode = PredictionMode.SLL
        parser._errHandler = BailErrorStrategy()
        try:
            tree = parser.state_machine()
        except ParseCancellationException:
            return parse_ll(definition)
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


def patch_action_method_lookup() -> None:
    """moto cost, not behaviour: to dispatch each request moto lists the
    methods of the service's response class with ``inspect.getmembers``
    (hundreds of attributes), 15 % of the emulator's CPU for a describe
    call. The classes do not change while the server runs (the patches
    here are applied before it starts): each class's methods are listed
    once."""
    from moto.core import responses

    listed: dict[type, frozenset[str]] = {}
    list_methods = responses.method_names_from_class

    def method_names(clazz: type) -> frozenset[str]:
        names = listed.get(clazz)
        if names is None:
            names = listed[clazz] = frozenset(list_methods(clazz))
        return names

    responses.method_names_from_class = method_names  # type: ignore[assignment]


def patch_kms_aws_managed_keys() -> None:
    """KMS: a predefined ``alias/aws/<service>`` names an AWS managed key.

    moto creates a key for a reserved alias only from its own short list
    (``alias/aws/sns`` is not on it: DescribeKey answers NotFoundException),
    and the key it creates reports ``KeyManager: CUSTOMER``.  AWS: "Amazon Web
    Services services use DescribeKey to create Amazon Web Services managed
    keys from a predefined Amazon Web Services alias with no key ID" (KMS API
    reference, DescribeKey), and such a key's ``KeyManager`` is ``AWS`` (KMS
    developer guide, "AWS managed keys").  Here any ``alias/aws/<service>``
    resolves, on first use, to a key of its own with ``KeyManager: AWS``.
    """
    from moto.kms.models import KmsBackend

    original = KmsBackend.get_key_id_from_alias

    def get_key_id_from_alias(self: Any, alias_name: str) -> str | None:
        found = original(self, alias_name)
        if alias_name.startswith("alias/aws/"):
            if found is None:
                key = self.create_key(
                    None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "Default key", None
                )
                self.create_alias(key.id, alias_name)
                found = key.id
            self.keys[found].key_manager = "AWS"
        return found

    KmsBackend.get_key_id_from_alias = get_key_id_from_alias  # type: ignore[assignment]


def apply_patches() -> None:
    patch_action_method_lookup()  # cost
    patch_serializer_key_aliases()  # cost
    patch_sfn_parse_two_stage()  # cost
    patch_dispatch_module_list()  # cost
    patch_sfn_validate_state_machine_definition()  # a
    patch_sfn_list_versions_and_aliases()  # b
    patch_sfn_batch_integration()  # c
    patch_sfn_aws_sdk_integration()  # c
    patch_sfn_parallel_states_errors()  # d
    patch_lambda_invoke_forwarding()  # e
    patch_batch_job_outcome()  # f
    patch_batch_terminate_running_job()  # f
    patch_batch_array_summaries()  # g
    patch_batch_evaluate_on_exit_action()  # g
    patch_batch_fargate_platform_version()  # strict
    patch_batch_job_description()  # g
    patch_batch_submit_job()  # g
    patch_batch_describe_job_definitions_pages()  # g
    patch_batch_optional_service_role()  # g
    patch_batch_job_definition_arn_without_revision()  # g
    batch_compute_update.patch()  # g
    patch_sfn_execution_name()  # g
    patch_sfn_stop_execution_synchronous()  # g
    patch_sfn_context_timestamps()  # g
    patch_sfn_lambda_unknown()  # g
    patch_sfn_retry_wait_scale()  # knob
    patch_lambda_logging_config()  # g
    patch_lambda_permission_statement_ids()  # g
    patch_iam_account_authorization_details_pages()  # g
    patch_dynamodb_conditional_writes_atomic()  # g
    patch_dynamodb_table_creating()  # g
    iam_propagation.patch()  # knob
    log_delivery.patch_sfn_log_delivery_policy()  # strict
    policy_documents.patch_iam_policy_documents()  # strict
    patch_kms_aws_managed_keys()  # g


# --------------------------------------------------------------------------
# Harness endpoints (WSGI middleware in front of moto's dispatcher)
# --------------------------------------------------------------------------
class HarnessApp:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_harness"):
            refused = conformance.refusal(environ)
            if refused is not None:
                status, headers, body = refused
                start_response(status, headers)
                return [body]
            return self.inner(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            body = json.loads(raw) if raw else {}
            status, doc = self.handle(method, path.rstrip("/"), body)
        except (ValueError, KeyError, TypeError) as exc:
            status, doc = 400, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(doc).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    @staticmethod
    def handle(method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/_harness/health":
            return 200, {"ok": True, "port": STATE.port}
        if path == "/_harness/lambda":
            if method == "GET":
                with STATE.lock:
                    return 200, dict(STATE.lambda_commands)
            if method == "POST":
                name = _function_name_of(body["function_name"])
                command = body.get("command")
                with STATE.lock:
                    if command is None:
                        STATE.lambda_commands.pop(name, None)
                    else:
                        if not isinstance(command, list) or not command or not all(
                            isinstance(c, str) for c in command
                        ):
                            raise ValueError("command must be a non-empty list of strings")
                        STATE.lambda_commands[name] = list(command)
                LOG.info("lambda %s registered: %s", name, command)
                return 200, {"function_name": name, "command": command}
        if path == "/_harness/lambda/invocations":
            with STATE.lock:
                if method == "DELETE":
                    STATE.invocations.clear()
                    return 200, []
                if method == "GET":
                    return 200, list(STATE.invocations)
        if path == "/_harness/lambda/failures" and method == "POST":
            name = _function_name_of(body["function_name"])
            errors = body["errors"]
            if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
                raise ValueError("errors must be a list of error payload objects")
            with STATE.lock:
                STATE.lambda_failures.setdefault(name, []).extend(errors)
            return 200, {"function_name": name, "queued": len(errors)}
        if path == "/_harness/sfn" and method == "POST":
            scale = body["retry_wait_scale"]
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0 <= scale <= 1:
                raise ValueError("retry_wait_scale must be a number from 0 to 1")
            STATE.retry_wait_scale = float(scale)
            return 200, {"retry_wait_scale": STATE.retry_wait_scale}
        if path == "/_harness/batch":
            if method == "POST":
                outcome = body["outcome"]
                if outcome not in ("succeeded", "failed", "running", "command"):
                    raise ValueError("outcome must be succeeded, failed, running or command")
                indexes = body.get("failed_array_indexes", [])
                if not isinstance(indexes, list) or not all(
                    isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 10000
                    for i in indexes
                ):
                    raise ValueError("failed_array_indexes must be a list of indexes from 0 to 9999")
                output = body.get("container_output", [])
                if not isinstance(output, list) or not all(isinstance(line, str) for line in output):
                    raise ValueError("container_output must be a list of lines")
                STATE.batch_outcome = outcome
                STATE.failed_array_indexes = set(indexes)
                STATE.container_output = list(output)
                LOG.info("batch: jobs will end %s, array children %s failed", outcome, sorted(indexes))
            if method in ("GET", "POST"):
                return 200, {
                    "outcome": STATE.batch_outcome,
                    "failed_array_indexes": sorted(STATE.failed_array_indexes),
                    "container_output": STATE.container_output,
                }
        if path == iam_propagation.ENDPOINT:
            return iam_propagation.handle(method, body)
        if path == "/_harness/reset" and method == "POST":
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()
            moto_api_backend.set_config(MOTO_CONFIG)
            with STATE.lock:
                STATE.invocations.clear()
                STATE.lambda_failures.clear()
            STATE.batch_outcome = "succeeded"
            STATE.failed_array_indexes = set()
            STATE.container_output = []
            STATE.retry_wait_scale = 1.0
            iam_propagation.reset()
            return 200, {"reset": True}
        return 404, {"error": f"no harness endpoint {method} {path}"}


# --------------------------------------------------------------------------
# Server lifecycle
# --------------------------------------------------------------------------
def _stdin_is_watchable() -> bool:
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--no-stdin-watch", action="store_true", help="do not exit on stdin EOF"
    )
    parser.add_argument(
        "--fork-server",
        metavar="SOCKET",
        help="serve fresh emulators, one per connection to this Unix socket",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = _build_app()
    if args.fork_server:
        return _fork_server(app, args.fork_server)

    stop = threading.Event()
    server = _serve(app, args.port)
    if server is None:
        return 1

    def on_signal(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if not args.no_stdin_watch and _stdin_is_watchable():
        _stop_at_eof(sys.stdin.fileno(), "stdin", stop)

    sys.stdout.write(f"READY {STATE.port}\n")
    sys.stdout.flush()
    # moto print()s the odd diagnostic; keep stdout to the one READY line.
    sys.stdout = sys.stderr
    LOG.info("moto %s emulator on http://127.0.0.1:%d", _moto_version(), STATE.port)

    while not stop.wait(0.5):
        pass
    server.shutdown()
    return 0


def _build_app() -> Any:
    """moto's server application behind the harness, configured and patched."""
    from moto.moto_api._internal.models import moto_api_backend
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    # Configure BEFORE anything can create a state machine (the executing
    # Step Functions backend is a separate object from the default one).
    moto_api_backend.set_config(MOTO_CONFIG)
    apply_patches()
    return HarnessApp(DomainDispatcherApplication(create_backend_app))


def _serve(app: Any, port: int) -> Any:
    """Serves `app` on 127.0.0.1:`port` (0: a free one) in a thread, once it
    answers; None if it never does."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    server = make_server(
        "127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.server_address[1]
    STATE.port = port
    # moto's Step Functions interpreter calls Batch/Lambda through this port.
    os.environ["MOTO_PORT"] = str(port)
    threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()

    for _ in range(200):
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_harness/health", timeout=2
            ) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.05)
    LOG.error("server did not answer")
    return None


def _stop_at_eof(fd: int, what: str, stop: threading.Event) -> None:
    """Sets `stop` once `fd` reaches end of file: its writer has gone."""

    def watch() -> None:
        try:
            while os.read(fd, 4096):
                pass
        except OSError:
            pass
        LOG.info("%s closed: stopping", what)
        stop.set()

    threading.Thread(target=watch, name=f"{what}-watch", daemon=True).start()


# What a first request to each service loads (its Flask app, and the account's
# backends: IAM's managed policies in every partition, EC2's default VPC,
# Batch's imports), which the fork server loads once for all its emulators.
WARM_SERVICES = [
    "iam", "batch", "stepfunctions", "logs", "lambda", "sns", "sqs", "scheduler",
    "ec2", "events", "dynamodb", "cloudwatch", "kms", "secretsmanager", "ssm",
    "resourcegroupstaggingapi", "sts",
]
WARM_REGION = "eu-west-1"


def _warm(app: Any) -> None:
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import create_backend_app

    for service in WARM_SERVICES:
        app.inner.app_instances[service] = create_backend_app(service)
        backends = get_backend(service)[DEFAULT_ACCOUNT_ID]
        if WARM_REGION in backends.regions:
            backends[WARM_REGION]
        else:
            # A global service's backends are per partition (IAM, STS), and
            # IAM reads every partition's to find a request's account.
            for partition in backends.regions:
                backends[partition]


def _fork_server(app: Any, socket_path: str) -> int:
    """Serves a fresh emulator per connection to the Unix socket `socket_path`.

    Python and moto take about 2.5 s of CPU to start an emulator and load
    what its first requests need; the end-to-end suite starts over a hundred.
    This process loads all of that once, then forks a child per connection:
    each child is a new, independent emulator (its own moto state, port and
    harness settings), as if started on its own, for a few milliseconds of
    CPU.

    A client sends one JSON line, ``{"log": PATH, "lambda_log": PATH}`` (the
    child's stderr, and its ``SJOB_HARNESS_LAMBDA_LOG``), and reads
    ``READY <port>``; the child stops when the client closes the connection.
    The server itself stops when its stdin reaches end of file, so a test
    process that dies takes it, and through their connections every child,
    with it.  It prints ``READY fork-server`` once it accepts connections.
    """
    import select
    import socket

    _warm(app)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    # Children are reaped by the kernel: nothing here waits for them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    sys.stdout.write("READY fork-server\n")
    sys.stdout.flush()
    stdin = sys.stdin.fileno()
    while True:
        readable, _, _ = select.select([listener, stdin], [], [])
        if stdin in readable and not os.read(stdin, 4096):
            listener.close()
            os.unlink(socket_path)
            return 0
        if listener in readable:
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                os._exit(_forked_emulator(app, connection))
            connection.close()


def _forked_emulator(app: Any, connection: Any) -> int:
    """One child of the fork server: an emulator for one connection."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    request = json.loads(connection.makefile("r").readline())
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    # stdout too: the server's is the test process's pipe, read only until
    # the server was READY.
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.environ["SJOB_HARNESS_LAMBDA_LOG"] = request["lambda_log"]
    sys.stdout = sys.stderr
    server = _serve(app, 0)
    if server is None:
        return 1
    stop = threading.Event()
    _stop_at_eof(connection.fileno(), "connection", stop)
    connection.sendall(f"READY {STATE.port}\n".encode())
    LOG.info("moto %s emulator on http://127.0.0.1:%d (forked)", _moto_version(), STATE.port)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    return 0


def _moto_version() -> str:
    import moto

    return getattr(moto, "__version__", "?")


if __name__ == "__main__":
    sys.exit(main())
