#!/usr/bin/env python3
"""The AWS calls and checks of `scripts/aws-acceptance.sh` that sjob itself
does not make: who the caller is, the default VPC, the SQS subscriber the
notifications reach, and what is left once the stack is destroyed.

Each subcommand prints its result on stdout and its problems on stderr, and
exits 1 when a check fails. boto3 resolves credentials, the region and
`AWS_ENDPOINT_URL` as sjob does, so both talk to the same account.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any, Callable

try:
    import boto3
except ImportError:
    sys.exit("scripts/aws-acceptance.sh needs python3 with boto3: pip install boto3")

# The identity tags of sjob's resources (deployer/src/model/identity.rs).
MANAGED_BY_TAG = ("sjob:managed-by", "sjob")
APP_TAG = "sjob:app"
STAGE_TAG = "sjob:stage"
REGION_TAG = "sjob:region"

# List prices in USD, us-east-1, as AWS published them in 2024 (not checked
# since: this machine has no internet); other regions differ by
# tens of percent, which does not change the order of magnitude.
FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445
FARGATE_MINIMUM_SECONDS = 60
PUBLIC_IPV4_HOUR = 0.005
STATE_TRANSITION = 0.025 / 1000
LAMBDA_REQUEST = 0.20 / 1_000_000
LAMBDA_GB_SECOND = 0.0000133334  # arm64
SNS_PUBLISH = 0.50 / 1_000_000
SQS_REQUEST = 0.40 / 1_000_000
LOGS_INGESTED_GB = 0.50


class CheckFailed(Exception):
    """A check of the acceptance run did not hold."""


def caller(_: argparse.Namespace) -> None:
    """`ACCOUNT PARTITION REGION` of the credentials and region in use."""
    session = boto3.session.Session()
    if not session.region_name:
        raise CheckFailed("no region: pass --region, or set AWS_REGION or the profile's region")
    identity = session.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    print(identity["Account"], partition, session.region_name)


def default_network(_: argparse.Namespace) -> None:
    """`VPC SUBNET,SUBNET...`: the region's default VPC and its default subnets."""
    ec2 = boto3.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    if not subnets:
        raise CheckFailed(
            "the region has no default VPC: pass --vpc and --subnets"
            " (subnets with a route to the internet)"
        )
    print(subnets[0]["VpcId"], ",".join(sorted(s["SubnetId"] for s in subnets)))


def cost(args: argparse.Namespace) -> None:
    """The run's cost, item by item, from list prices and generous counts."""
    jobs = args.jobs
    task_hours = jobs * max(args.task_seconds, FARGATE_MINIMUM_SECONDS) / 3600
    invocations = jobs * 2  # a handler each, plus room for one retry
    items = [
        (
            f"Fargate: {jobs} tasks of {args.vcpus} vCPU and {args.memory_gb} GB,"
            f" billed {args.task_seconds} s each",
            task_hours * (args.vcpus * FARGATE_VCPU_HOUR + args.memory_gb * FARGATE_GB_HOUR),
        ),
        ("public IPv4 addresses of those tasks", task_hours * PUBLIC_IPV4_HOUR),
        (f"Step Functions: {jobs} runs of at most 20 state transitions", jobs * 20 * STATE_TRANSITION),
        (f"Lambda: {invocations} invocations of 128 MB for at most 1 s",
         invocations * (LAMBDA_REQUEST + 0.125 * LAMBDA_GB_SECOND)),
        ("SNS publishes and SQS requests (a few hundred at most)", 10 * SNS_PUBLISH + 300 * SQS_REQUEST),
        ("CloudWatch Logs: well under 1 MB ingested", 0.001 * LOGS_INGESTED_GB),
    ]
    total = sum(amount for _, amount in items)
    for label, amount in items:
        print(f"  {label:<80} ${amount:.5f}")
    print(f"  {'total (list prices, us-east-1; the deploy and destroy calls are free)':<80} ${total:.5f}")
    print(f"Estimated cost: ${total:.4f}, under {math.ceil(total * 100)} US cent(s).")


