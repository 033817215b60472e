"""Every error this package raises on purpose, under one root: ``AuroraBlueGreenError``.

A caller can catch the root to tell "the tool refused or failed, and says why" from a bug. Where
an error is also a kind of built-in error (bad input is a ``ValueError``, a refusal to touch what
is not ours a ``PermissionError``, a wait that ran out a ``TimeoutError``), it derives from that
built-in too, so code that catches the built-in keeps working.

Messages name the field, cluster or endpoint at fault and what to do; none holds a secret.
"""

from __future__ import annotations

from typing import Any


class AuroraBlueGreenError(Exception):
    """Root of the package's own errors."""


# -- input ---------------------------------------------------------------------------------------


class InvalidInput(AuroraBlueGreenError, ValueError):
    """A value a user gave breaks a rule; raised before anything changes."""

    def __init__(self, field: str, value: Any, rule: str) -> None:
        super().__init__(f"{field}={value!r} is invalid: must be {rule}")
        self.field = field
        self.rule = rule


# -- what we may touch ---------------------------------------------------------------------------


class NotManagedByUs(AuroraBlueGreenError, PermissionError):
    """Raised instead of changing a cluster, group or instance this tool did not create."""


class UserNotManagedByUs(NotManagedByUs):
    """Raised instead of changing or dropping a user that has more than REPLICATION SLAVE."""


# -- the control plane ---------------------------------------------------------------------------


class ClusterNotFound(AuroraBlueGreenError, LookupError):
    """No cluster with that id where the control plane looked."""


class ClusterStateError(AuroraBlueGreenError):
    """A cluster is not in a state this step can work with (no endpoint or writer yet, protected,
    or not where a finished step should have left it)."""


class AwsCallFailed(AuroraBlueGreenError):
    """An AWS API call failed. The message names the IAM action; it never holds credentials."""

    def __init__(self, message: str, code: str | None = None, not_found: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.not_found = not_found


class CloneCoordinatesMissing(AuroraBlueGreenError):
    """Nothing tells where green's data ends on blue, so replication cannot start exactly."""


class WaitTimedOut(AuroraBlueGreenError, TimeoutError):
    """Something waited for did not happen in time."""


# -- the data plane ------------------------------------------------------------------------------


class StatementFailed(AuroraBlueGreenError):
    """A statement failed on a server. The message names the server and never holds a secret."""

    def __init__(self, message: str, errno: int | None, server_error: str = "") -> None:
        super().__init__(message)
        self.errno = errno
        self.server_error = server_error
        """Just the server's error, ``(errno) text``, for messages that name the statement themselves."""


class ClusterUnreachable(AuroraBlueGreenError):
    """A cluster's SQL endpoint did not answer; the message names the cluster, its role and endpoint."""


class ReplicationNotRunning(AuroraBlueGreenError):
    """The server cannot make progress towards a source position: it is not replicating."""


class ReplicationBroken(AuroraBlueGreenError):
    """Replication stopped with an error, or never came up."""


class ReadOnlyNeedsControlPlane(AuroraBlueGreenError, NotImplementedError):
    """Raised where SQL cannot switch read_only; the cluster's parameter group must do it."""


# -- the deployment ------------------------------------------------------------------------------


class GuardrailFailed(AuroraBlueGreenError):
    """A check before the freeze failed; nothing was changed."""


class BlueNotQuiet(AuroraBlueGreenError):
    """Blue took writes where the cutover needed it still: before (``application_stops``) or after
    its final position was read."""


class CutoverFailed(AuroraBlueGreenError):
    """The cutover did not complete; ``report`` says how far it got and whether it rolled back."""

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report
        """The ``models.CutoverReport`` of the attempt."""


class MigrationBrokeReplication(ReplicationBroken):
    """Green stopped applying blue's changes after a migration statement."""


class SqlFileFailed(AuroraBlueGreenError):
    """A statement of a user's SQL file failed; the message names the file and the statement."""


class CleanupIncomplete(AuroraBlueGreenError):
    """Some clean-up steps failed; the message lists what is left to remove by hand."""


# -- the sandbox and the demo --------------------------------------------------------------------


class SandboxError(AuroraBlueGreenError):
    """The local sandbox cannot do what was asked."""


class CloneConflict(SandboxError):
    """A cluster with the requested id exists but is not the clone that was asked for."""


class ServerError(SandboxError):
    """A sandbox database server could not be initialised, started or stopped."""


class ServerExited(ServerError):
    """A sandbox database server died before it accepted connections."""


class UpgradeUnavailable(SandboxError):
    """No newer engine exists to upgrade a sandbox cluster to; the message says why (the MySQL
    engine has one version; a machine's MariaDB may be the newest its Debian archive has)."""


class RootBuildError(SandboxError):
    """A Debian root for a sandbox engine could not be built or found; the message says why and what to do."""


class LoadError(SandboxError):
    """The load generator cannot start or stop as asked."""


class DemoError(AuroraBlueGreenError):
    """The demo did not get what it needs from its own Airflow."""


class AirflowStackError(DemoError):
    """The demo's Airflow processes could not be started, or stopped."""


class AirflowRestError(DemoError):
    """A non-2xx answer, with the method, path and body that explain it."""

    def __init__(self, method: str, path: str, status_code: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status_code}: {body[:2000]}")
        self.status_code = status_code
        self.body = body


# -- one run per blue cluster --------------------------------------------------------------------


class ClusterBusy(AuroraBlueGreenError):
    """Another active run (of any of this tool's DAGs) holds a blue cluster this run needs."""
