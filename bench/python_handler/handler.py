"""The success/error notification handler written the way a Python team would
write it for the seed's runtime (python3.11 + boto3), for `bench/run.py` only.

It does the same job as handlers/src (success path in full, the failure path
simplified): parse the Step Functions payload, build the version "1"
notification document (same fields, same deterministic notification_id,
same console links), render the `MessageStructure=json` envelope with a text
body for people, and publish it once to SNS with the same message attributes.
The SNS client is created once per cold start, like the Rust handler's.
"""

import datetime
import hashlib
import json
import os
import urllib.parse

import boto3
from botocore.config import Config

TOPIC_ARN = os.environ.get("SNS_TOPIC_ARN") or os.environ["SNS_ARN"]
SNS = boto3.client("sns", config=Config(retries={"max_attempts": 5, "mode": "standard"}))
KIND = os.environ.get("HANDLER_KIND", "success")


def _arn_region(arn):
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def _console_url(arn):
    region = _arn_region(arn)
    if not region:
        return None
    return (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{arn}")


def _log_url(region, group, stream):
    enc = lambda s: urllib.parse.quote(s, safe="-_.!~*'()").replace("%", "$25")
    return (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logsV2:log-groups/log-group/{enc(group)}/log-events/{enc(stream)}")


def _iso(millis):
    if millis is None:
        return None
    t = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _notification_id(state, arn, status):
    h = hashlib.sha256()
    h.update(arn.encode() if arn else json.dumps(state, separators=(",", ":")).encode())
    h.update(b"\n" + status.encode())
    x = h.hexdigest()[:32]
    return f"{x[0:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:32]}"


def _batch_summary(job, region):
    if not job:
        return None
    attempts = job.get("Attempts") or []
    last = attempts[-1] if attempts else {}
    last_c = last.get("Container") or {}
    cont = job.get("Container") or {}
    started = last.get("StartedAt", job.get("StartedAt"))
    stopped = last.get("StoppedAt", job.get("StoppedAt"))
    exit_code = last_c.get("ExitCode", cont.get("ExitCode"))
    stream = last_c.get("LogStreamName") or cont.get("LogStreamName")
    group = ((cont.get("LogConfiguration") or {}).get("Options") or {}).get(
        "awslogs-group", "/aws/batch/job")
    return {
        "id": job.get("JobId"),
        "name": job.get("JobName"),
        "status": job.get("Status"),
        "status_reason": job.get("StatusReason"),
        "exit_code": exit_code,
        "attempts": len(attempts),
        "started_at": _iso(started),
        "stopped_at": _iso(stopped),
        "duration_seconds": (stopped - started) / 1000
        if started is not None and stopped is not None and stopped >= started else None,
        "log_stream": stream,
        "log_url": _log_url(region, group, stream) if region and stream else None,
    }


def _error_summary(error):
    if not error:
        return {"error": "Unknown", "kind": "other", "message": ""}
    name = error.get("Error") or "Unknown"
    cause = error.get("Cause") or ""
    try:
        record = json.loads(cause)
    except ValueError:
        record = None
    if isinstance(record, dict) and "JobId" in record:
        return {"error": name, "kind": "job_failed",
                "message": record.get("StatusReason") or ""}, record
    kind = "timeout" if name == "States.Timeout" else "other"
    return {"error": name, "kind": kind, "message": cause[:2048]}, None


def build_notification(event, status):
    state = event["state"]
    meta = state["metadata"]
    context = event.get("context") or {}
    execution = context.get("Execution") or {}
    machine = context.get("StateMachine") or {}
    arn = execution.get("Id")
    error, job = None, state.get("batch")
    if status == "FAILED":
        error, job = _error_summary(state.get("error"))
    region = _arn_region(arn) or _arn_region((job or {}).get("JobArn"))
    return {
        "version": "1",
        "notification_id": _notification_id(state, arn, status),
        "status": status,
        "app_name": meta["app_name"],
        "stage": meta["stage"],
        "batch_name": meta["batch_name"],
        "job_name": meta["job_name"],
        "execution": {
            "arn": arn,
            "name": execution.get("Name"),
            "started_at": execution.get("StartTime"),
            "state_machine": machine.get("Id") or machine.get("Name"),
            "console_url": _console_url(arn),
        },
        "batch_job": _batch_summary(job, region),
        "error": error,
        "input": state.get("input"),
    }


def _subject(n):
    s = f"[{n['app_name']}/{n['stage']}] {n['batch_name']} {n['status']}"
    if n["error"]:
        s += f": {n['error']['error']}"
    s = " ".join("".join(c if 32 <= ord(c) < 127 else "?" for c in s).split())
    return s if len(s) <= 99 else s[:96] + "..."


def _text(n, subject):
    lines = [subject, "", f"{'Job:':<11} {n['job_name']}"]
    if n["error"]:
        lines.append(f"{'Error:':<11} {n['error']['error']} ({n['error']['kind']})")
        lines.append(f"{'Reason:':<11} {n['error']['message']}")
    job = n["batch_job"]
    if job:
        summary = f"{job['id'] or '(unknown id)'} {job['status'] or ''}"
        if job["exit_code"] is not None:
            summary += f", exit code {job['exit_code']}"
        summary += f", {job['attempts']} attempt(s)"
        if job["duration_seconds"] is not None:
            summary += f", {job['duration_seconds']:.1f} s"
        lines.append(f"{'Batch job:':<11} {summary}")
        if job["log_url"]:
            lines.append(f"{'Logs:':<11} {job['log_url']}")
    if n["execution"]["console_url"]:
        lines.append(f"{'Execution:':<11} {n['execution']['console_url']}")
    if n["execution"]["started_at"]:
        lines.append(f"{'Started:':<11} {n['execution']['started_at']}")
    lines.append("Input:\n" + json.dumps(n["input"], indent=2))
    lines.append(f"\nnotification_id: {n['notification_id']}")
    return "\n".join(lines) + "\n"


def lambda_handler(event, context):
    if not isinstance(event, dict) or not isinstance(event.get("state"), dict):
        raise ValueError("InvalidEvent: the payload has no `state` object")
    status = "SUCCEEDED" if KIND == "success" else "FAILED"
    n = build_notification(event, status)
    subject = _subject(n)
    document = json.dumps(n, separators=(",", ":"))
    text = _text(n, subject)
    envelope = {"default": text, "email": text, "sqs": document, "lambda": document,
                "https": document, "firehose": document}
    attributes = {"status": n["status"], "app_name": n["app_name"],
                  "stage": n["stage"], "batch_name": n["batch_name"]}
    if n["error"]:
        attributes["error_kind"] = n["error"]["kind"]
    response = SNS.publish(
        TopicArn=TOPIC_ARN,
        Subject=subject,
        Message=json.dumps(envelope),
        MessageStructure="json",
        MessageAttributes={k: {"DataType": "String", "StringValue": v}
                           for k, v in attributes.items() if v},
    )
    return {"message_id": response["MessageId"],
            "notification_id": n["notification_id"], "status": n["status"]}
