"""AWS call plumbing for every AWS client the package uses: errors that name the IAM action.

``aws_call`` and ``aws_pages`` turn botocore's errors into ``AwsCallFailed``, whose message names
the IAM action that failed and what to do (a missing permission, throttling), and never carries
the request's context, which can hold credentials.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_bluegreen.errors import AwsCallFailed

AWS_CONN_TYPE = "aws"
_NOT_FOUND = frozenset(
    {
        "DBClusterNotFoundFault",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "DBParameterGroupNotFound",
        "DBParameterGroupNotFoundFault",
        "DBClusterParameterGroupNotFound",
        "DBSubnetGroupNotFoundFault",
        "InvalidGroup.NotFound",
        "ResourceNotFound",
        "ResourceNotFoundException",
        "NoSuchHostedZone",
    }
)
_ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "NotAuthorized"}
)
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "PriorRequestNotComplete",
    }
)
# IAM names a few services differently from their API endpoint.
_IAM_PREFIX = {"monitoring": "cloudwatch"}


def aws_call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    """``client.<operation>(**kwargs)``, with AWS errors turned into ``AwsCallFailed``."""
    try:
        return getattr(client, operation)(**kwargs)
    except (ClientError, BotoCoreError) as error:
        failure = _failure(client, operation, error)
    # Raised outside the except block: the message says all, and no request context is attached.
    raise failure


def aws_pages(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under ``result_key`` across the pages of a paginated call."""
    try:
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(result_key, [])
    except (ClientError, BotoCoreError) as error:
        failure = _failure(client, operation, error)
    else:
        return
    raise failure


def _failure(client: Any, operation: str, error: Exception) -> AwsCallFailed:
    service = client.meta.service_model.signing_name
    action = (
        f"{_IAM_PREFIX.get(service, service)}:{client.meta.method_to_api_mapping.get(operation, operation)}"
    )
    if not isinstance(error, ClientError):
        return AwsCallFailed(f"{action} failed: {error}")
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", "")
    hint = ""
    if code in _ACCESS_DENIED:
        hint = (
            f"; the identity of the AWS connection needs {action} (docs/iam-policy.json lists every action)"
        )
    elif code in _THROTTLED:
        hint = (
            "; AWS throttled the call: retry the task, or let boto retry longer with "
            '{"config_kwargs": {"retries": {"mode": "adaptive", "max_attempts": 10}}} in the connection extra'
        )
    return AwsCallFailed(f"{action} failed: {code}: {message}{hint}", code, not_found=code in _NOT_FOUND)


def skip_unless_aws(conn_id: str | None, what: str) -> None:
    """Skip the task when its control plane is not AWS, so one DAG serves AWS and the sandbox."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowSkipException

    if conn_id and BaseHook.get_connection(conn_id).conn_type != AWS_CONN_TYPE:
        raise AirflowSkipException(
            f"connection {conn_id} is not an aws connection: {what} exists only on AWS"
        )


def tag_dict(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tag_list or ()}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]
