"""Batch ``UpdateComputeEnvironment`` changes the compute resources.

moto's gap: ``update_compute_environment`` ignores ``computeResources``
altogether (a ``pass`` under a TODO), so a new ``maxvCpus``, new subnets or
new security groups never read back from ``DescribeComputeEnvironments``.

AWS: a Fargate compute environment's ``maxvCpus``, ``subnets`` and
``securityGroupIds`` are updated in place (Batch API reference,
``ComputeResourceUpdate``; for Fargate, an empty list of subnets or security
groups is "handled as if this parameter wasn't specified and no change is
made").  This patch applies those three members as given, keeping the
others.  The emulator calls ``patch()`` at start.
"""

from __future__ import annotations

from typing import Any

UPDATABLE = ("maxvCpus", "subnets", "securityGroupIds")


def patch() -> None:
    from moto.batch.models import BatchBackend

    original = BatchBackend.update_compute_environment

    def update_compute_environment(
        self: Any,
        compute_environment_name: str,
        state: str | None,
        compute_resources: Any | None,
        service_role: str | None,
    ) -> tuple[str, str]:
        answer = original(self, compute_environment_name, state, compute_resources, service_role)
        environment = self.get_compute_environment(compute_environment_name)
        for member in UPDATABLE:
            value = (compute_resources or {}).get(member)
            # An empty list changes nothing, as on Fargate.
            if value is not None and value != []:
                environment.compute_resources[member] = value
        return answer

    BatchBackend.update_compute_environment = update_compute_environment
