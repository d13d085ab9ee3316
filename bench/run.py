#!/usr/bin/env python3
"""sjob benchmarks: sjob side by side with what users would use instead.

    python3 bench/run.py [--parts handlers,deploy,scale] [--rounds N] ...

Needs: `pip install -r tests/requirements.txt -r bench/requirements.txt`,
release binaries (`cargo build --release -p sjob` and
`cargo build --profile lambda-release -p handlers`, built by this script when
missing), and for the deploy parts Terraform >= 1.5 with the
hashicorp/aws 5.100.0 provider reachable (set BENCH_TF_MIRROR to a filesystem
mirror; /opt/tf-plugins by default when it exists). Everything runs against
the local emulator (tests/harness/emulator.py); nothing talks to real AWS.

Parts (each alternates the contenders, round by round, in one process):

* handlers: the Rust success handler vs a Python 3.11 + boto3 handler doing
  the same job (bench/python_handler) under awslambdaric, both served by the
  same in-process Lambda Runtime API and publishing to the same moto topic.
  Cold start (spawn to first answered invocation), warm latency over
  --invocations invocations, peak RSS (VmHWM) and package size.
* deploy: `sjob deploy` / no-change `sjob plan` / `sjob destroy` of one job vs
  `terraform apply` / `plan` / `destroy` of the same job through each
  --terraform-modules module: `seed` (the seed's scheduled_job module,
  bench/terraform/modules) and `infra` (this repository's
  infra/terraform/modules/scheduled_job), both under one root config
  (bench/terraform/main.tf) given the existing queue and handler ARNs.
* scale: the same for --scale-sizes jobs in one config.
* latency: the same for --latency-sizes jobs (up to 1,000), every call
  through a proxy that adds AWS's latency (IAM 120 ms, others 40 ms,
  lognormal jitter from --latency-seed) and, with --throttle-scale, throttles
  at AWS's documented default quotas in each service's dialect; Terraform at
  each --tf-parallelism up to --tf-max-jobs. Each result comes with its
  floor: the dependency chain, the calls' latency over what may be in
  flight, the emulator's CPU, and each quota's wait. Records moto's memory
  and sjob's per-service concurrency limits (its `pace` debug events).

AWS API calls are counted by a forwarding proxy between the tool and moto, on
one extra run per tool and size; timed runs go to moto directly. Prints a
table per part and writes everything as JSON to --json (bench/results.json).
No timing is asserted anywhere: the numbers are for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import math
import os
import platform
import queue
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The handler as its Lambda package builds it, and the CLI as `cargo install` does.
HANDLER_BINARY = ROOT / "target" / "lambda-release" / "success-handler"
SJOB_BINARY = ROOT / "target" / "release" / "sjob"
EMULATOR_PID = [0]
BENCH = ROOT / "bench"
EMULATOR = ROOT / "tests" / "harness" / "emulator.py"
FIXTURE = ROOT / "handlers" / "tests" / "fixtures" / "success.json"
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"  # moto's default account
APP, STAGE = "bench", "dev"
CLEAN_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_COLOR": "1",
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, p):
    """Nearest-rank percentile."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def base_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SJOB_", "TF_", "RUST_LOG"))}
    env.update(CLEAN_ENV)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------
# The emulator and the counting proxy


