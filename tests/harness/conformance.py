"""Request conformance: the emulator refuses what AWS's request validation refuses.

moto gap: moto's responses read the parameters they need and ignore the
operation's model, so a request that breaks a member's ``pattern``, length or
value range, names a value outside an ``enum``, or leaves out a required
member is usually accepted (or fails later with an unrelated error).  botocore's
and the Rust SDK's client-side validation check required members and
minimums, but not patterns, maximums or enums, so such requests do reach the
server.

AWS's behaviour: every service validates a request against its API model
before it acts, and answers a violation with HTTP 400 and

* ``ValidationException`` for the JSON protocols (``json``, ``rest-json``:
  Logs, Step Functions, Scheduler, Batch, Lambda, SQS, KMS, ...), with the
  ``x-amzn-ErrorType`` header and ``__type`` in the body;
* ``ValidationError`` in the Query protocol's XML error shape (IAM, STS, SNS,
  CloudWatch);
* EC2's own XML error shape (``<Response><Errors><Error>``), with
  ``MissingParameter`` for a required parameter and ``InvalidParameterValue``
  for the rest.

The message lists every violation as AWS words it: "1 validation error
detected: Value 'a b' at 'logGroupName' failed to satisfy constraint: Member
must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+" (several are
joined by "; ").

Source: the operations' models, ``botocore/data/<service>/<version>/
service-2.json`` (``required``, ``enum``, ``min``/``max``, ``pattern``), loaded
with ``botocore.loaders.Loader().load_service_model(service, "service-2")``;
the wording is the AWS services' (for example Scheduler's CreateSchedule with
a ``.fifo`` dead-letter queue: "Value '...' at 'target.deadLetterConfig.arn'
failed to satisfy constraint: Member must satisfy regular expression pattern:
^arn:aws(-[a-z]+)?:sqs:[a-z0-9\\-]+:\\d{12}:[a-zA-Z0-9\\-_]+$").

The patterns are Java regular expressions, matched against the whole value
(``String.matches``); the ``regex`` module reads ``\\p{L}`` and the other
classes Python's ``re`` lacks.  A pattern even ``regex`` cannot compile is
skipped, with one logged note.

Every request through the server is checked, including those moto's Step
Functions interpreter makes for service integrations (``batch:submitJob``,
``lambda:invoke``, ``sns:publish``, ``aws-sdk:*``): its boto3 clients call
this server's port (``MOTO_PORT``), so they pass through :func:`refusal`
like any other client's.

How a request is read, per protocol (as botocore's serializers write it):

* ``json``: the operation from ``X-Amz-Target``, the input from the JSON body;
* ``rest-json``: the operation by method and ``requestUri`` template (labels,
  greedy ``{Label+}`` labels, a literal query in the template), the input from
  the URI labels, the query string, the headers and the JSON body (or the
  ``payload`` member), per each member's ``location``;
* ``query`` and ``ec2``: the operation from ``Action``, the input from the
  form parameters, with lists (``.member.N``, flattened ``.N``) and maps
  (``.entry.N.key``/``.value``) as botocore serializes them.

Which service a request is for comes from the credential scope of its
``Authorization`` header (how moto routes too), or from ``X-Amz-Target``.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import threading
import uuid
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote

import regex
from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape

LOG = logging.getLogger("sjob-harness.conformance")

# Every service sjob, its handlers, the Terraform module, the bench or the
# tests call, by the name its requests are signed for (the credential scope,
# what moto routes by).  A JSON-protocol request also names its service by
# its ``X-Amz-Target`` prefix.  `Service` checks both against the model.
SERVICES_BY_SIGNING_NAME = {
    "sts": "sts",
    "iam": "iam",
    "logs": "logs",
    "states": "stepfunctions",
    "scheduler": "scheduler",
    "batch": "batch",
    "lambda": "lambda",
    "sns": "sns",
    "sqs": "sqs",
    "tagging": "resourcegroupstaggingapi",
    "ec2": "ec2",
    "monitoring": "cloudwatch",
    "kms": "kms",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
    "dynamodb": "dynamodb",
    "events": "events",
}
SERVICES_BY_TARGET_PREFIX = {
    "Logs_20140328": "logs",
    "AWSStepFunctions": "stepfunctions",
    "AmazonSQS": "sqs",
    "ResourceGroupsTaggingAPI_20170126": "resourcegroupstaggingapi",
    "TrentService": "kms",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
    "DynamoDB_20120810": "dynamodb",
    "AWSEvents": "events",
}

JSON_PROTOCOLS = ("json", "rest-json")


# --------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------
class Route:
    """A rest-json operation's method and ``requestUri`` template."""

    def __init__(self, op: Any) -> None:
        self.operation = op
        self.method = op.http["method"]
        path, _, literal_query = op.http["requestUri"].partition("?")
        self.literal_query = [pair.split("=")[0] for pair in literal_query.split("&") if pair]
        self.labels: dict[str, str] = {}
        self.literal_length = 0
        parts = []
        for i, piece in enumerate(re.split(r"(\{[^}]+\})", path.rstrip("/") or "/")):
            if piece.startswith("{"):
                label = piece[1:-1]
                group = f"label{i}"
                self.labels[group] = label.rstrip("+")
                parts.append(f"(?P<{group}>.+)" if label.endswith("+") else f"(?P<{group}>[^/]+)")
            else:
                parts.append(re.escape(piece))
                self.literal_length += len(piece)
        self.pattern = re.compile("".join(parts))

    def labels_of(self, method: str, path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        """The URI labels of a request this route matches, else None."""
        if method != self.method or not all(key in query for key in self.literal_query):
            return None
        matched = self.pattern.fullmatch(path)
        if matched is None:
            return None
        return {self.labels[group]: unquote(value) for group, value in matched.groupdict().items()}


class Service:
    """One service's model, with what finding an operation needs."""

    def __init__(self, loader: Loader, name: str) -> None:
        self.model = ServiceModel(loader.load_service_model(name, "service-2"), name)
        metadata = self.model.metadata
        self.protocol = metadata["protocol"]
        signing_name = metadata.get("signingName") or metadata["endpointPrefix"]
        assert SERVICES_BY_SIGNING_NAME[signing_name] == name, f"{name} signs as {signing_name}"
        assert SERVICES_BY_TARGET_PREFIX.get(metadata.get("targetPrefix"), name) == name
        # Batch's model declares no ValidationException: its errors, a bad
        # request's included, are ClientException.
        shapes = set(self.model.shape_names)
        self.validation_exception = (
            "ClientException"
            if "ValidationException" not in shapes and "ClientException" in shapes
            else "ValidationException"
        )
        self.operations_by_name = {
            op: self.model.operation_model(op) for op in self.model.operation_names
        }
        # Most specific (most literal characters) first.
        self.routes = sorted(
            (Route(op) for op in self.operations_by_name.values()),
            key=lambda route: -route.literal_length,
        ) if self.protocol == "rest-json" else []

    def operation_for(
        self, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[Any, dict[str, str]] | None:
        """The rest-json operation a request is for, with its URI labels."""
        for route in self.routes:
            labels = route.labels_of(method, path, query)
            if labels is not None:
                return route.operation, labels
        return None


class Models:
    """The services' models, each loaded on its first request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loader = Loader()
        self.services: dict[str, Service] = {}

    def service(self, name: str) -> Service:
        with self.lock:
            if name not in self.services:
                self.services[name] = Service(self.loader, name)
            return self.services[name]


MODELS = Models()


# --------------------------------------------------------------------------
# Java patterns
# --------------------------------------------------------------------------
_PATTERNS: dict[str, Any] = {}
_PATTERNS_LOCK = threading.Lock()


def _pattern(java: str) -> Any:
    """The compiled form of a model's Java pattern, or None when even
    ``regex`` cannot read it (noted once in the log)."""
    with _PATTERNS_LOCK:
        if java not in _PATTERNS:
            try:
                _PATTERNS[java] = regex.compile(java)
            except regex.error as exc:
                LOG.warning("conformance: pattern %r is not checked (%s)", java, exc)
                _PATTERNS[java] = None
        return _PATTERNS[java]


# --------------------------------------------------------------------------
# Validation against a shape
# --------------------------------------------------------------------------
def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _java_text(value: Any) -> str:
    """A value as Java's toString writes it in AWS's messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_java_text(k)}={_java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(v) for v in value) + "]"
    return str(value)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# A member whose documentation says its values are not case sensitive (Batch's
# EvaluateOnExit action: "The values aren't case sensitive.") takes its enum
# in any case.
_CASE_INSENSITIVE = re.compile(r"(aren't|are not|isn't|is not) case[- ]sensitive", re.I)


def _in_enum(shape: Shape, value: str) -> bool:
    if value in shape.enum:
        return True
    return bool(_CASE_INSENSITIVE.search(shape.documentation or "")) and value.upper() in {
        v.upper() for v in shape.enum
    }


def _constraints(shape: Shape, value: Any) -> list[str]:
    """What a scalar, list or map value breaks of its own shape's
    constraints, in AWS's words."""
    meta = shape.metadata
    broken: list[str] = []
    kind = shape.type_name
    size: int | float | None = None
    if kind == "string" and isinstance(value, str):
        size = _utf16_length(value)
    elif kind in ("list", "map") and isinstance(value, (list, dict)):
        size = len(value)
    elif kind == "blob" and isinstance(value, (bytes, str)):
        size = len(value)
    if size is not None:
        if "min" in meta and size < meta["min"]:
            broken.append(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            broken.append(f"Member must have length less than or equal to {meta['max']}")
    if kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            broken.append(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            broken.append(f"Member must have value less than or equal to {meta['max']}")
    if kind == "string" and isinstance(value, str):
        if shape.enum and not _in_enum(shape, value):
            broken.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        if "pattern" in meta:
            compiled = _pattern(meta["pattern"])
            if compiled is not None and not compiled.fullmatch(value):
                broken.append(
                    f"Member must satisfy regular expression pattern: {meta['pattern']}"
                )
    return broken


class Violation(NamedTuple):
    """One constraint a member breaks: where, its value as AWS quotes it
    (``null`` when missing), and the constraint in AWS's words."""

    path: str
    quoted: str
    constraint: str

    @property
    def missing(self) -> bool:
        return self.quoted == "null"

    def __str__(self) -> str:
        return f"Value {self.quoted} at '{self.path}' failed to satisfy constraint: {self.constraint}"


MUST_NOT_BE_NULL = "Member must not be null"


def violations(shape: Shape, value: Any, path: str = "") -> list[Violation]:
    """Every violation of ``shape``'s model by ``value``, with ``path`` the
    member path of ``value`` (``target.deadLetterConfig``)."""
    found: list[Violation] = []
    _check(shape, value, path, found)
    return found


def _check(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    quoted = f"'{_java_text(value)}'"
    found.extend(Violation(path, quoted, broken) for broken in _constraints(shape, value))
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name in shape.required_members:
            if value.get(name) is None:
                found.append(Violation(_join(path, _lower_first(name)), "null", MUST_NOT_BE_NULL))
        for name, member_value in value.items():
            member = shape.members.get(name)
            if member is not None and member_value is not None:
                _check(member, member_value, _join(path, _lower_first(name)), found)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value, 1):
            if item is not None:
                _check(shape.member, item, f"{path}.{i}.member", found)
    elif kind == "map" and isinstance(value, dict):
        for side, part, items in (
            ("keys", shape.key, list(value.keys())),
            ("value", shape.value, list(value.values())),
        ):
            broken = sorted({b for item in items for b in _constraints(part, item)})
            if broken:
                found.append(
                    Violation(path, quoted, f"Map {side} must satisfy constraint: [{', '.join(broken)}]")
                )
        if shape.value.type_name in ("structure", "list", "map"):
            for key, item in value.items():
                _check(shape.value, item, f"{path}.{key}", found)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------
# Reading a request into the operation's input, per protocol
# --------------------------------------------------------------------------
def _scalar(shape: Shape, text: str) -> Any:
    """A value that came as text (query, URI, header) in its shape's type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "blob":
        return _decoded(text)
    return text


def _decoded(text: str) -> bytes | str:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return text


def _from_json(shape: Shape, value: Any) -> Any:
    """A JSON value in model terms: member names for serialized names,
    blobs decoded (their limits count bytes)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if key in value:
                out[name] = _from_json(member, value[key])
        return out
    if kind == "list" and isinstance(value, list):
        return [_from_json(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_json(shape.value, v) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        return _decoded(value)
    return value


class _Form:
    """Query-protocol form parameters, with every dotted prefix they use."""

    def __init__(self, params: dict[str, str], ec2: bool) -> None:
        self.params = params
        self.ec2 = ec2
        self.prefixes: set[str] = set()
        for key in params:
            parts = key.split(".")
            for i in range(1, len(parts) + 1):
                self.prefixes.add(".".join(parts[:i]))

    def name(self, shape: Shape, default: str) -> str:
        if self.ec2:
            if "queryName" in shape.serialization:
                return shape.serialization["queryName"]
            if "name" in shape.serialization:
                name = shape.serialization["name"]
                return name[0].upper() + name[1:]
            return default
        return shape.serialization.get("name", default)

    def read(self, shape: Shape, prefix: str) -> Any:
        """The value at ``prefix``, or None when the form has none."""
        kind = shape.type_name
        if kind == "structure":
            if prefix and prefix not in self.prefixes:
                return None
            out = {}
            for name, member in shape.members.items():
                key = self.name(member, name)
                value = self.read(member, f"{prefix}.{key}" if prefix else key)
                if value is not None:
                    out[name] = value
            return out
        if kind == "list":
            if self.params.get(prefix) == "":
                return []
            if self.ec2 or shape.serialization.get("flattened"):
                item_prefix = prefix
                if not self.ec2 and shape.member.serialization.get("name"):
                    item_prefix = ".".join(
                        prefix.split(".")[:-1] + [self.name(shape.member, "")]
                    )
            else:
                item_prefix = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
            items = []
            while f"{item_prefix}.{len(items) + 1}" in self.prefixes:
                items.append(self.read(shape.member, f"{item_prefix}.{len(items) + 1}"))
            return items if items or prefix in self.prefixes else None
        if kind == "map":
            entries = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
            key_name = self.name(shape.key, "key")
            value_name = self.name(shape.value, "value")
            out = {}
            i = 1
            while f"{entries}.{i}" in self.prefixes:
                key = self.params.get(f"{entries}.{i}.{key_name}")
                if key is not None:
                    out[key] = self.read(shape.value, f"{entries}.{i}.{value_name}")
                i += 1
            return out if out or prefix in self.prefixes else None
        text = self.params.get(prefix)
        return None if text is None else _scalar(shape, text)


def _rest_input(op: Any, labels: dict[str, str], query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    out: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    body_members = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        key = member.serialization.get("name", name)
        if location == "uri":
            if key in labels:
                out[name] = _scalar(member, labels[key])
        elif location == "querystring":
            if member.type_name == "map":
                continue
            if key in query:
                if member.type_name == "list":
                    out[name] = [_scalar(member.member, v) for v in query[key]]
                else:
                    out[name] = _scalar(member, query[key][0])
        elif location == "header":
            if key.lower() in headers:
                text = headers[key.lower()]
                if member.type_name == "list":
                    out[name] = [_scalar(member.member, v.strip()) for v in text.split(",")]
                elif member.serialization.get("jsonvalue"):
                    continue
                else:
                    out[name] = _scalar(member, text)
        elif location == "headers":
            prefix = key.lower()
            out[name] = {h[len(prefix):]: v for h, v in headers.items() if h.startswith(prefix)}
        elif name == payload:
            if member.type_name in ("blob", "string"):
                out[name] = body if member.type_name == "blob" else body.decode("utf-8", "replace")
            else:
                parsed = _json_body(body)
                if parsed is not None:
                    out[name] = _from_json(member, parsed)
        else:
            body_members[name] = member
    if body_members and payload is None:
        parsed = _json_body(body)
        if isinstance(parsed, dict):
            for name, member in body_members.items():
                key = member.serialization.get("name", name)
                if key in parsed:
                    out[name] = _from_json(member, parsed[key])
    return out


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError:
        return None


# --------------------------------------------------------------------------
# The check in front of moto
# --------------------------------------------------------------------------
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def _headers(environ: dict) -> dict[str, str]:
    out = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = environ["CONTENT_TYPE"]
    return out


def _read_body(environ: dict) -> bytes:
    """The request body, put back so that moto reads it too."""
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class Request(NamedTuple):
    """One request, identified: its service, operation and input."""

    service: Service
    operation: Any
    input: dict[str, Any]


def identify(environ: dict) -> Request | None:
    """The service, operation and input of a request, or None when it is
    not a call of a modelled service's operation."""
    headers = _headers(environ)
    scope = _SCOPE.search(headers.get("authorization", ""))
    target = headers.get("x-amz-target", "")
    name = None
    if target:
        name = SERVICES_BY_TARGET_PREFIX.get(target.split(".")[0])
    if name is None and scope:
        name = SERVICES_BY_SIGNING_NAME.get(scope.group(1))
    if name is None:
        return None
    service = MODELS.service(name)
    body = _read_body(environ)
    method = environ.get("REQUEST_METHOD", "GET")
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path, _, query_text = raw_uri.partition("?")
    query_text = query_text or environ.get("QUERY_STRING", "")
    if service.protocol == "json":
        op = service.operations_by_name.get(target.partition(".")[2])
        if op is None:
            return None
        parsed = _json_body(body)
        params = _from_json(op.input_shape, parsed) if op.input_shape is not None else {}
        return Request(service, op, params if isinstance(params, dict) else {})
    if service.protocol == "rest-json":
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(query_text, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        found = service.operation_for(method, path.rstrip("/") or "/", query)
        if found is None:
            return None
        op, labels = found
        return Request(service, op, _rest_input(op, labels, query, headers, body))
    # query, ec2
    form = dict(parse_qsl(query_text, keep_blank_values=True))
    if "x-www-form-urlencoded" in headers.get("content-type", ""):
        form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    op = service.operations_by_name.get(form.get("Action", ""))
    if op is None:
        return None
    params = (
        _Form(form, service.protocol == "ec2").read(op.input_shape, "")
        if op.input_shape is not None
        else {}
    )
    return Request(service, op, params or {})


def refusal(environ: dict) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """AWS's answer to a request it would refuse (status line, headers,
    body), or None to let moto answer."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api") or path.startswith("/_harness"):
        return None
    request = identify(environ)
    if request is None or request.operation.input_shape is None:
        return None
    found = violations(request.operation.input_shape, request.input)
    if not found:
        return None
    code, message = _validation_error(request.service, found)
    LOG.info(
        "conformance: %s %s refused: %s",
        request.service.model.service_name,
        request.operation.name,
        message,
    )
    return error_response(request.service, code, message)


def _validation_error(service: Service, found: list[Violation]) -> tuple[str, str]:
    """The error code and message AWS answers a request's violations with."""
    if service.protocol == "ec2":
        missing = [v for v in found if v.missing]
        if missing:
            name = missing[0].path.split(".")[-1]
            return "MissingParameter", f"The request must contain the parameter {name[:1].upper()}{name[1:]}"
        return "InvalidParameterValue", str(found[0])
    count = len(found)
    message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
        str(v) for v in found
    )
    if service.protocol == "query":
        return "ValidationError", message
    return service.validation_exception, message


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def error_response(service: Service, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """A 400 answer in the service protocol's error shape."""
    request_id = str(uuid.uuid4())
    if service.protocol in JSON_PROTOCOLS:
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1" if service.protocol == "json" else "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    elif service.protocol == "ec2":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{_xml_escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    else:
        namespace = service.model.metadata.get("xmlNamespace", "")
        body = (
            f"<ErrorResponse xmlns=\"{namespace}\"><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{_xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    headers.append(("Content-Length", str(len(body))))
    return "400 Bad Request", headers, body
