"""The base of our AWS-only operators: the amazon provider's arguments and hooks, imported when a task runs.

``AwsBaseOperator`` (and ``aws_template_fields``) import the provider's hook module and boto3 at
the top: about 0.3 s on every parse of a DAG file that uses them, for tasks that are skipped on
the sandbox anyway. This base takes the same arguments (``aws_conn_id``, ``region_name``,
``verify``, ``botocore_config``) and builds the same hook, with the same parameters, on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

AWS_TEMPLATE_FIELDS = ("aws_conn_id", "region_name", "verify")


def aws_template_fields(*fields: str) -> tuple[str, ...]:
    """The operator's own template fields plus the AWS ones, as the amazon provider's helper makes them."""
    return tuple(dict.fromkeys((*fields, *AWS_TEMPLATE_FIELDS)))


class LazyAwsOperator(BaseOperator):
    """An operator on one amazon-provider hook, named by ``aws_hook_class_path`` and imported on first use."""

    aws_hook_class_path: str
    """``module.Class`` of the hook, e.g. ``airflow.providers.amazon.aws.hooks.rds.RdsHook``."""
    template_fields: Sequence[str] = AWS_TEMPLATE_FIELDS

    def __init__(
        self,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "config": self.botocore_config,
        }

    @cached_property
    def hook(self) -> Any:
        module, name = self.aws_hook_class_path.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)(**self._hook_parameters)