class Emulator:
    def __init__(self, workdir: Path):
        self.stderr = open(workdir / "emulator.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(EMULATOR), "--port", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            env=base_env(), cwd=ROOT)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("READY "):
            raise SystemExit(f"emulator did not start: {line!r} (see {workdir}/emulator.log)")
        self.port = int(line.split()[1])
        EMULATOR_PID[0] = self.proc.pid
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def reset(self):
        req = urllib.request.Request(self.endpoint + "/_harness/reset", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=60).read()
        self.warm()
        self.create_targets()

    def create_targets(self):
        """The job queue, handler functions and topic the jobs name
        (JOB_DEFAULTS): sjob's plan reads each before it writes and refuses
        a config naming any that is missing. Made untimed, for both tools."""
        import boto3
        kw = dict(endpoint_url=self.endpoint, region_name=REGION,
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        iam = boto3.client("iam", **kw)
        trust = lambda service: json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
        batch_role = iam.create_role(RoleName="bench-batch-service",
                                     AssumeRolePolicyDocument=trust("batch.amazonaws.com"))
        function_role = iam.create_role(RoleName="bench-handlers",
                                        AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
        batch = boto3.client("batch", **kw)
        queue = JOB_DEFAULTS["batch_job_queue_arn"].rsplit("/", 1)[1]
        environment = batch.create_compute_environment(
            computeEnvironmentName=f"{queue}-unmanaged", type="UNMANAGED", state="ENABLED",
            serviceRole=batch_role["Role"]["Arn"])["computeEnvironmentArn"]
        batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}])
        lam = boto3.client("lambda", **kw)
        for key in ("success_handler_arn", "error_handler_arn"):
            lam.create_function(FunctionName=JOB_DEFAULTS[key].rsplit(":", 1)[1],
                                Runtime="provided.al2023", Handler="bootstrap",
                                Role=function_role["Role"]["Arn"],
                                Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
        boto3.client("sns", **kw).create_topic(Name=JOB_DEFAULTS["notification_topic_arn"].rsplit(":", 1)[1])

    def warm(self):
        """moto builds each service's backend on first use (IAM loads every
        AWS-managed policy: ~1 s); do that before a timed run, so neither
        contender pays the emulator's start-up."""
        import boto3
        kw = dict(endpoint_url=self.endpoint, region_name=REGION,
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        boto3.client("iam", **kw).list_roles()
        boto3.client("sts", **kw).get_caller_identity()
        boto3.client("logs", **kw).describe_log_groups()
        boto3.client("batch", **kw).describe_job_definitions()
        boto3.client("scheduler", **kw).list_schedules()
        boto3.client("resourcegroupstaggingapi", **kw).get_resources()
        sfn = boto3.client("stepfunctions", **kw)
        sfn.list_state_machines()
        sfn.validate_state_machine_definition(definition=json.dumps(
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}))

    def close(self):
        self.proc.stdin.close()  # EOF on stdin stops it
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class QuietServer(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a tool opening hundreds of
    # connections at once would wait seconds for SYN retries.
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        pass  # a client killed mid-request (the handler processes are)


_SCOPE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/")
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def classify(method, path, headers, body) -> str:
    """`service:Action` for one AWS API request (all the protocols in use)."""
    m = _SCOPE.search(headers.get("Authorization", ""))
    service = m.group(1) if m else "?"
    target = headers.get("X-Amz-Target")
    if target:  # JSON protocols: logs, states
        return f"{service}:{target.split('.')[-1]}"
    ctype = headers.get("Content-Type", "")
    if "x-www-form-urlencoded" in ctype or (method == "GET" and "Action=" in path):
        text = body.decode("utf-8", "replace") if method != "GET" else path.split("?", 1)[-1]
        act = re.search(r"(?:^|&)Action=([A-Za-z]+)", text)
        if act:
            return f"{service}:{act.group(1)}"
    # REST protocols (batch, scheduler): verb and path shape.
    parts = path.split("?", 1)[0].strip("/").split("/")
    shape = "/".join(parts[:1] + ["*" for _ in parts[1:]])
    return f"{service}:{method} /{shape}"


# AWS's own pace, for the latency part: answers take tens of milliseconds
# (IAM often over 100), and APIs throttle above documented request rates.
LATENCY_MS = {"iam": 120.0}
DEFAULT_LATENCY_MS = 40.0
# (burst, refill per second) per "service:Action", from AWS's documented
# default quotas; a service's "*" entry covers its other actions. Services
# and actions not listed here are not throttled: AWS documents no default.
#   Step Functions: "Quotas related to API action throttling" (token buckets).
#   CloudWatch Logs: "CloudWatch Logs quotas" (transactions per second).
#   EventBridge Scheduler: "Quotas for Amazon EventBridge Scheduler"
#   (requests per second; ap-northeast-1's, a primary Region).
QUOTAS = {
    "states:CreateStateMachine": (100, 1), "states:UpdateStateMachine": (200, 1),
    "states:DeleteStateMachine": (100, 1), "states:DescribeStateMachine": (200, 20),
    "states:ListStateMachines": (100, 5), "states:TagResource": (200, 1),
    "states:UntagResource": (200, 1), "states:ListTagsForResource": (100, 1),
    "logs:CreateLogGroup": (5, 5), "logs:DeleteLogGroup": (10, 10),
    "logs:DescribeLogGroups": (10, 10), "logs:PutRetentionPolicy": (5, 5),
    "logs:TagResource": (5, 5), "logs:ListTagsForResource": (10, 10),
    "scheduler:CreateSchedule": (1000, 1000), "scheduler:UpdateSchedule": (1000, 1000),
    "scheduler:DeleteSchedule": (1000, 1000), "scheduler:GetSchedule": (1000, 1000),
    "scheduler:ListSchedules": (50, 50), "scheduler:*": (10, 10),
}
# Scheduler is REST: its actions by method and path shape (see classify).
SCHEDULER_ACTIONS = {"POST /schedules/*": "CreateSchedule", "PUT /schedules/*": "UpdateSchedule",
                     "DELETE /schedules/*": "DeleteSchedule", "GET /schedules/*": "GetSchedule",
                     "GET /schedules": "ListSchedules"}


def quota_key(action: str) -> str | None:
    """The QUOTAS entry governing one `service:Action`, if any."""
    service, _, name = action.partition(":")
    if service == "scheduler":
        name = SCHEDULER_ACTIONS.get(name, name)
    key = f"{service}:{name}"
    if key in QUOTAS:
        return key
    return f"{service}:*" if f"{service}:*" in QUOTAS else None


def throttle_answer(service: str) -> tuple[int, dict, bytes]:
    """A throttling error as each service's protocol sends it."""
    if service in ("iam", "sts", "sns", "ec2", "monitoring"):  # Query (XML)
        return 400, {"Content-Type": "text/xml"}, (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error><RequestId>bench</RequestId></ErrorResponse>")
    if service in ("scheduler", "batch", "lambda"):  # REST-JSON: 429
        code = "ThrottlingException" if service == "scheduler" else "TooManyRequestsException"
        return 429, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, \
            json.dumps({"message": "Rate exceeded"}).encode()
    code = "ThrottledException" if service == "tagging" else "ThrottlingException"
    return 400, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, \
        json.dumps({"__type": code, "message": "Rate exceeded"}).encode()


class LatencyModel:
    """Per-service answer latency (lognormal around the median, from a
    seeded generator) and, with `throttle_scale` > 0, token buckets at the
    documented quotas times that scale."""

    def __init__(self, seed: int, sigma: float, throttle_scale: float, latency_scale: float = 1.0):
        import random
        self.random = random.Random(seed)
        self.sigma = sigma
        self.latency_scale = latency_scale
        self.throttle_scale = throttle_scale
        self.lock = threading.Lock()
        self.buckets = {}  # key -> [tokens, last refill]
        self.throttled = collections.Counter()

    def median_ms(self, service: str) -> float:
        return LATENCY_MS.get(service, DEFAULT_LATENCY_MS) * self.latency_scale

    def delay_s(self, service: str) -> float:
        with self.lock:
            jitter = self.random.lognormvariate(0.0, self.sigma)
        return self.median_ms(service) * jitter / 1000

    def admit(self, action: str) -> bool:
        """False when the action's bucket is empty: throttle it."""
        key = quota_key(action) if self.throttle_scale > 0 else None
        if key is None:
            return True
        burst, rate = QUOTAS[key]
        burst, rate = burst * self.throttle_scale, rate * self.throttle_scale
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                self.throttled[action] += 1
                return False
            self.buckets[key] = (tokens - 1, now)
            return True

    def reset(self):
        with self.lock:
            self.buckets.clear()
            self.throttled.clear()


class CountingProxy:
    """Forwards every request to moto and counts it as `service:Action`;
    with a LatencyModel, delays each answer by its service's latency and
    answers throttled requests itself."""

    def __init__(self, upstream_port: int, model: LatencyModel | None = None):
        self.upstream_port = upstream_port
        self.model = model
        self.counts = collections.Counter()
        self.trace = []  # (start, end, action, status) per request, for profiling
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline().strip():
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self):
                body = self._read_body()
                action = classify(self.command, self.path, self.headers, body)
                started = time.perf_counter()
                with proxy.lock:
                    proxy.counts[action] += 1
                if proxy.model is not None:
                    service = action.split(":", 1)[0]
                    time.sleep(proxy.model.delay_s(service))
                    if not proxy.model.admit(action):
                        status, headers, data = throttle_answer(service)
                        self.send_response(status)
                        for k, v in headers.items():
                            self.send_header(k, v)
                        self.send_header("Content-Length", str(len(data)))
                        self._headers_buffer.append(b"\r\n" + data)
                        self.flush_headers()
                        return
                conn = getattr(proxy.local, "conn", None)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                headers["Content-Length"] = str(len(body))
                for attempt in (0, 1):
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=300)
                        proxy.local.conn = conn
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        data = resp.read()
                        break
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        conn = proxy.local.conn = None
                        if attempt:
                            raise
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self._headers_buffer.append(b"\r\n" + data)
                self.flush_headers()
                with proxy.lock:
                    proxy.trace.append((started, time.perf_counter(), action, resp.status))

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

        self.local = threading.local()
        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> collections.Counter:
        with self.lock:
            counts, self.counts = self.counts, collections.Counter()
            self.trace = []
        return counts

    def close(self):
        self.server.shutdown()


# --------------------------------------------------------------------------
# Part 1: handlers


class RuntimeApi:
    """A Lambda Runtime API (2018-06-01) serving one function process."""

    def __init__(self, function_name: str):
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.pending = queue.Queue()
        self.done = {}  # request id -> (time, ok, body)
        self.events = {}  # request id -> threading.Event
        self.init_error = None
        self.closing = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                # Headers and body in one write: no Nagle/delayed-ACK stall.
                self._headers_buffer.append(b"\r\n" + body)
                self.flush_headers()

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self._reply(404, b"{}")
                while True:
                    try:
                        rid, event = api.pending.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if api.closing:
                            self.close_connection = True
                            return self._reply(500, b"{}")
                deadline = int(time.time() * 1000) + 60_000
                self._reply(200, event, [
                    ("Lambda-Runtime-Aws-Request-Id", rid),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", api.function_arn),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.perf_counter()
                parts = self.path.strip("/").split("/")
                if parts[-2:] == ["init", "error"]:
                    api.init_error = body
                    for ev in api.events.values():
                        ev.set()
                elif len(parts) >= 4 and parts[-1] in ("response", "error"):
                    rid = parts[-2]
                    api.done[rid] = (now, parts[-1] == "response", body)
                    ev = api.events.get(rid)
                    if ev:
                        ev.set()
                self._reply(202, b'{"status":"OK"}')

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def submit(self, event: bytes) -> str:
        rid = str(uuid.uuid4())
        self.events[rid] = threading.Event()
        self.pending.put((rid, event))
        return rid

    def wait(self, rid: str, timeout=60.0):
        if not self.events[rid].wait(timeout):
            raise RuntimeError(f"invocation {rid} got no answer in {timeout} s")
        if self.init_error is not None:
            raise RuntimeError(f"init error: {self.init_error[:500]!r}")
        when, ok, body = self.done.pop(rid)
        del self.events[rid]
        if not ok:
            raise RuntimeError(f"invocation failed: {body[:500]!r}")
        return when, body

    def close(self):
        self.closing = True
        self.server.shutdown()
        self.server.server_close()


def vm_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status (VmHWM, VmRSS) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def handler_contenders(args, topic_arn, emulator):
    rust_bin = HANDLER_BINARY
    common = {
        "SNS_TOPIC_ARN": topic_arn,
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "AWS_LAMBDA_LOG_LEVEL": "info",
        "SJOB_ENRICH": "false",
    }
    return {
        "rust": dict(cmd=[str(args.rust_handler or rust_bin)], cwd=ROOT,
                     env=dict(common, AWS_LAMBDA_FUNCTION_NAME="rust-success",
                              AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/rust-success",
                              _HANDLER="bootstrap")),
        "python": dict(cmd=[sys.executable, "-m", "awslambdaric", "handler.lambda_handler"],
                       cwd=BENCH / "python_handler",
                       env=dict(common, AWS_LAMBDA_FUNCTION_NAME="python-success",
                                AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/python-success",
                                AWS_EXECUTION_ENV="AWS_Lambda_python3.11",
                                LAMBDA_TASK_ROOT=str(BENCH / "python_handler"),
                                _HANDLER="handler.lambda_handler",
                                PYTHONDONTWRITEBYTECODE="1")),
    }


def run_handler_once(name, spec, event, invocations, workdir):
    api = RuntimeApi(f"{name}-success")
    env = base_env(spec["env"])
    env["AWS_LAMBDA_RUNTIME_API"] = api.address
    logf = open(workdir / f"handler-{name}.log", "ab")
    rid = api.submit(event)
    t0 = time.perf_counter()
    proc = subprocess.Popen(spec["cmd"], cwd=spec["cwd"], env=env, stdin=subprocess.DEVNULL,
                            stdout=logf, stderr=logf)
    try:
        t1, body = api.wait(rid)
        answer = json.loads(body)
        assert answer.get("status") == "SUCCEEDED" and answer.get("message_id"), answer
        cold = t1 - t0
        warm = []
        for _ in range(invocations):
            rid = api.submit(event)
            ts = time.perf_counter()
            t1, _ = api.wait(rid)
            warm.append(t1 - ts)
        hwm = vm_kib(proc.pid, "VmHWM")
    finally:
        proc.kill()
        proc.wait()
        api.close()
        logf.close()
    return {"cold_s": cold, "warm_s": warm, "hwm_kib": hwm}


def package_sizes(args):
    """Rust: the Lambda-profile binary and the Lambda zip of it (`bootstrap`, as
    cargo lambda packs it); Python: the deployment zip of the handler (boto3
    comes with the python3.11 runtime), plus boto3+botocore if bundled."""
    out = {}
    binary = Path(args.rust_handler or HANDLER_BINARY)
    out["rust_binary_bytes"] = binary.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        z = Path(tmp) / "bootstrap.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            zf.write(binary, "bootstrap")
        out["rust_zip_bytes"] = z.stat().st_size
        z = Path(tmp) / "python.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            zf.write(BENCH / "python_handler" / "handler.py", "handler.py")
        out["python_zip_bytes"] = z.stat().st_size
        try:
            import boto3
            import botocore
            z = Path(tmp) / "python-bundled.zip"
            with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
                zf.write(BENCH / "python_handler" / "handler.py", "handler.py")
                for mod in (boto3, botocore):
                    base = Path(mod.__file__).parent
                    for f in base.rglob("*"):
                        if f.is_file() and "__pycache__" not in f.parts:
                            zf.write(f, f"{mod.__name__}/{f.relative_to(base)}")
            out["python_bundled_boto3_zip_bytes"] = z.stat().st_size
        except ImportError:
            pass
    lambda_zip = ROOT / "target" / "lambda" / "success-handler" / "bootstrap.zip"
    if lambda_zip.exists():
        out["cargo_lambda_zip_bytes (existing target/lambda build)"] = lambda_zip.stat().st_size
    return out


def part_handlers(args, emulator, workdir):
    import boto3
    sns = boto3.client("sns", endpoint_url=emulator.endpoint, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    topic = sns.create_topic(Name="bench-notifications")["TopicArn"]
    # moto's first Publish is slow (lazy imports): pay it here, not in a cold start.
    sns.publish(TopicArn=topic, Message="warm-up")
    event = FIXTURE.read_bytes()
    contenders = handler_contenders(args, topic, emulator)
    names = list(contenders)
    results = {n: [] for n in names}
    for r in range(args.handler_rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            log(f"[handlers] round {r + 1}/{args.handler_rounds}: {name}")
            results[name].append(run_handler_once(name, contenders[name], event,
                                                  args.invocations, workdir))
    summary = {}
    for name in names:
        runs = results[name]
        warm = [w for run in runs for w in run["warm_s"]]
        summary[name] = {
            "cold_ms_median": median([x["cold_s"] for x in runs]) * 1000,
            "cold_ms_all": [round(x["cold_s"] * 1000, 2) for x in runs],
            "warm_ms_p50": percentile(warm, 50) * 1000,
            "warm_ms_p99": percentile(warm, 99) * 1000,
            "warm_p50_per_round_ms": [round(percentile(x["warm_s"], 50) * 1000, 3) for x in runs],
            "peak_rss_mib_median": median([x["hwm_kib"] for x in runs]) / 1024,
            "peak_rss_mib_all": [round(x["hwm_kib"] / 1024, 1) for x in runs],
        }
    summary["sizes"] = package_sizes(args)
    summary["loadavg_at_end"] = loadavg()
    r, p = summary["rust"], summary["python"]
    summary["ratios"] = {
        "cold_start_python_over_rust": p["cold_ms_median"] / r["cold_ms_median"],
        "warm_p50_python_over_rust": p["warm_ms_p50"] / r["warm_ms_p50"],
        "warm_p99_python_over_rust": p["warm_ms_p99"] / r["warm_ms_p99"],
        "peak_rss_rust_over_python": r["peak_rss_mib_median"] / p["peak_rss_mib_median"],
    }
    return summary


def print_handlers(s):
    r, p, q = s["rust"], s["python"], s["ratios"]
    rows = [
        ("cold start (spawn -> 1st answer), median", f"{r['cold_ms_median']:.1f} ms",
         f"{p['cold_ms_median']:.1f} ms", f"{q['cold_start_python_over_rust']:.1f}x faster"),
        ("warm latency p50", f"{r['warm_ms_p50']:.2f} ms", f"{p['warm_ms_p50']:.2f} ms",
         f"{q['warm_p50_python_over_rust']:.2f}x faster"),
        ("warm latency p99", f"{r['warm_ms_p99']:.2f} ms", f"{p['warm_ms_p99']:.2f} ms",
         f"{q['warm_p99_python_over_rust']:.2f}x faster"),
        ("peak RSS (VmHWM), median", f"{r['peak_rss_mib_median']:.1f} MiB",
         f"{p['peak_rss_mib_median']:.1f} MiB", f"{q['peak_rss_rust_over_python']:.2f} of Python's"),
    ]
    print("\n## Handlers: Rust success-handler vs Python 3.11 + boto3 under awslambdaric")
    print(f"| metric | Rust | Python | Rust vs Python |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\nsizes (bytes):", json.dumps(s["sizes"]))
    print("cold runs (ms): rust", r["cold_ms_all"], "python", p["cold_ms_all"])
    print("peak RSS runs (MiB): rust", r["peak_rss_mib_all"], "python", p["peak_rss_mib_all"])


# --------------------------------------------------------------------------
# Parts 2 and 3: sjob vs Terraform

JOB_DEFAULTS = {
    "batch_job_queue_arn": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{APP}-{STAGE}-Batch",
    "success_handler_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{APP}-{STAGE}-BatchSuccessHandler",
    "error_handler_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{APP}-{STAGE}-BatchErrorHandler",
    "image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{APP}",
    "image_tag": "latest",
    "notification_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{APP}-{STAGE}-notifications",
}


def jobs_for(n):
    return {f"job{i:03d}": {
        "command": ["python", f"/opt/app/job/job{i:03d}.py"],
        "vcpus": "1",
        "memory": "2048",
        "schedule_expression": "rate(5 minutes)",
        "sfn_input": {"message": "hello"},
        "env": {"STAGE": STAGE, "DB_NAME": STAGE},
    } for i in range(n)}


def toml_value(v):
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def write_sjob_config(path: Path, n: int):
    lines = [f'app_name = "{APP}"', f'stage = "{STAGE}"', f'region = "{REGION}"',
             f'account_id = "{ACCOUNT}"', "", "[defaults]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in JOB_DEFAULTS.items()]
    lines.append('schedule_timezone = "Asia/Tokyo"')
    for name, job in jobs_for(n).items():
        lines += ["", f"[jobs.{name}]"] + [f"{k} = {toml_value(v)}" for k, v in job.items()]
    path.write_text("\n".join(lines) + "\n")


def pace_reports(stderr: str) -> dict:
    """sjob's per-service gate reports (`pace` debug events, JSON lines)."""
    out = {}
    for line in stderr.splitlines():
        try:
            fields = json.loads(line).get("fields", {})
        except (ValueError, AttributeError):
            continue
        if fields.get("message") == "pace":
            out[fields["service"]] = {k: fields[k] for k in ("calls", "throttled", "peak", "last")}
            out[fields["service"]]["path"] = json.loads(fields["path"])
    return out


class SjobTool:
    name = "sjob"

    def __init__(self, args, workdir: Path, n: int):
        self.binary = str(args.sjob or SJOB_BINARY)
        self.dir = workdir / f"sjob-{n}"
        self.dir.mkdir(parents=True, exist_ok=True)
        write_sjob_config(self.dir / "sjob.toml", n)
        for f in ("aws-config", "aws-credentials"):
            (self.dir / f).write_text("")
        self.cpu = []
        self.pace = {}

    def _run(self, endpoint, *argv, ok=(0,)):
        # The gates' debug report: each service's concurrency limit over time.
        env = base_env({"AWS_ENDPOINT_URL": endpoint,
                        "AWS_CONFIG_FILE": str(self.dir / "aws-config"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(self.dir / "aws-credentials"),
                        "SJOB_LOG": "warn,sjob::aws::pace=debug"})
        cmd = [self.binary, "--config", str(self.dir / "sjob.toml"), "--output", "json", *argv]
        dt, cpu, emu, p = timed_run(cmd, EMULATOR_PID[0], cwd=self.dir, env=env,
                                    stdin=subprocess.DEVNULL, capture_output=True)
        self.cpu.append((argv[0], dt, cpu, emu))
        if p.returncode not in ok:
            raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}:\n{p.stderr.decode()[-3000:]}")
        self.pace = pace_reports(p.stderr.decode())
        return dt

    def prepare(self, endpoint):
        pass

    def deploy(self, endpoint):
        return self._run(endpoint, "deploy")

    def plan(self, endpoint):
        return self._run(endpoint, "plan", "--detailed-exitcode")

    def destroy(self, endpoint):
        return self._run(endpoint, "destroy", "--yes")


# The scheduled_job modules Terraform contenders instantiate, one per job,
# from bench/terraform/main.tf (both take the seed module's inputs).
TERRAFORM_MODULES = {
    "seed": BENCH / "terraform" / "modules" / "scheduled_job",
    "infra": ROOT / "infra" / "terraform" / "modules" / "scheduled_job",
}


class TerraformTool:
    def __init__(self, args, workdir: Path, n: int, module: str, parallelism: int | None = None):
        self.name = f"terraform-{module}" + (f"-p{parallelism}" if parallelism else "")
        self.parallelism = [f"-parallelism={parallelism}"] if parallelism else []
        self.in_flight = parallelism or 10  # Terraform's default -parallelism
        self.binary = args.terraform
        self.dir = workdir / f"{self.name}-{n}"
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        shutil.copy(BENCH / "terraform" / "main.tf", self.dir)
        shutil.copytree(TERRAFORM_MODULES[module], self.dir / "modules" / "scheduled_job",
                        ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        self.cli_config = workdir / "terraformrc"
        mirror = os.environ.get("BENCH_TF_MIRROR", "/opt/tf-plugins")
        if Path(mirror).is_dir():
            self.cli_config.write_text(
                'provider_installation {\n  filesystem_mirror {\n'
                f'    path = "{mirror}"\n  }}\n}}\n')
        else:
            self.cli_config.write_text("")
        self.n = n
        self.cpu = []
        self.plan_exit_codes = []
        self.initialised = False

    def _env(self):
        return base_env({"TF_CLI_CONFIG_FILE": str(self.cli_config), "TF_IN_AUTOMATION": "1",
                         "CHECKPOINT_DISABLE": "1"})

    def _write_vars(self, endpoint):
        (self.dir / "bench.tfvars.json").write_text(json.dumps({
            "endpoint": endpoint, "region": REGION, "account_id": ACCOUNT,
            "app_name": APP, "stage": STAGE, "defaults": JOB_DEFAULTS,
            "jobs": jobs_for(self.n)}, indent=1))

    def _run(self, endpoint, *argv, ok=(0,)):
        self._write_vars(endpoint)
        cmd = [self.binary, *argv[:1], "-input=false", "-no-color", *argv[1:]]
        dt, cpu, emu, p = timed_run(cmd, EMULATOR_PID[0], cwd=self.dir, env=self._env(),
                                    stdin=subprocess.DEVNULL, capture_output=True)
        self.cpu.append((argv[0], dt, cpu, emu))
        if p.returncode not in ok:
            raise RuntimeError(f"terraform {' '.join(argv)} exited {p.returncode}:\n"
                               f"{p.stdout.decode()[-3000:]}\n{p.stderr.decode()[-3000:]}")
        return dt, p

    def prepare(self, endpoint):
        if not self.initialised:
            self._run(endpoint, "init")
            self.initialised = True
        for f in self.dir.glob("terraform.tfstate*"):
            f.unlink()

    def deploy(self, endpoint):
        return self._run(endpoint, "apply", "-auto-approve", "-var-file=bench.tfvars.json",
                         *self.parallelism)[0]

    def plan(self, endpoint):
        dt, p = self._run(endpoint, "plan", "-detailed-exitcode", "-var-file=bench.tfvars.json",
                          *self.parallelism, ok=(0, 2))
        self.plan_exit_codes.append(p.returncode)
        if p.returncode == 2:
            changed = [l for l in p.stdout.decode().splitlines() if l.strip().startswith("#")]
            log(f"[{self.name}] no-change plan reported changes: {changed[:5]}")
        return dt

    def destroy(self, endpoint):
        return self._run(endpoint, "destroy", "-auto-approve", "-var-file=bench.tfvars.json",
                         *self.parallelism)[0]


def proc_cpu_s(pid):
    """CPU seconds (user + system) a live process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_run(cmd, emulator_pid, **kw):
    """Runs cmd; returns (wall s, the tool's CPU s incl. its children, the
    emulator's CPU s meanwhile, CompletedProcess)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    emu = proc_cpu_s(emulator_pid)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc_cpu_s(emulator_pid) - emu, p


def loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return None


def cycle(tool, endpoint):
    tool.prepare(endpoint)
    return {"deploy": tool.deploy(endpoint), "plan": tool.plan(endpoint),
            "destroy": tool.destroy(endpoint)}


def part_stack(args, emulator, proxy, workdir, n, sjob_rounds, terraform_rounds):
    """deploy / no-change plan / destroy of n jobs, sjob and each Terraform
    module alternating. Timed rounds (direct to moto) per tool, plus one
    counting round through the proxy first; a tool with 0 timed rounds
    reports its counting round's times (through the proxy) instead."""
    tools = [SjobTool(args, workdir, n)] + [TerraformTool(args, workdir, n, m)
                                            for m in args.terraform_modules.split(",") if m]
    rounds = {t.name: sjob_rounds if isinstance(t, SjobTool) else terraform_rounds for t in tools}
    out = {t.name: {"times": collections.defaultdict(list), "calls": {}} for t in tools}
    for t in tools:  # counting round
        emulator.reset()
        log(f"[n={n}] counting run: {t.name}")
        phases = {}
        t0 = time.perf_counter()
        t.prepare(proxy.endpoint)
        proxy.take()
        for phase in ("deploy", "plan", "destroy"):
            dt = getattr(t, phase)(proxy.endpoint)
            calls = proxy.take()
            phases[phase] = {"total": sum(calls.values()), "by_action": dict(calls.most_common()),
                             "seconds_through_proxy": dt}
        out[t.name]["calls"] = phases
        log(f"[n={n}] {t.name} counting run took {time.perf_counter() - t0:.1f} s; calls "
            + ", ".join(f"{k}={v['total']}" for k, v in phases.items()))
    for r in range(max(rounds.values())):
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for t in order:
            if r >= rounds[t.name]:
                continue
            emulator.reset()
            log(f"[n={n}] round {r + 1}/{rounds[t.name]}: {t.name}")
            for phase, dt in cycle(t, emulator.endpoint).items():
                out[t.name]["times"][phase].append(dt)
    summary = {"jobs": n, "loadavg_at_end": loadavg()}
    for t in tools:
        s = out[t.name]
        timed = bool(s["times"])
        med = {}
        for phase in ("deploy", "plan", "destroy"):
            xs = s["times"][phase] if timed else [s["calls"][phase]["seconds_through_proxy"]]
            med[phase] = {"median_s": median(xs), "runs_s": [round(x, 3) for x in xs],
                          "calls": s["calls"][phase]["total"],
                          "calls_by_action": s["calls"][phase]["by_action"]}
        med["timed_through_proxy"] = not timed
        if isinstance(t, TerraformTool):
            med["plan_exit_codes"] = t.plan_exit_codes
        # (command, wall s, tool CPU s, emulator CPU s) of every run, counting run first
        med["cpu_runs"] = [(c, round(w, 3), round(u, 3), round(e, 3)) for c, w, u, e in t.cpu]
        summary[t.name] = med
    summary["terraform_tools"] = [t.name for t in tools if isinstance(t, TerraformTool)]
    summary["ratios_over_sjob"] = {
        name: {phase: summary[name][phase]["median_s"] / summary["sjob"][phase]["median_s"]
               for phase in ("deploy", "plan", "destroy")}
        for name in summary["terraform_tools"]}
    return summary


def print_stack(s):
    n, tf = s["jobs"], s["terraform_tools"]
    print(f"\n## {n} job(s): sjob vs Terraform")
    print("| operation | sjob | " + " | ".join(f"{t} | {t} / sjob" for t in tf)
          + " | API calls sjob / " + " / ".join(tf) + " |")
    print("|---|---|" + "---|---|" * len(tf) + "---|")
    for phase, label in (("deploy", "deploy from empty"), ("plan", "no-change plan"),
                         ("destroy", "destroy")):
        cells = [label, f"{s['sjob'][phase]['median_s']:.2f} s"]
        for t in tf:
            cells += [f"{s[t][phase]['median_s']:.2f} s", f"{s['ratios_over_sjob'][t][phase]:.1f}x"]
        cells.append(" / ".join(str(s[t][phase]["calls"]) for t in ["sjob"] + tf))
        print("| " + " | ".join(cells) + " |")
    for tool in ["sjob"] + tf:
        runs = {p: s[tool][p]["runs_s"] for p in ("deploy", "plan", "destroy")}
        note = " (single run, through the counting proxy)" if s[tool]["timed_through_proxy"] else ""
        print(f"{tool} runs (s){note}: {json.dumps(runs)}")
        if s[tool].get("plan_exit_codes"):
            print(f"{tool} no-change plan exit codes:", s[tool]["plan_exit_codes"])


# --------------------------------------------------------------------------
# Part 4: at AWS's latency (and, optionally, its rate limits)

# The longest chain of calls that must follow one another, per operation, by
# service: what the stack's own dependencies impose on any tool. A deploy
# reads what exists, creates a role, puts its policy (IAM needs the role
# first), creates the state machine (which needs its role) and last the
# schedule (which starts runs, so it waits for everything). A no-change plan
# is one round of reads. A destroy reads, deletes the schedule first, then
# the state machine, then a role's policies and the role.
CHAINS = {
    "deploy": ["iam", "iam", "iam", "states", "scheduler"],
    "plan": ["iam"],
    "destroy": ["iam", "scheduler", "states", "iam", "iam"],
}
# What sjob may have in flight per service (deployer/src/aws/pace.rs MAX).
SJOB_MAX_IN_FLIGHT = 64


def floor_of(model, phase, calls, throttled, emulator_cpu_s, in_flight, per_service):
    """The least time `calls` can take: the longest dependent chain at the
    mean latency; the calls' latency over what may run at once (per service
    for sjob, in total for Terraform's -parallelism); the emulator's CPU
    (one core, one call at a time); and, when throttling, each rate-limited
    action's calls beyond its burst at its refill rate. Returns (seconds,
    which bound)."""
    mean = lambda service: model.median_ms(service) * math.exp(model.sigma ** 2 / 2) / 1000
    needed = collections.Counter(calls)
    needed.subtract(throttled)
    bounds = {"chain": sum(mean(s) for s in CHAINS[phase]), "emulator CPU": emulator_cpu_s}
    by_service = collections.defaultdict(float)
    for action, count in needed.items():
        by_service[action.split(":", 1)[0]] += count * mean(action.split(":", 1)[0])
    if per_service:
        bounds["in flight"] = max(by_service.values(), default=0) / in_flight
    else:
        bounds["in flight"] = sum(by_service.values()) / in_flight
    if model.throttle_scale > 0:
        per_key = collections.Counter()
        for action, count in needed.items():
            key = quota_key(action)
            if key:
                per_key[key] += count
        for key, count in per_key.items():
            burst, rate = QUOTAS[key]
            wait = max(0.0, count - burst * model.throttle_scale) / (rate * model.throttle_scale)
            bounds[f"quota {key}"] = wait
    which = max(bounds, key=bounds.get)
    return bounds[which], which, bounds


def part_latency(args, emulator, workdir):
    model = LatencyModel(args.latency_seed, args.latency_sigma, args.throttle_scale)
    proxy = CountingProxy(emulator.port, model)
    sizes = [int(x) for x in args.latency_sizes.split(",") if x]
    parallelisms = [int(x) for x in args.tf_parallelism.split(",") if x]
    modules = [m for m in args.latency_modules.split(",") if m]
    out = {"model": {"latency_ms": {**LATENCY_MS, "*": DEFAULT_LATENCY_MS},
                     "lognormal_sigma": args.latency_sigma, "seed": args.latency_seed,
                     "throttle_scale": args.throttle_scale,
                     "quotas": {k: list(v) for k, v in QUOTAS.items()} if args.throttle_scale else None}}
    try:
        for n in sizes:
            tools = [SjobTool(args, workdir, n)]
            if n <= args.tf_max_jobs:
                tools += [TerraformTool(args, workdir, n, m, p) for m in modules for p in parallelisms]
            size = {"jobs": n, "tools": [t.name for t in tools]}
            for t in tools:
                is_sjob = isinstance(t, SjobTool)
                rounds = args.latency_rounds if is_sjob and n <= 100 else 1
                runs = []
                for r in range(rounds):
                    emulator.reset()
                    model.reset()
                    log(f"[latency n={n}] {t.name} round {r + 1}/{rounds}")
                    t.prepare(proxy.endpoint)
                    proxy.take()
                    run = {}
                    for phase in ("deploy", "plan", "destroy"):
                        dt = getattr(t, phase)(proxy.endpoint)
                        calls = proxy.take()
                        throttled = dict(model.throttled)
                        model.throttled.clear()
                        emu_cpu = t.cpu[-1][3]
                        in_flight = SJOB_MAX_IN_FLIGHT if is_sjob else t.in_flight
                        floor, which, bounds = floor_of(model, phase, calls, throttled, emu_cpu,
                                                        in_flight, is_sjob)
                        run[phase] = {"s": dt, "calls": sum(calls.values()),
                                      "calls_per_job": sum(calls.values()) / n,
                                      "by_action": dict(calls.most_common()),
                                      "throttled": sum(throttled.values()),
                                      "floor_s": floor, "floor_bound": which,
                                      "bounds_s": {k: round(v, 3) for k, v in bounds.items()},
                                      "tool_cpu_s": t.cpu[-1][2], "emulator_cpu_s": emu_cpu}
                        if is_sjob:
                            run[phase]["pace"] = t.pace
                        if phase == "deploy":
                            run["emulator_rss_mib_after_deploy"] = vm_kib(emulator.proc.pid, "VmRSS") / 1024
                        log(f"[latency n={n}] {t.name} {phase}: {dt:.2f} s, floor {floor:.2f} s "
                            f"({which}), {sum(calls.values())} calls, {sum(throttled.values())} throttled")
                    runs.append(run)
                summary = {}
                for phase in ("deploy", "plan", "destroy"):
                    ordered = sorted(runs, key=lambda r: r[phase]["s"])
                    mid = ordered[len(ordered) // 2][phase]
                    summary[phase] = dict(mid, runs_s=[round(r[phase]["s"], 3) for r in runs])
                summary["emulator_rss_mib_after_deploy"] = max(r["emulator_rss_mib_after_deploy"] for r in runs)
                size[t.name] = summary
            size["emulator_peak_rss_mib"] = vm_kib(emulator.proc.pid, "VmHWM") / 1024
            out[f"jobs_{n}"] = size
            print_latency(size)
    finally:
        proxy.close()
    return out


def print_latency(size):
    n, tools = size["jobs"], size["tools"]
    tf = [t for t in tools if t != "sjob"]
    print(f"\n## {n} job(s) at AWS's latency: sjob vs Terraform")
    print("| operation | sjob | floor (bound) | sjob / floor | "
          + " | ".join(f"{t} | {t} / sjob" for t in tf) + " | calls per job sjob / " + " / ".join(tf) + " |")
    print("|---|---|---|---|" + "---|---|" * len(tf) + "---|")
    for phase, label in (("deploy", "deploy from empty"), ("plan", "no-change plan"),
                         ("destroy", "destroy")):
        s = size["sjob"][phase]
        cells = [label, f"{s['s']:.2f} s", f"{s['floor_s']:.2f} s ({s['floor_bound']})",
                 f"{s['s'] / s['floor_s']:.2f}x"]
        for t in tf:
            cells += [f"{size[t][phase]['s']:.1f} s", f"{size[t][phase]['s'] / s['s']:.1f}x"]
        cells.append(" / ".join(f"{size[t][phase]['calls_per_job']:.1f}" for t in tools))
        print("| " + " | ".join(cells) + " |")
    for t in tools:
        print(f"{t}: " + ", ".join(f"{p} runs {size[t][p]['runs_s']}" for p in ("deploy", "plan", "destroy"))
              + f"; emulator RSS after deploy {size[t]['emulator_rss_mib_after_deploy']:.0f} MiB")
    for phase in ("deploy", "destroy"):
        pace = size["sjob"][phase].get("pace", {})
        print(f"sjob {phase} gates: " + "; ".join(
            f"{svc} peak {r['peak']} throttled {r['throttled']} path {r['path'][:12]}"
            for svc, r in pace.items()))


# --------------------------------------------------------------------------


def ensure_built(args, parts):
    if "handlers" in parts and not args.rust_handler and not HANDLER_BINARY.exists():
        log("building the handlers (cargo build --profile lambda-release -p handlers) ...")
        subprocess.run(["cargo", "build", "--profile", "lambda-release", "-p", "handlers"],
                       cwd=ROOT, check=True)
    if parts & {"deploy", "scale", "latency"} and not args.sjob and not SJOB_BINARY.exists():
        log("building sjob (cargo build --release -p sjob) ...")
        subprocess.run(["cargo", "build", "--release", "-p", "deployer"], cwd=ROOT, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="handlers,deploy,scale",
                    help="any of handlers,deploy,scale,latency")
    ap.add_argument("--handler-rounds", type=int, default=5,
                    help="process starts per handler (each: 1 cold + --invocations warm)")
    ap.add_argument("--invocations", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds for the 1-job comparison")
    ap.add_argument("--scale-sizes", default="10,100")
    ap.add_argument("--scale-rounds", type=int, default=3, help="timed sjob rounds per scale size")
    ap.add_argument("--tf-scale-rounds", default="10:2,100:0",
                    help="timed Terraform rounds per scale size (0: the counting run only)")
    ap.add_argument("--terraform", default=shutil.which("terraform") or "terraform")
    ap.add_argument("--terraform-modules", default="seed,infra",
                    help=f"Terraform contenders, from: {', '.join(TERRAFORM_MODULES)}")
    ap.add_argument("--latency-sizes", default="1,10,100,1000")
    ap.add_argument("--latency-rounds", type=int, default=3,
                    help="sjob rounds per size up to 100 jobs in the latency part (1 above)")
    ap.add_argument("--latency-seed", type=int, default=18)
    ap.add_argument("--latency-sigma", type=float, default=0.3,
                    help="sigma of the lognormal jitter around each service's median latency")
    ap.add_argument("--throttle-scale", type=float, default=0.0,
                    help="throttle at AWS's documented default quotas times this (0: no throttling)")
    ap.add_argument("--tf-parallelism", default="10,50",
                    help="Terraform -parallelism values in the latency part (10 is its default)")
    ap.add_argument("--latency-modules", default="infra",
                    help="Terraform modules in the latency part")
    ap.add_argument("--tf-max-jobs", type=int, default=100,
                    help="the largest size Terraform runs at in the latency part")
    ap.add_argument("--sjob", help="sjob binary (default target/release/sjob)")
    ap.add_argument("--rust-handler", help="handler binary (default target/lambda-release/success-handler)")
    ap.add_argument("--json", default=str(BENCH / "results.json"))
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    ensure_built(args, parts)
    workdir = Path(tempfile.mkdtemp(prefix="sjob-bench-"))
    log(f"scratch: {workdir}")
    results = {"command": " ".join([Path(sys.executable).name] + sys.argv),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "python": platform.python_version()}}
    try:
        tfv = subprocess.run([args.terraform, "version"], capture_output=True, text=True).stdout
        results["machine"]["terraform"] = tfv.splitlines()[0] if tfv else None
    except OSError:
        pass
    emulator = Emulator(workdir)
    proxy = CountingProxy(emulator.port)
    try:
        if "handlers" in parts:
            results["handlers"] = part_handlers(args, emulator, workdir)
            print_handlers(results["handlers"])
        if "deploy" in parts:
            results["stack_1"] = part_stack(args, emulator, proxy, workdir, 1,
                                            args.rounds, args.rounds)
            print_stack(results["stack_1"])
        if "scale" in parts:
            tf_rounds = dict(x.split(":") for x in args.tf_scale_rounds.split(",") if x)
            for n in [int(x) for x in args.scale_sizes.split(",") if x]:
                key = f"stack_{n}"
                results[key] = part_stack(args, emulator, proxy, workdir, n, args.scale_rounds,
                                          int(tf_rounds.get(str(n), args.scale_rounds)))
                print_stack(results[key])
        if "latency" in parts:
            results["latency"] = part_latency(args, emulator, workdir)
    finally:
        proxy.close()
        emulator.close()
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
        log(f"results: {args.json}; scratch kept in {workdir}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
