"""Tell the approver: the approval's subject, key figures and a link to it, through any notifier.

``ApprovalOperator`` (like every HITL operator) runs its ``notifiers`` right after it has stored
the request, so the link in the message already works when it arrives. ``ApprovalNotifier`` wraps
an ordinary Airflow notifier, builds the message from the running approval task, puts it into
the notifier's fields and sends it::

    approve = ApprovalOperator(
        ...,
        notifiers=[
            approval_email(to="dba-oncall@example.com"),
            ApprovalNotifier(SlackWebhookNotifier(slack_webhook_conn_id="slack"), fields={"text": "text"}),
        ],
    )

The key figures are the rows of the Markdown table in the approval's body (lag, positions,
endpoint, and whatever else the DAG puts there), so the message always agrees with the UI.

A message that cannot be sent (SMTP down, a wrong connection) is logged as a warning and the
approval keeps waiting in the UI: a mail outage must not fail a deployment. Pass
``fail_on_error=True`` to fail the approval task instead.
"""

from __future__ import annotations

import copy
import html
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

# Read by ``approval_notifiers_from_env`` when a DAG file is parsed.
APPROVERS_ENV = "AURORA_BLUEGREEN_APPROVERS"
SMTP_CONN_ENV = "AURORA_BLUEGREEN_SMTP_CONN_ID"

# The parts of a message that ``ApprovalNotifier`` can put into a notifier's fields.
MESSAGE_PARTS = ("subject", "text", "markdown", "html", "link")

# Which fields of well-known notifiers receive which part, by class name, so the common cases
# need no ``fields`` argument.
DEFAULT_FIELDS: dict[str, dict[str, str]] = {
    "SmtpNotifier": {"subject": "subject", "html_content": "html"},
    "SlackNotifier": {"text": "text"},
    "SlackWebhookNotifier": {"text": "text"},
    "ChimeNotifier": {"message": "markdown"},
}

_SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_INLINE_CODE = re.compile(r"`([^`]*)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


@dataclass(frozen=True)
class ApprovalMessage:
    """What the approver needs to decide and act: what is asked, the figures, where to answer."""

    subject: str
    summary: str
    """The body without its table(s), as plain Markdown prose."""
    figures: tuple[tuple[str, str], ...]
    """``(label, value)`` rows of the body's table, with Markdown code marks removed."""
    link: str
    """The approval's page in the Airflow UI (Required Actions of this task instance)."""
    options: tuple[str, ...] = ("Approve", "Reject")

    def part(self, name: str) -> str:
        if name not in MESSAGE_PARTS:
            raise ValueError(f"unknown message part {name!r}: choose one of {', '.join(MESSAGE_PARTS)}")
        if name in ("subject", "link"):
            return getattr(self, name)
        return getattr(self, f"as_{name}")()

    def as_text(self) -> str:
        width = max((len(label) for label, _ in self.figures), default=0)
        lines = [self.subject, "", _plain(self.summary), ""]
        lines += [f"  {label:<{width}}  {value}" for label, value in self.figures]
        lines += ["", f"{' or '.join(self.options)} in Airflow: {self.link}"]
        return "\n".join(lines).strip() + "\n"

    def as_markdown(self) -> str:
        lines = [f"**{self.subject}**", "", self.summary.strip(), ""]
        lines += [f"- {label}: {value}" for label, value in self.figures]
        lines += ["", f"[{' or '.join(self.options)} in Airflow]({self.link})"]
        return "\n".join(lines).strip() + "\n"

    def as_html(self) -> str:
        rows = "".join(
            f'<tr><th align="left" style="padding:2px 12px 2px 0">{html.escape(label)}</th>'
            f'<td style="padding:2px 0;font-family:monospace">{html.escape(value)}</td></tr>'
            for label, value in self.figures
        )
        paragraphs = "".join(
            f"<p>{_markdown_inline_to_html(paragraph)}</p>"
            for paragraph in re.split(r"\n\s*\n", self.summary.strip())
            if paragraph.strip()
        )
        link = html.escape(self.link, quote=True)
        return (
            f"<html><body><h2>{html.escape(self.subject)}</h2>{paragraphs}"
            f'<table cellspacing="0">{rows}</table>'
            f'<p><a href="{link}">{html.escape(" or ".join(self.options))} in Airflow</a></p>'
            f'<p style="color:#666">{link}</p></body></html>'
        )


def build_approval_message(
    context: Context | Mapping[str, Any], base_url: str | None = None
) -> ApprovalMessage:
    """The message for the approval task running in ``context`` (its subject and body are rendered)."""
    task = context["task"]
    ti = context["ti"] if "ti" in context else context["task_instance"]
    body = getattr(task, "body", None) or ""
    return ApprovalMessage(
        subject=str(getattr(task, "subject", "") or task.task_id),
        summary=body_without_tables(body),
        figures=tuple(markdown_table_rows(body)),
        link=approval_link(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), base_url),
        options=tuple(getattr(task, "options", None) or ("Approve", "Reject")),
    )


