"""IAM refuses policy documents that name a resource outside the request's
partition, or that pass IAM's size quotas.

moto gap: moto's ``IAMPolicyDocumentValidator`` checks a document's grammar
only: any string is accepted as a ``Resource``, and no size is ever counted.

AWS's behaviour (IAM, for CreateRole, UpdateAssumeRolePolicy, PutRolePolicy,
CreatePolicy and CreatePolicyVersion):

* every ``Resource`` and ``NotResource`` is ``*`` or an ARN, and an ARN's
  partition is the partition the request is made in; else HTTP 400
  ``MalformedPolicyDocument``: 'Resource foo must be in ARN format or "*".',
  or 'Partition "aws" is not valid for resource "arn:aws:logs:...".';
* sizes are counted in characters without whitespace: a role's trust policy
  at most 2,048 (``LimitExceeded``, HTTP 409: "Cannot exceed quota for
  ACLSizePerRole: 2048"), a managed policy (each version) at most 6,144
  ("Cannot exceed quota for PolicySize: 6144"), and all of a role's inline
  policies together at most 10,240 ("Maximum policy size of 10240 bytes
  exceeded for role <name>").

Sources: IAM User Guide, "IAM and AWS STS quotas" (reference_iam-quotas.html:
the three sizes, "IAM doesn't count white space"), "IAM JSON policy elements:
Resource" (an ARN, or ``*``), "AWS ARNs" (the partition); IAM's messages as it
returns them (quoted in, for example, aws/copilot-cli#2563 and
kubeflow/kubeflow#6687).
"""

from __future__ import annotations

import json
import re
from typing import Any

TRUST_POLICY_LIMIT = 2048
MANAGED_POLICY_LIMIT = 6144
ROLE_INLINE_LIMIT = 10240
_WHITESPACE = re.compile(r"\s")


def size(document: str) -> int:
    """A policy's size as IAM counts it: its characters but whitespace."""
    return len(_WHITESPACE.sub("", document))


def _statements(document: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(document)
    except ValueError:
        return []  # moto's own validator answers a document that is not JSON
    statements = parsed.get("Statement", []) if isinstance(parsed, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    return [s for s in statements if isinstance(s, dict)]


def malformed_resource(document: str, partition: str) -> str | None:
    """IAM's message for the first resource it would refuse, else None."""
    for statement in _statements(document):
        for key in ("Resource", "NotResource"):
            resources = statement.get(key, [])
            for resource in [resources] if isinstance(resources, str) else resources:
                if resource == "*":
                    continue
                parts = str(resource).split(":")
                if parts[0] != "arn" or len(parts) < 6:
                    return f'Resource {resource} must be in ARN format or "*".'
                if parts[1] != partition:
                    return f'Partition "{parts[1]}" is not valid for resource "{resource}".'
    return None


def patch_iam_policy_documents() -> None:
    """Installs the checks in front of moto's IAM backend methods."""
    from moto.iam import models
    from moto.iam.exceptions import LimitExceededException, MalformedPolicyDocument

    backend = models.IAMBackend

    def check_resources(self: Any, document: str) -> None:
        message = malformed_resource(document, self.partition)
        if message:
            raise MalformedPolicyDocument(message)

    def check_trust_policy(document: str) -> None:
        if size(document) > TRUST_POLICY_LIMIT:
            raise LimitExceededException(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_LIMIT}")

    def check_managed_policy(self: Any, document: str) -> None:
        check_resources(self, document)
        if size(document) > MANAGED_POLICY_LIMIT:
            raise LimitExceededException(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_LIMIT}")

    create_role = backend.create_role
    update_assume_role_policy = backend.update_assume_role_policy
    put_role_policy = backend.put_role_policy
    create_policy = backend.create_policy
    create_policy_version = backend.create_policy_version

    def create_role_checked(self: Any, role_name: str, assume_role_policy_document: str, *args: Any, **kwargs: Any) -> Any:
        check_trust_policy(assume_role_policy_document)
        return create_role(self, role_name, assume_role_policy_document, *args, **kwargs)

    def update_assume_role_policy_checked(self: Any, role_name: str, policy_document: str) -> None:
        check_trust_policy(policy_document)
        return update_assume_role_policy(self, role_name, policy_document)

    def put_role_policy_checked(self: Any, role_name: str, policy_name: str, policy_json: str) -> None:
        check_resources(self, policy_json)
        others = self.get_role(role_name).policies
        total = size(policy_json) + sum(
            size(document) for name, document in others.items() if name != policy_name
        )
        if total > ROLE_INLINE_LIMIT:
            raise LimitExceededException(
                f"Maximum policy size of {ROLE_INLINE_LIMIT} bytes exceeded for role {role_name}"
            )
        return put_role_policy(self, role_name, policy_name, policy_json)

    def create_policy_checked(self: Any, description: str, path: str, policy_document: str, *args: Any, **kwargs: Any) -> Any:
        check_managed_policy(self, policy_document)
        return create_policy(self, description, path, policy_document, *args, **kwargs)

    def create_policy_version_checked(self: Any, policy_arn: str, policy_document: str, set_as_default: bool) -> Any:
        check_managed_policy(self, policy_document)
        return create_policy_version(self, policy_arn, policy_document, set_as_default)

    backend.create_role = create_role_checked  # type: ignore[method-assign]
    backend.update_assume_role_policy = update_assume_role_policy_checked  # type: ignore[method-assign]
    backend.put_role_policy = put_role_policy_checked  # type: ignore[method-assign]
    backend.create_policy = create_policy_checked  # type: ignore[method-assign]
    backend.create_policy_version = create_policy_version_checked  # type: ignore[method-assign]