def create_queue(args: argparse.Namespace) -> None:
    """`URL ARN` of a new queue the topic may send to."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=args.name, tags={"sjob-acceptance": args.name})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TopicSends",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": args.topic_arn}},
            }
        ],
    }
    try:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    except Exception:
        sqs.delete_queue(QueueUrl=url)
        raise
    print(url, arn)


def delete_queue(args: argparse.Namespace) -> None:
    boto3.client("sqs").delete_queue(QueueUrl=args.url)


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _expect(problems: list[str], where: str, field: str, actual: Any, expected: Any) -> None:
    if actual != expected:
        problems.append(f"{where}: {field} is {actual!r}, expected {expected!r}")


def _notification_problems(
    doc: dict[str, Any], run: dict[str, Any], expected: dict[str, Any], exit_code: int
) -> list[str]:
    """What in one notification breaks schema v1 or does not match the run:
    `expected` holds its top-level fields, `exit_code` the container's."""
    where = f"the notification of {run['job']}"
    problems: list[str] = []
    for field, value in expected.items():
        _expect(problems, where, field, doc.get(field), value)
    if not doc.get("notification_id"):
        problems.append(f"{where}: no notification_id")
    execution = doc.get("execution") or {}
    for field in ("name", "started_at", "state_machine", "console_url"):
        if not execution.get(field):
            problems.append(f"{where}: no execution.{field}")
    batch_job = doc.get("batch_job") or {}
    if not batch_job.get("id"):
        problems.append(f"{where}: no batch_job.id")
    _expect(problems, where, "batch_job.status", batch_job.get("status"), run["status"])
    _expect(problems, where, "batch_job.exit_code", batch_job.get("exit_code"), exit_code)
    error = doc.get("error")
    if run["status"] == "SUCCEEDED":
        _expect(problems, where, "error", error, None)
    else:
        _expect(problems, where, "error.kind", (error or {}).get("kind"), "job_failed")
    return problems


def check_notifications(args: argparse.Namespace) -> None:
    """Waits for one notification per run on the queue and checks each."""
    sqs = boto3.client("sqs")
    runs = {run["execution_arn"]: run for run in map(_read_json, args.runs)}
    exit_codes = dict(pair.split("=", 1) for pair in args.exit_code)
    received: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + args.timeout
    while set(received) != set(runs) and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=args.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
        messages = answer.get("Messages", [])
        for message in messages:
            doc = json.loads(message["Body"])
            received[(doc.get("execution") or {}).get("arn")] = doc
            sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=message["ReceiptHandle"])
    problems = [
        f"no notification of {run['job']} ({arn}) within {args.timeout} s"
        for arn, run in runs.items()
        if arn not in received
    ]
    for arn, doc in received.items():
        run = runs.get(arn)
        if run is None:
            problems.append(f"a notification of no run of this test: {json.dumps(doc)[:300]}")
            continue
        expected = {
            "version": "1",
            "status": run["status"],
            "app_name": args.app,
            "stage": args.stage,
            "batch_name": run["job"],
            "job_name": f"{args.app}-{args.stage}-{run['job']}-ScheduledJob",
        }
        found = _notification_problems(doc, run, expected, int(exit_codes[run["job"]]))
        if not found:
            print(f"{run['job']}: {doc['status']} notification {doc['notification_id']} reached the queue")
        problems += found
    if problems:
        raise CheckFailed("\n".join(problems))


def check_status(args: argparse.Namespace) -> None:
    """Each run is among its job's recent executions, as it ended."""
    listed = {
        execution["execution_arn"]: execution
        for job in _read_json(args.status)
        for execution in job["recent_executions"]
    }
    problems = []
    for run in map(_read_json, args.runs):
        execution = listed.get(run["execution_arn"])
        if execution is None:
            problems.append(f"`sjob status` does not list the run of {run['job']} ({run['execution_arn']})")
        else:
            where = f"`sjob status`, run of {run['job']}"
            _expect(problems, where, "status", execution["status"], run["status"])
    if problems:
        raise CheckFailed("\n".join(problems))
    print(f"sjob status lists the {len(args.runs)} runs")


def _is_run_record(arn: str) -> bool:
    """A finished Batch job, or the stopped ECS task it ran in (the job
    definition propagates its tags to it): records of a run, which cost
    nothing, cannot be deleted, and which AWS expires on its own."""
    return (":batch:" in arn and ":job/" in arn) or (":ecs:" in arn and ":task/" in arn)