def approval_link(
    dag_id: str, run_id: str, task_id: str, map_index: int | None = -1, base_url: str | None = None
) -> str:
    """The Required Actions page of one task instance, where a person answers the approval.

    Unlike ``HITLOperator.generate_link_to_ui`` it keeps a path in ``base_url`` (Airflow served
    under ``/airflow``) and escapes the run id, which holds ``+`` and ``:`` for manual runs.
    """
    path = "/".join(
        [
            "dags",
            quote(dag_id, safe=""),
            "runs",
            quote(run_id, safe=""),
            "tasks",
            quote(task_id, safe=""),
            "required_actions",
        ]
    )
    query = urlencode({"map_index": -1 if map_index is None else map_index})
    return f"{ui_base_url(base_url)}/{path}?{query}"


def ui_base_url(base_url: str | None = None) -> str:
    """Where people reach the Airflow UI: ``base_url``, else ``[api] base_url``, else the api-server's
    own host and port (fine on one machine; set ``[api] base_url`` when people reach it by a name)."""
    if not base_url:
        from airflow.sdk.configuration import conf

        base_url = conf.get("api", "base_url", fallback=None)
        if not base_url:
            host = conf.get("api", "host", fallback="localhost") or "localhost"
            if host in ("0.0.0.0", "::", ""):
                host = "localhost"
            base_url = f"http://{host}:{conf.get('api', 'port', fallback='8080')}"
    return base_url.rstrip("/")


def markdown_table_rows(markdown: str) -> list[tuple[str, str]]:
    """``(label, value)`` for each body row of the Markdown tables in ``markdown``.

    Header rows (the row above ``|---|---|``) and separator rows are left out; the first cell is
    the label and the others, joined by `` · ``, the value; inline code and bold marks are dropped.
    """
    lines = [line.strip() for line in markdown.splitlines()]
    rows = []
    for index, line in enumerate(lines):
        cells = _table_cells(line)
        if cells is None or _is_separator(cells):
            continue
        following = _table_cells(lines[index + 1]) if index + 1 < len(lines) else None
        if following is not None and _is_separator(following):
            continue  # a header row
        label, *values = cells
        rows.append((_plain(label), " · ".join(_plain(value) for value in values if value)))
    return rows


def _table_cells(line: str) -> list[str] | None:
    if not (line.startswith("|") and line.endswith("|") and len(line) > 1):
        return None
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(line[1:-1])]


def _is_separator(cells: list[str]) -> bool:
    return all(_SEPARATOR_CELL.match(cell) for cell in cells)


def body_without_tables(markdown: str) -> str:
    """The body's prose: tables left out, headings kept as paragraphs of their own."""
    kept = []
    for line in markdown.splitlines():
        if line.strip().startswith("|"):
            continue
        heading = re.match(r"^\s*#{1,6}\s+(.*)$", line)
        kept.extend(["", f"{heading.group(1)}:", ""] if heading else [line])
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


