"""The approval notice: its content, how it fills other notifiers, and an e-mail through real SMTP.

The SMTP test starts its own server (aiosmtpd) on 127.0.0.1 and sends through the SMTP provider's
``SmtpNotifier``, so what is checked is the message as a mail client receives it.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import BaseNotifier
from airflow.sdk.exceptions import AirflowException
from local_smtp import Inbox, silent_server, smtp_server

from aurora_bluegreen.notifications import (
    ApprovalNotifier,
    approval_email,
    approval_link,
    approval_notifiers_from_env,
    build_approval_message,
    markdown_table_rows,
)

BODY = """\
Green has caught up with blue. **Approve** freezes writes on blue (read-only).
**Reject** leaves blue untouched.

| | |
|---|---|
| Blue (production) | `blue` |
| Green | `green` at `127.0.0.1:40001` |
| Replication lag | 0 s (threshold 5 s) |
| Green has executed up to | `mysql-bin-changelog.000001:4711` |
| Checks | `orders_not_empty` passed \\| `no_orphans` passed |

### Checks on green
| Check | Result | Time | Detail |
|---|---|---|---|
| `orders_have_customers` | ✅ pass | 0.012 s | 1 row, all true |
| `emails_masked` | ❌ **FAIL** | 0.020 s | 3 of 9 rows are not true |
"""
RUN_ID = "manual__2026-05-01T10:00:00+00:00"


def approval_context(body: str = BODY, subject: str = "Cut over blue to green?") -> dict[str, Any]:
    task = SimpleNamespace(
        task_id="approve_cutover", subject=subject, body=body, options=["Approve", "Reject"]
    )
    ti = SimpleNamespace(
        dag_id="aurora_bluegreen_deployment", run_id=RUN_ID, task_id="approve_cutover", map_index=-1
    )
    return {"task": task, "ti": ti, "task_instance": ti, "run_id": RUN_ID}


def test_table_rows_become_figures_without_code_marks_or_header_rows():
    assert markdown_table_rows(BODY) == [
        ("Blue (production)", "blue"),
        ("Green", "green at 127.0.0.1:40001"),
        ("Replication lag", "0 s (threshold 5 s)"),
        ("Green has executed up to", "mysql-bin-changelog.000001:4711"),
        ("Checks", "orders_not_empty passed | no_orphans passed"),
        ("orders_have_customers", "✅ pass · 0.012 s · 1 row, all true"),
        ("emails_masked", "❌ FAIL · 0.020 s · 3 of 9 rows are not true"),
    ]


def test_message_carries_subject_figures_and_an_escaped_link():
    message = build_approval_message(approval_context(), base_url="https://airflow.example.com/airflow/")

    assert message.subject == "Cut over blue to green?"
    assert message.summary.startswith("Green has caught up with blue.")
    assert "|" not in message.summary and "#" not in message.summary
    assert message.summary.endswith("Checks on green:")
    assert message.link == (
        "https://airflow.example.com/airflow/dags/aurora_bluegreen_deployment/runs/"
        "manual__2026-05-01T10%3A00%3A00%2B00%3A00/tasks/approve_cutover/required_actions?map_index=-1"
    )
    text = message.as_text()
    assert "Replication lag" in text and "mysql-bin-changelog.000001:4711" in text
    assert text.rstrip().endswith(message.link)
    assert f"]({message.link})" in message.as_markdown()


def test_html_escapes_everything_taken_from_the_body():
    body = "Look <b>here</b>\n\n| | |\n|---|---|\n| Endpoint | `<script>alert(1)</script>` |\n"
    html = build_approval_message(approval_context(body=body), base_url="http://127.0.0.1:8080").as_html()

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Look &lt;b&gt;here&lt;/b&gt;" in html


def test_link_falls_back_to_the_api_servers_own_address(monkeypatch):
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__API__HOST", "0.0.0.0")
    monkeypatch.setenv("AIRFLOW__API__PORT", "28080")
    assert approval_link("d", "r", "t").startswith("http://localhost:28080/dags/d/runs/r/tasks/t/")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://af.example.com/")
    assert (
        approval_link("d", "r", "t", 3)
        == "https://af.example.com/dags/d/runs/r/tasks/t/required_actions?map_index=3"
    )


@dataclass
class RecordingNotifier(BaseNotifier):
    """Stands in for any Airflow notifier: records its fields at the moment it sends."""

    channel: str = "{{ run_id }}"
    text: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    fail: bool = False
    template_fields = ("channel", "text")

    def __post_init__(self) -> None:
        BaseNotifier.__init__(self)

    def notify(self, context: Any) -> None:
        if self.fail:
            raise ConnectionRefusedError("no route to the chat service")
        self.sent.append({"channel": self.channel, "text": self.text})


def test_wrapped_notifier_renders_its_own_fields_but_not_the_message():
    sent: list[dict[str, str]] = []
    # A body that looks like a template must arrive as written, not be rendered a second time.
    body = "Run `{{ run_id }}` now.\n\n| | |\n|---|---|\n| Lag | 0 s |\n"
    notifier = ApprovalNotifier(RecordingNotifier(sent=sent), fields={"text": "text"}, base_url="http://af")

    notifier(approval_context(body=body))

    assert len(sent) == 1
    assert sent[0]["channel"] == RUN_ID
    assert "Run {{ run_id }} now." in sent[0]["text"]
    assert "http://af/dags/aurora_bluegreen_deployment/runs/" in sent[0]["text"]
    # The configured notifier is a template: it is left as it was for the next run.
    assert notifier.notifier.channel == "{{ run_id }}"


def test_a_failed_delivery_is_logged_and_the_approval_keeps_waiting(capsys):
    quiet = ApprovalNotifier(RecordingNotifier(fail=True), fields={"text": "text"}, base_url="http://af")
    quiet(approval_context())  # Airflow's task logger writes to stdout here
    assert "still waits in the UI under Required Actions" in capsys.readouterr().out

    strict = ApprovalNotifier(
        RecordingNotifier(fail=True), fields={"text": "text"}, base_url="http://af", fail_on_error=True
    )
    with pytest.raises(ConnectionRefusedError):
        strict(approval_context())


def test_unknown_notifier_or_message_part_is_refused_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match=r"does not know which fields of RecordingNotifier"):
        ApprovalNotifier(RecordingNotifier())
    with pytest.raises(ValueError, match=r"fields\['text'\]='body' is invalid"):
        ApprovalNotifier(RecordingNotifier(), fields={"text": "body"})


def test_notifiers_from_the_environment():
    assert approval_notifiers_from_env({}) == []
    assert approval_notifiers_from_env({"AURORA_BLUEGREEN_APPROVERS": " , "}) == []
    (notifier,) = approval_notifiers_from_env(
        {
            "AURORA_BLUEGREEN_APPROVERS": "a@example.com, b@example.com",
            "AURORA_BLUEGREEN_SMTP_CONN_ID": "mail",
        }
    )
    assert notifier.notifier.to == ["a@example.com", "b@example.com"]
    assert notifier.notifier.smtp_conn_id == "mail"
    assert notifier.fields == {"subject": "subject", "html_content": "html"}


# -- e-mail through a real SMTP server --------------------------------------------------------


@pytest.fixture
def inbox(monkeypatch) -> Iterator[Inbox]:
    with smtp_server(timeout=5) as (received, connection):
        monkeypatch.setenv("AIRFLOW_CONN_APPROVAL_SMTP", json.dumps(connection))
        yield received


def html_part(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, message
    return part.get_content()


def test_approval_email_arrives_with_subject_figures_and_the_link(inbox):
    notifier = approval_email(
        to="dba-oncall@example.com", smtp_conn_id="approval_smtp", base_url="http://127.0.0.1:28080"
    )
    notifier(approval_context())

    # Sending is done when the notifier returns: the server has accepted the mail, once.
    assert inbox.arrived.is_set(), "the server had accepted no mail when the notifier returned"
    (message,) = inbox.messages
    assert message["Subject"] == "Cut over blue to green?"
    assert message["To"] == "dba-oncall@example.com"
    assert message["From"] == "airflow@example.com"
    body = html_part(message)
    for figure in (
        "Replication lag",
        "0 s (threshold 5 s)",
        "mysql-bin-changelog.000001:4711",
        "127.0.0.1:40001",
    ):
        assert figure in body
    links = re.findall(r'href="([^"]+)"', body)
    assert links == [
        "http://127.0.0.1:28080/dags/aurora_bluegreen_deployment/runs/"
        "manual__2026-05-01T10%3A00%3A00%2B00%3A00/tasks/approve_cutover/required_actions?map_index=-1"
    ]


def test_a_server_that_never_answers_fails_the_notice_after_one_attempt(monkeypatch):
    # The server accepts the connection and never greets: the connection's timeout ends the wait,
    # and retry_limit 0 means no second attempt. With fail_on_error, the task gets the error.
    with silent_server(timeout=1) as (server, connection):
        monkeypatch.setenv("AIRFLOW_CONN_SILENT_SMTP", json.dumps(connection))
        notifier = approval_email(
            to="dba-oncall@example.com", smtp_conn_id="silent_smtp", base_url="http://af", fail_on_error=True
        )
        with pytest.raises(AirflowException, match="Unable to connect to smtp server"):
            notifier(approval_context())
    assert len(server.accepted) == 1, "the notifier tried again although retry_limit is 0"
