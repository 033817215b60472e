"""The approved cutover from blue to green, as one task so no scheduler delay falls in the freeze."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from aurora_bluegreen import validation
from aurora_bluegreen.errors import ClusterStateError, NotManagedByUs
from aurora_bluegreen.freeze_methods import FREEZE_METHODS, PARAMETER_GROUP, RDS_SET_READ_ONLY
from aurora_bluegreen.links import CutoverReportLink
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.operators.cluster_task import BlueGreenTask
from aurora_bluegreen.ownership import is_ours, may_become_writer


class CutoverOperator(BlueGreenTask):
    """Freeze blue, wait until green executed blue's final position, then make green the writer.

    Phases (each timed and logged): guardrails, blue read-only, blue's final position,
    green reaches exactly that position, stop replication, reset the external source, green
    writable, repoint the application. If a phase fails or green is not writable within
    ``max_freeze_seconds``, it rolls back (green replicating and read-only again, blue writable)
    and the task fails with the reason.

    With ``reverse_replication`` (the default), old blue then replicates from green, starting at
    the exact point green began taking writes, so switching back (this operator with blue and green
    swapped) loses no write either.

    :return: ``CutoverReport`` as a dict; it is also logged as a table.
    """

    template_fields: Sequence[str] = (
        *BlueGreenTask.template_fields,
        "max_freeze_seconds",
        "max_lag_seconds",
        "repoint",
        "replication_conn_id",
        "expected_green_writes",
        "application_users",
        "freeze_method",
        "quiet_seconds",
    )
    ui_color = "#f4cccc"
    operator_extra_links = (CutoverReportLink(),)

    def __init__(
        self,
        *,
        replication_conn_id: str,
        max_freeze_seconds: float = 10,
        max_lag_seconds: float = 5,
        repoint: str = "none",
        approval_task_id: str | Sequence[str] | None = None,
        max_transaction_seconds: float = 60,
        reverse_replication: bool = True,
        consistency_check_max_rows: int = 1_000_000,
        expected_green_writes: Sequence[str] | None = None,
        application_users: Sequence[str] | None = None,
        max_statement_seconds: float = 5,
        freeze_method: str = RDS_SET_READ_ONLY,
        quiet_seconds: float = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.freeze_method = freeze_method
        self.quiet_seconds = quiet_seconds
        self.application_users = application_users
        self.max_statement_seconds = max_statement_seconds
        self.replication_conn_id = replication_conn_id
        self.max_freeze_seconds = max_freeze_seconds
        self.max_lag_seconds = max_lag_seconds
        self.repoint = repoint
        self.approval_task_id = approval_task_id
        self.max_transaction_seconds = max_transaction_seconds
        self.reverse_replication = reverse_replication
        self.consistency_check_max_rows = consistency_check_max_rows
        self.expected_green_writes = expected_green_writes

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.errors import CutoverFailed

        cutover = self._assemble(context, self._check_inputs())
        try:
            report = cutover.run()
        except CutoverFailed as failure:
            self.log.error("Cutover failed; what happened:\n%s", failure.report.as_table())
            # Kept for whoever sums up a run (the fleet's summary): a failed task returns nothing.
            # Outside Airflow (the benchmarks call the operator directly) there is no task instance.
            if "ti" in context:
                context["ti"].xcom_push(key="failure", value=failure.report.to_dict())
            raise
        self._mark_the_writer()
        self.log.info(
            "Cutover from %s to %s done:\n%s", self.blue_cluster_id, self.green_cluster_id, report.as_table()
        )
        if report.consistency and not report.consistency["consistent"]:
            raise AirflowFailException(
                "the cutover completed, but green differs from blue at the cutover point: "
                + "; ".join(report.consistency["mismatched"])
            )
        return report.to_dict()

    def _mark_the_writer(self) -> None:
        """Tag our clone as the writer (or as switched back from): a later teardown must never
        take the new production writer for a leftover, whatever state old blue is in."""
        from datetime import datetime, timezone

        from aurora_bluegreen.ownership import writer_tags

        backend = self._access().backend
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        target, source = backend.describe(self.green_cluster_id), backend.describe(self.blue_cluster_id)
        marks = writer_tags(target.tags, source.tags, now)
        for role, cluster in (("target", target), ("source", source)):
            if role in marks:
                backend.add_tags(cluster.cluster_id, marks[role])
                self.log.info("Tagged %s %s", cluster.cluster_id, marks[role])

    def _check_inputs(self) -> validation.ReplicationCredentials:
        """Everything refused before anything changes; returns the replication user's credentials."""
        from aurora_bluegreen.repointers.registry import parse_repoint_target

        self._check_pair()
        for field in (
            "max_freeze_seconds",
            "max_lag_seconds",
            "max_transaction_seconds",
            "max_statement_seconds",
            "quiet_seconds",
        ):
            validation.positive_number(field, getattr(self, field))
        validation.one_of("freeze_method", self.freeze_method, FREEZE_METHODS)
        for user in self.application_users or ():
            validation.mysql_user_name("application_users", user)
        parse_repoint_target(self.repoint)
        return validation.replication_credentials(self.replication_conn_id)

    def _assemble(self, context: Any, replication: validation.ReplicationCredentials) -> Any:
        """The domain's Cutover, with both clusters, the repointer and the limits; refuses a target
        that is neither our clone nor the cluster our clone came from."""
        from aurora_bluegreen.cutover import Cutover, CutoverLimits
        from aurora_bluegreen.freeze_ledger import TagFreezeLedger
        from aurora_bluegreen.models import SourceEndpoint
        from aurora_bluegreen.repointers.registry import repointer_for

        access = self._access()
        blue_info = access.backend.describe(self.blue_cluster_id)
        green_info = access.backend.describe(self.green_cluster_id)
        if not may_become_writer(self.green_cluster_id, green_info.tags, blue_info.tags):
            raise NotManagedByUs(
                f"{self.green_cluster_id} was not created by aurora-bluegreen, nor is it the source "
                f"of {self.blue_cluster_id}; refusing to make it writable"
            )
        blue, green = access.sql(self.blue_cluster_id, "blue"), access.sql(self.green_cluster_id, "green")
        self._refuse_impossible_freeze(access, blue, green)
        consented = self.freeze_method == PARAMETER_GROUP
        # Both directions (reverse replication, and green back on blue in a rollback) use TLS only
        # where both clusters offer it and can use it.
        tls = all(hook.offers_tls() and hook.can_encrypt_replication for hook in (blue, green))
        return Cutover(
            blue_cluster_id=self.blue_cluster_id,
            green_cluster_id=self.green_cluster_id,
            blue=blue,
            blue_freeze=access.blue_freeze(
                self.freeze_method, self.blue_cluster_id, blue, float(self.quiet_seconds)
            ),
            green=green,
            green_read_only=access.read_only_switch(self.green_cluster_id, green, user_consented=consented),
            green_parameter_group=access.persistent_read_only(
                self.green_cluster_id, user_consented=consented
            ),
            green_host=green_info.endpoint,
            green_port=green_info.port,
            repointer=repointer_for(self.repoint, access.backend),
            expected_green_writes=tuple(self.expected_green_writes or ()),
            application_users=tuple(self.application_users or ()),
            source_for_rollback=SourceEndpoint(
                blue_info.endpoint, blue_info.port, replication.user, replication.password, tls=tls
            ),
            limits=CutoverLimits(
                float(self.max_freeze_seconds),
                float(self.max_lag_seconds),
                float(self.max_transaction_seconds),
                float(self.max_statement_seconds),
            ),
            # Tags on our clone of the pair (green, or blue when switching back): a retry finds them.
            freeze_ledger=TagFreezeLedger(
                access.backend, self.green_cluster_id if is_ours(green_info.tags) else self.blue_cluster_id
            ),
            approved=self._approved(context),
            reverse_replication=self.reverse_replication,
            # An upgraded green: reverse replication runs newer -> older, promised only within limits.
            green_engine_newer=green.server_version.number > blue.server_version.number,
            consistency=self._consistency_check(access),
        )

    def _refuse_impossible_freeze(self, access: ClusterAccess, blue: Any, green: Any) -> None:
        """Before anything changes: the chosen freeze method must work on this blue, in the budget."""
        refusal = access.freeze_refusal(
            self.freeze_method,
            self.blue_cluster_id,
            blue,
            green_switch_by_sql=green.can_set_read_only,
            max_freeze_seconds=float(self.max_freeze_seconds),
            quiet_seconds=float(self.quiet_seconds),
        )
        if refusal:
            raise ClusterStateError(refusal)

    def _consistency_check(self, access: ClusterAccess) -> Any:
        """Separate connections: the snapshots must outlive the replication resets on green."""
        if not self.consistency_check_max_rows:
            return None
        from aurora_bluegreen.consistency import ConsistencyCheck

        return ConsistencyCheck(
            blue=access.sql(self.blue_cluster_id, "blue"),
            green=access.sql(self.green_cluster_id, "green"),
            max_rows=int(self.consistency_check_max_rows),
        )

    def _approved(self, context: Any) -> bool | None:
        """Whether an approval task upstream chose Approve; None when no approval task is named.

        Of several named approvals (the fleet asks per wave or per cluster), the one that was asked
        decides; in a mapped task group an approval's answer is the one at this task's map index.
        """
        if not self.approval_task_id:
            return None
        ti = context["ti"]
        task_ids = (
            [self.approval_task_id] if isinstance(self.approval_task_id, str) else self.approval_task_id
        )
        for task_id in task_ids:
            for map_index in dict.fromkeys((ti.map_index, -1)):
                answer = ti.xcom_pull(task_ids=task_id, map_indexes=map_index)
                if answer:
                    return answer.get("chosen_options") == ["Approve"]
        return False