def _tagged_leftovers(app: str, stage: str, region: str) -> list[str]:
    """What the tagging index holds with the stack's identity tags, but the
    records of the runs and the job definitions Batch keeps INACTIVE (a
    deregistered revision cannot be deleted)."""
    filters = [
        {"Key": MANAGED_BY_TAG[0], "Values": [MANAGED_BY_TAG[1]]},
        {"Key": APP_TAG, "Values": [app]},
        {"Key": STAGE_TAG, "Values": [stage]},
        {"Key": REGION_TAG, "Values": [region]},
    ]
    tagging = boto3.client("resourcegroupstaggingapi")
    pages = tagging.get_paginator("get_resources").paginate(TagFilters=filters)
    arns = [mapping["ResourceARN"] for page in pages for mapping in page["ResourceTagMappingList"]]
    batch = boto3.client("batch")

    def inactive(arn: str) -> bool:
        if ":job-definition/" not in arn:
            return False
        found = batch.describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"]
        return all(definition["status"] == "INACTIVE" for definition in found)

    return [arn for arn in arns if not _is_run_record(arn) and not inactive(arn)]


def _role_leftovers(app: str, stage: str, region: str) -> list[str]:
    """Roles with the stack's identity: IAM is global, and the tagging
    index of a region is not where AWS promises to list them."""
    iam = boto3.client("iam")
    identity = {MANAGED_BY_TAG[0]: MANAGED_BY_TAG[1], APP_TAG: app, STAGE_TAG: stage, REGION_TAG: region}
    left = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if not role["RoleName"].startswith(f"{app}-{stage}-"):
                continue
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
            if all(tags.get(key) == value for key, value in identity.items()):
                left.append(role["Arn"])
    return left


def _schedule_leftovers(app: str, stage: str) -> list[str]:
    """Schedules under the stack's names: Scheduler takes no tags on them."""
    pages = boto3.client("scheduler").get_paginator("list_schedules").paginate(NamePrefix=f"{app}-{stage}-")
    return [schedule["Arn"] for page in pages for schedule in page["Schedules"]]


def leftovers(args: argparse.Namespace) -> None:
    """Waits up to --settle seconds for nothing of the stack to remain:
    AWS's tagging index drops a deleted resource some time after it is gone."""
    searches: list[Callable[[], list[str]]] = [
        lambda: _tagged_leftovers(args.app, args.stage, args.region),
        lambda: _role_leftovers(args.app, args.stage, args.region),
        lambda: _schedule_leftovers(args.app, args.stage),
    ]
    deadline = time.monotonic() + args.settle
    while True:
        left = [arn for search in searches for arn in search()]
        if not left or time.monotonic() >= deadline:
            break
        print(f"{len(left)} resource(s) still listed; asking again in 15 s", file=sys.stderr)
        time.sleep(15)
    if left:
        listed = "\n".join(f"  {arn}" for arn in left)
        raise CheckFailed(f"left behind, tagged with the stack's identity or under its names:\n{listed}")
    print(f"nothing of {args.app}/{args.stage} is left")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True)
    commands.add_parser("caller").set_defaults(run=caller)
    commands.add_parser("default-network").set_defaults(run=default_network)
    estimate = commands.add_parser("cost")
    estimate.add_argument("--jobs", type=int, required=True)
    estimate.add_argument("--vcpus", type=float, required=True)
    estimate.add_argument("--memory-gb", type=float, required=True)
    estimate.add_argument("--task-seconds", type=int, required=True)
    estimate.set_defaults(run=cost)
    queue = commands.add_parser("create-queue")
    queue.add_argument("name")
    queue.add_argument("topic_arn")
    queue.set_defaults(run=create_queue)
    delete = commands.add_parser("delete-queue")
    delete.add_argument("url")
    delete.set_defaults(run=delete_queue)
    notified = commands.add_parser("check-notifications")
    notified.add_argument("--queue-url", required=True)
    notified.add_argument("--app", required=True)
    notified.add_argument("--stage", required=True)
    notified.add_argument("--exit-code", action="append", required=True, metavar="JOB=CODE")
    notified.add_argument("--timeout", type=int, default=120)
    notified.add_argument("runs", nargs="+", metavar="RUN_JSON")
    notified.set_defaults(run=check_notifications)
    status = commands.add_parser("check-status")
    status.add_argument("status", metavar="STATUS_JSON")
    status.add_argument("runs", nargs="+", metavar="RUN_JSON")
    status.set_defaults(run=check_status)
    left = commands.add_parser("leftovers")
    left.add_argument("--app", required=True)
    left.add_argument("--stage", required=True)
    left.add_argument("--region", required=True)
    left.add_argument("--settle", type=int, default=300)
    left.set_defaults(run=leftovers)
    args = parser.parse_args()
    try:
        args.run(args)
    except CheckFailed as failed:
        print(failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
