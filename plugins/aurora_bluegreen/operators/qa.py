"""The nightly QA refresh: plan, mask, replicate (optional), publish, retire; blue is only read.

A QA clone is tagged as ours from the moment it is created (``qa_clones.qa_tags`` plus its stamp)
and tagged ready only once it is complete, so a run that dies halfway leaves a tagged, not-ready
clone that the next run retires.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from aurora_bluegreen import validation
from aurora_bluegreen.errors import CleanupIncomplete, ClusterStateError
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.operators.cluster_task import ClusterTask
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.timing import Stopwatch


class PlanQaRefreshOperator(ClusterTask):
    """Check every input and name tonight's clone, before anything changes.

    Refused, each with the field and the rule: a bad blue id or prefix, ``keep_previous`` < 0,
    a masking file that is missing or outside ``sql_folder``, masking together with replication
    (replication would overwrite masked rows, and masking writes would break replication), an
    unknown endpoint target or connection, a blue that does not exist or is not available.

    :return: ``{"cluster_id", "writer_instance_id", "stamp", "masking_statements"}``; the names
        come from the run's due time, so a retry of any later task uses the same clone.
    """

    template_fields: Sequence[str] = (
        *ClusterTask.template_fields,
        "blue_cluster_id",
        "qa_cluster_prefix",
        "keep_previous",
        "masking_files",
        "replicate",
        "qa_endpoint",
        "replication_conn_id",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        blue_cluster_id: str,
        qa_cluster_prefix: str,
        keep_previous: int,
        masking_files: Sequence[str] | None,
        sql_folder: str | Path,
        replicate: bool,
        qa_endpoint: str,
        replication_conn_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.blue_cluster_id = blue_cluster_id
        self.qa_cluster_prefix = qa_cluster_prefix
        self.keep_previous = keep_previous
        self.masking_files = masking_files
        self.sql_folder = sql_folder
        self.replicate = replicate
        self.qa_endpoint = qa_endpoint
        self.replication_conn_id = replication_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.qa_clones import clone_names, keep_count
        from aurora_bluegreen.repointers.registry import parse_repoint_target
        from aurora_bluegreen.sql_files import sql_files

        watch = Stopwatch()
        validation.cluster_identifier("blue_cluster_id", self.blue_cluster_id)
        keep_count(self.keep_previous)
        if not isinstance(self.replicate, bool):
            raise validation.InvalidInput("replicate", self.replicate, "true or false")
        masking = sql_files("masking_files", self.sql_folder, self.masking_files)
        if masking and self.replicate:
            raise validation.InvalidInput(
                "replicate",
                self.replicate,
                "false when masking_files are given: replication would overwrite the masked rows "
                "with blue's, and the masking writes would break replication",
            )
        parse_repoint_target(self.qa_endpoint, field="qa_endpoint")
        for field in ("control_plane_conn_id", "admin_conn_id"):
            validation.connection_exists(field, getattr(self, field))
        if self.replicate:
            validation.replication_credentials(self.replication_conn_id)
        names = clone_names(self.qa_cluster_prefix, context["dag_run"].run_after)
        validation.distinct_clusters(self.blue_cluster_id, names["cluster_id"])
        blue = ClusterAccess(self.control_plane_conn_id, self.admin_conn_id).backend.describe(
            self.blue_cluster_id
        )
        if not blue.is_available:
            raise ClusterStateError(f"blue cluster {self.blue_cluster_id} is {blue.status}, not available")
        self.log.info(
            "QA refresh of %s planned in %.2fs: clone %s, %d masking statements, replicate=%s, "
            "keep %d earlier",
            self.blue_cluster_id,
            watch.seconds,
            names["cluster_id"],
            sum(len(f.statements) for f in masking),
            self.replicate,
            self.keep_previous,
        )
        return {**names, "masking_statements": sum(len(f.statements) for f in masking)}


class _QaCloneTask(ClusterTask):
    """A task on tonight's clone, named by the plan."""

    template_fields: Sequence[str] = (*ClusterTask.template_fields, "cluster_id")

    def __init__(self, *, cluster_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster_id = cluster_id

    def _access(self) -> ClusterAccess:
        """Refuses any cluster but a QA clone we made: masking writes over whatever it is given."""
        from aurora_bluegreen.ownership import Role, require_role

        validation.cluster_identifier("cluster_id", self.cluster_id)
        access = super()._access()
        require_role(self.cluster_id, access.backend.describe(self.cluster_id).tags, Role.QA)
        return access


class MaskQaCloneOperator(_QaCloneTask):
    """Run the masking SQL files on the QA clone (for example scrubbing PII), each statement logged.

    The clone is made writable for it. If a statement fails, the clone still holds
    unmasked data, so it is deleted at once (it is ours: tags) and the task fails naming the
    file, the statement and the server's error. Not retried: the DAG makes a new clone next time.
    """

    template_fields: Sequence[str] = (*_QaCloneTask.template_fields, "masking_files")
    ui_color = "#ead1dc"

    def __init__(self, *, masking_files: Sequence[str] | None, sql_folder: str | Path, **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.masking_files = masking_files
        self.sql_folder = sql_folder

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.sql_files import sql_files
        from aurora_bluegreen.sql_runner import run_sql_files

        files = sql_files("masking_files", self.sql_folder, self.masking_files)
        if not files:
            self.log.info("No masking files given: QA clone %s keeps blue's data as it is", self.cluster_id)
            return {"statements": []}
        access = self._access()
        watch = Stopwatch()
        clone = access.sql(self.cluster_id, "QA clone")
        try:
            access.read_only_switch(self.cluster_id, clone).set_read_only(False)
            applied = run_sql_files(clone, files, f"QA clone {self.cluster_id}", self.log)
        except Exception as error:
            self.log.error(
                "Masking failed: deleting QA clone %s, which may hold unmasked data", self.cluster_id
            )
            try:
                access.backend.delete(self.cluster_id)
            except Exception as delete_error:
                raise CleanupIncomplete(
                    f"masking failed ({error}), and QA clone {self.cluster_id}, which may hold unmasked "
                    f"data, could not be deleted: {delete_error}; delete it by hand"
                ) from error
            raise
        self.log.info(
            "Masked QA clone %s: %d statements, %d rows changed, in %.2fs",
            self.cluster_id,
            len(applied),
            sum(max(a.affected_rows, 0) for a in applied),
            watch.seconds,
        )
        return {"statements": [a.to_dict() for a in applied]}


class StartQaReplicationOperator(StartBinlogReplicationOperator):
    """Replication from blue to the QA clone when ``replicate`` is on; skipped otherwise.

    Blue's binlog retention is first recorded on the clone, as for a deployment's green, so a
    teardown of the last replicating clone can put it back.
    """

    template_fields: Sequence[str] = (*StartBinlogReplicationOperator.template_fields, "replicate")
    # A QA clone is never cut over to, so nothing will replicate from it.
    green_must_write_binlogs = False

    def __init__(self, *, replicate: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replicate = replicate

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from aurora_bluegreen.teardown import record_source_retention

        if not self.replicate:
            raise AirflowSkipException("replicate is off: the QA clone is a still copy of blue")
        self._check_inputs()  # before the clone is tagged
        record_source_retention(self._access(), self.blue_cluster_id, self.green_cluster_id)
        return super().execute(context)


class PublishQaCloneOperator(_QaCloneTask):
    """Mark the clone ready, open it for writes unless it replicates, and point the stable QA name at it.

    :param qa_endpoint: ``none`` or a repoint target (``sandbox:<name>`` and the AWS kinds) that
        QA users resolve; it is moved to tonight's clone.
    :return: ``{"cluster_id", "endpoint", "port", "read_only", "published"}``, the XCom QA reads.
    """

    template_fields: Sequence[str] = (*_QaCloneTask.template_fields, "qa_endpoint", "replicate")
    ui_color = "#d6f5d6"

    def __init__(self, *, qa_endpoint: str, replicate: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.qa_endpoint = qa_endpoint
        self.replicate = replicate

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.ownership import READY_TAG
        from aurora_bluegreen.repointers.registry import repointer_for

        watch = Stopwatch()
        access = self._access()
        info = access.backend.describe(self.cluster_id)
        if not self.replicate:
            clone = access.sql(self.cluster_id, "QA clone")
            access.read_only_switch(self.cluster_id, clone).set_read_only(False)
            # Writable for good: a runtime switch would be forgotten at the clone's next reboot.
            access.persistent_read_only(self.cluster_id).set_read_only(False)
        access.backend.add_tags(self.cluster_id, {READY_TAG: "true"})
        published = repointer_for(self.qa_endpoint, access.backend).repoint(
            info.endpoint, info.port, self.cluster_id
        )
        self.log.info(
            "Published QA clone %s at %s:%s (%s) in %.2fs: %s",
            self.cluster_id,
            info.endpoint,
            info.port,
            "read-only replica of blue" if self.replicate else "writable",
            watch.seconds,
            published,
        )
        return {
            "cluster_id": self.cluster_id,
            "endpoint": info.endpoint,
            "port": info.port,
            "read_only": bool(self.replicate),
            "published": published,
        }


class RetireQaClonesOperator(BaseOperator):
    """Delete earlier QA clones of blue, found only by our tags; keep the newest ``keep_previous`` ready ones.

    Clones never marked ready (a run that failed or was killed halfway) are always retired.
    ``current_cluster_id`` (tonight's) is never. Every deletion is tried; the task fails at the
    end if any failed, naming them.

    When the last clone of ours that replicated from blue is gone (QA or deployment), blue's
    replication user is dropped and its binlog retention put back, as a teardown does; this needs
    ``admin_conn_id`` and ``replication_conn_id``.

    :return: ``{"kept": [...], "retired": [...], "blue": {...}}``; ``blue`` says what was done on blue.
    """

    template_fields: Sequence[str] = (
        "blue_cluster_id",
        "current_cluster_id",
        "keep_previous",
        "control_plane_conn_id",
        "admin_conn_id",
        "replication_conn_id",
    )
    ui_color = "#efefef"

    def __init__(
        self,
        *,
        blue_cluster_id: str,
        current_cluster_id: str | None,
        keep_previous: int,
        control_plane_conn_id: str,
        admin_conn_id: str | None = None,
        replication_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.blue_cluster_id = blue_cluster_id
        self.current_cluster_id = current_cluster_id
        self.keep_previous = keep_previous
        self.control_plane_conn_id = control_plane_conn_id
        self.admin_conn_id = admin_conn_id
        self.replication_conn_id = replication_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.control_plane.factory import get_backend
        from aurora_bluegreen.operators.cluster_access import ClusterAccess
        from aurora_bluegreen.qa_clones import clones_to_retire, keep_count, qa_tags
        from aurora_bluegreen.teardown import retire_qa_clones

        validation.cluster_identifier("blue_cluster_id", self.blue_cluster_id)
        keep = keep_count(self.keep_previous)
        if (self.admin_conn_id is None) != (self.replication_conn_id is None):
            raise validation.InvalidInput(
                "replication_conn_id",
                self.replication_conn_id,
                "given together with admin_conn_id (both are needed to clean up blue), or neither",
            )
        user = (
            validation.replication_credentials(self.replication_conn_id).user if self.admin_conn_id else None
        )
        backend = get_backend(self.control_plane_conn_id)
        clones = backend.list_clusters(qa_tags(self.blue_cluster_id))
        retire = clones_to_retire(clones, self.current_cluster_id, keep)
        blue, failed = retire_qa_clones(
            backend,
            lambda: ClusterAccess(self.control_plane_conn_id, self.admin_conn_id).sql(
                self.blue_cluster_id, "blue"
            ),
            self.blue_cluster_id,
            retire,
            user,
        )
        retired_ids = {clone.cluster_id for clone in retire}
        kept = sorted(c.cluster_id for c in clones if c.cluster_id not in retired_ids)
        self.log.info("QA clones of %s now: %s (keep_previous=%d)", self.blue_cluster_id, kept, keep)
        if failed:
            raise CleanupIncomplete(f"could not retire {len(failed)} QA clones: {'; '.join(failed)}")
        return {"kept": kept, "retired": sorted(retired_ids), "blue": blue}