class ApprovalNotifier(BaseNotifier):
    """Send the approval's message through another notifier.

    :param notifier: any Airflow notifier, configured as usual (recipients, connection, channel).
        Its own templated fields are rendered first; then the fields named in ``fields`` are set
        to the message, which is not rendered again.
    :param fields: notifier attribute -> message part, one of ``subject``, ``text``,
        ``markdown``, ``html``, ``link``. Defaults exist for ``SmtpNotifier``
        (subject + html_content), ``SlackNotifier`` and ``SlackWebhookNotifier`` (text) and
        ``ChimeNotifier`` (message).
    :param base_url: the Airflow UI's address for the link; default ``[api] base_url``.
    :param fail_on_error: raise when sending fails (the approval task then fails); default: log a
        warning and keep waiting for the answer in the UI.
    """

    template_fields: Sequence[str] = ("base_url",)

    def __init__(
        self,
        notifier: BaseNotifier,
        fields: Mapping[str, str] | None = None,
        base_url: str | None = None,
        fail_on_error: bool = False,
    ) -> None:
        super().__init__()
        resolved = dict(fields) if fields is not None else DEFAULT_FIELDS.get(type(notifier).__name__)
        if not resolved:
            raise ValueError(
                f"ApprovalNotifier does not know which fields of {type(notifier).__name__} to fill; "
                'pass fields={"<attribute>": "text"} (parts: ' + ", ".join(MESSAGE_PARTS) + ")"
            )
        for attribute, part in resolved.items():
            if part not in MESSAGE_PARTS:
                raise ValueError(
                    f"fields[{attribute!r}]={part!r} is invalid: must be one of {', '.join(MESSAGE_PARTS)}"
                )
        self.notifier = notifier
        self.fields = resolved
        self.base_url = base_url
        self.fail_on_error = fail_on_error

    def notify(self, context: Context) -> None:
        try:
            message = build_approval_message(context, self.base_url)
            # A copy, so the configured notifier stays a template for the next run.
            target = copy.copy(self.notifier)
            target.render_template_fields(context)
            for attribute, part in self.fields.items():
                setattr(target, attribute, message.part(part))
            target.notify(context)
        except Exception as error:
            if self.fail_on_error:
                raise
            self.log.warning(
                "Could not send the approval notice through %s (%s: %s); the approval still waits "
                "in the UI under Required Actions",
                type(self.notifier).__name__,
                type(error).__name__,
                error,
            )
            return
        self.log.info("Sent the approval notice through %s: %s", type(self.notifier).__name__, message.link)


def approval_email(
    to: str | Iterable[str],
    *,
    smtp_conn_id: str | None = None,
    from_email: str | None = None,
    cc: str | Iterable[str] | None = None,
    base_url: str | None = None,
    fail_on_error: bool = False,
) -> ApprovalNotifier:
    """An e-mail through the SMTP provider's ``SmtpNotifier``: subject, figures table and link.

    ``smtp_conn_id`` defaults to ``[email] email_conn_id`` (``smtp_default``); ``from_email`` to
    the connection's ``from_email`` extra.
    """
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return ApprovalNotifier(
        SmtpNotifier(to=to, from_email=from_email, cc=cc, smtp_conn_id=smtp_conn_id),
        base_url=base_url,
        fail_on_error=fail_on_error,
    )


def approval_notifiers_from_env(environ: Mapping[str, str] | None = None) -> list[BaseNotifier]:
    """The approval e-mail when ``$AURORA_BLUEGREEN_APPROVERS`` names recipients, else nothing.

    For a DAG's ``notifiers=``: recipients are separated by commas; the SMTP connection is
    ``$AURORA_BLUEGREEN_SMTP_CONN_ID``, else ``[email] email_conn_id`` (``smtp_default``). Cheap
    enough to call while the DAG file is parsed: it only reads the environment.
    """
    environ = os.environ if environ is None else environ
    recipients = [address.strip() for address in environ.get(APPROVERS_ENV, "").split(",") if address.strip()]
    if not recipients:
        return []
    return [approval_email(to=recipients, smtp_conn_id=environ.get(SMTP_CONN_ENV) or None)]


def _plain(markdown: str) -> str:
    return _BOLD.sub(r"\1", _INLINE_CODE.sub(r"\1", markdown)).strip()


def _markdown_inline_to_html(markdown: str) -> str:
    escaped = html.escape(markdown.strip())
    escaped = _INLINE_CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<b>\1</b>", escaped).replace("\n", " ")