class VerifyCutoverOperator(BlueGreenTask):
    """Check the end state, as it is now and as it will be after a reboot.

    Green writable, no longer a replica, and its parameter group saying read_only=0 (a reboot or
    failover must not make production read-only); blue read-only, and none of its own writes since
    the cutover (its freeze is a runtime switch a reboot forgets: a write there would be on no
    writer the application uses, and a switch back would refuse it).
    """

    ui_color = "#d9d2e9"
    operator_extra_links = (CutoverReportLink(),)
    template_fields: Sequence[str] = (*BlueGreenTask.template_fields, "freeze_method")

    def __init__(self, *, freeze_method: str = RDS_SET_READ_ONLY, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.freeze_method = freeze_method

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.freeze_methods import APPLICATION_STOPS
        from aurora_bluegreen.guardrail_facts import green_local_writes

        validation.one_of("freeze_method", self.freeze_method, FREEZE_METHODS)

        access = self._access()
        blue = access.sql(self.blue_cluster_id, "blue")
        green = access.sql(self.green_cluster_id, "green")
        group = access.backend.parameter_status(self.green_cluster_id).get("read_only")
        # Old blue replicates from green: a GTID of its own that green lacks is a local write.
        old_blue_writes = green_local_writes(blue=green, green=blue)
        state = {
            "green_writable": not green.read_only(),
            "green_replication_reset": green.replica_status() is None,
            "green_writable_after_reboot": group is None or group.value == "0",
            "blue_read_only": blue.read_only(),
            "blue_took_no_writes_of_its_own": not old_blue_writes,
        }
        # Nothing switched blue: the application keeping away from it is what keeps it unwritten.
        required = {
            name for name in state if name != "blue_read_only" or self.freeze_method != APPLICATION_STOPS
        }
        problems = [name for name, ok in state.items() if not ok and name in required]
        if problems:
            detail = f" (old blue's own writes: {', '.join(old_blue_writes)})" if old_blue_writes else ""
            raise ClusterStateError(
                f"cutover end state is wrong: {', '.join(problems)} not true ({state}){detail}"
            )
        self.log.info(
            "Verified: %s is writable, no longer replicates, and stays writable after a reboot; %s is "
            "%s and took no writes of its own",
            self.green_cluster_id,
            self.blue_cluster_id,
            "read-only" if state["blue_read_only"] else "writable (freeze_method=application_stops)",
        )
        return state
