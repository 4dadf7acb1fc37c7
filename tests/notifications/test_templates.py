"""Golden files of every mail template (plain text and HTML) and the headers of a message.

The expected renderings live in tests/notifications/golden/mail/; after an intended change of a template, run
`SYNERGIES_UPDATE_GOLDEN=1 pytest tests/notifications/test_templates.py` and review the diff.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path

import pytest

from core.settings import Settings
from services.notification_messages import (
    ActionLink,
    DigestEntry,
    Recipient,
    Why,
    email_message,
    render,
    render_digest,
)
from tests.notifications.samples import SAMPLES

GOLDEN = Path(__file__).parent / "golden" / "mail"
UPDATE = os.environ.get("SYNERGIES_UPDATE_GOLDEN") == "1"
SETTINGS = Settings(public_url="https://tracker.brs.example.org", smtp_from="tracker@brs.example.org")
LINKS = (
    ActionLink("Acknowledge", "https://tracker.brs.example.org/notifications/actions/ACK-TOKEN"),
    ActionLink("Snooze 7 days", "https://tracker.brs.example.org/notifications/actions/SNOOZE-TOKEN"),
)

CASES = {
    "move-lead": ("move", Recipient("Amina Diallo", Why.LEAD), ()),
    "move-coordinator": ("move", Recipient("Jean Martin", Why.COORDINATOR, ("basel",)), ()),
    "edit-lead": ("edit", Recipient("Amina Diallo", Why.LEAD), ()),
    "reminder-lead": ("reminder", Recipient("Amina Diallo", Why.LEAD), LINKS),
    "reminder-today-lead": ("reminder_today", Recipient("Amina Diallo", Why.LEAD), LINKS),
    "overdue-coordinators-group": ("overdue", Recipient(None, Why.COORDINATORS_GROUP), ()),
    "management-member": ("management", Recipient("Rolph Payet", Why.MANAGEMENT), ()),
    "report-ready-coordinator": ("report_ready", Recipient("Jean Martin", Why.COORDINATOR), ()),
}


def check(name: str, content: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    assert path.exists(), f"no golden file {path}; run with SYNERGIES_UPDATE_GOLDEN=1"
    assert content == path.read_text(), f"{name} differs from its golden file"


@pytest.mark.parametrize("case", list(CASES))
def test_each_template_renders_as_its_golden_file(case: str) -> None:
    sample, recipient, links = CASES[case]
    rendered = render(SAMPLES[sample], recipient, SETTINGS, links)
    check(f"{case}.txt", f"Subject: {rendered.subject}\n\n{rendered.text}")
    check(f"{case}.html", rendered.html)


def test_the_digest_renders_as_its_golden_file() -> None:
    changes = [
        DigestEntry(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), SAMPLES["move"]),
        DigestEntry(datetime(2026, 12, 1, 15, 30, tzinfo=UTC), SAMPLES["edit"]),
    ]
    due = [
        {
            "id": 31,
            "title": "Joint clearing-house mechanism",
            "stage_name": "task team",
            "due_on": "2026-11-20",
            "days_overdue": 12,
            "url": "https://tracker.brs.example.org/app/activities/31",
        },
        {
            "id": 26,
            "title": "Regional synergies workshops",
            "stage_name": "pilot project",
            "due_on": "2026-12-10",
            "days_overdue": -8,
            "url": "https://tracker.brs.example.org/app/activities/26",
        },
    ]
    rendered = render_digest(SETTINGS, "Amina Diallo", date(2026, 12, 2), True, changes, due)
    assert (
        rendered.subject
        == "Synergies Tracker weekly digest, 2 December 2026: 2 updates, 2 due soon or overdue"
    )
    check("digest-weekly.txt", f"Subject: {rendered.subject}\n\n{rendered.text}")
    check("digest-weekly.html", rendered.html)


def test_values_from_people_are_escaped_in_html_but_not_in_text() -> None:
    message = dict(SAMPLES["move"], reason='<script>alert("x")</script> & more')
    message["activity"] = dict(message["activity"], title="Waste <b>bold</b> & co")
    rendered = render(message, Recipient("A <b>", Why.LEAD), SETTINGS)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "Waste &lt;b&gt;bold&lt;/b&gt; &amp; co" in rendered.html
    assert '<script>alert("x")</script> & more' in rendered.text


def on_the_wire(mail: Message) -> EmailMessage:
    """The mail as a client reads it: its bytes parsed again."""
    return message_from_bytes(mail.as_bytes(), policy=policy.default)  # type: ignore[return-value]


def test_text_that_is_not_ascii_reaches_the_reader_intact() -> None:
    message = dict(
        SAMPLES["move"], reason="Réunion à Genève — ok", subject="Atelier régional — Côte d’Ivoire avancé"
    )
    message["activity"] = dict(message["activity"], title="Atelier régional — Côte d’Ivoire")
    rendered = render(message, Recipient("Amélie Ngüema", Why.LEAD), SETTINGS)
    mail = on_the_wire(
        email_message(
            SETTINGS,
            rendered,
            to="amelie@brs.example.org",
            key="activity-26/t4/email/amelie@brs.example.org",
            activity_id=26,
            activity_title="Atelier régional — Côte d’Ivoire",
            now=datetime(2026, 12, 2, tzinfo=UTC),
        )
    )
    assert mail["Subject"] == rendered.subject and "Côte d’Ivoire" in mail["Subject"]
    assert mail["Thread-Topic"] == "Atelier régional — Côte d’Ivoire"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Réunion à Genève — ok" in text and text == rendered.text
    assert mail.get_body(("html",)).get_content() == rendered.html  # type: ignore[union-attr]


def test_the_mail_has_the_headers_clients_need_to_show_thread_and_filter_it() -> None:
    rendered = render(SAMPLES["move"], Recipient("Amina Diallo", Why.LEAD), SETTINGS)
    now = datetime(2026, 12, 2, 10, 41, 5, tzinfo=UTC)
    mail = on_the_wire(
        email_message(
            SETTINGS,
            rendered,
            to="amina.diallo@brs.example.org",
            key="activity-26/t4/email/amina.diallo@brs.example.org",
            activity_id=26,
            activity_title="Regional synergies workshops",
            now=now,
        )
    )
    assert mail["From"] == "Synergies Tracker <tracker@brs.example.org>"
    assert mail["Subject"] == "Regional synergies workshops moved to pilot project"
    assert mail["Date"] == "Wed, 02 Dec 2026 10:41:05 +0000"
    assert mail["Message-ID"].endswith("@tracker.brs.example.org>")
    assert mail["In-Reply-To"] == mail["References"] == "<activity-26@tracker.brs.example.org>"
    assert mail["Thread-Topic"] == "Regional synergies workshops"
    assert mail["List-Unsubscribe"] == "<https://tracker.brs.example.org/app/settings/notifications>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail.get_body(("plain",)).get_content() == rendered.text  # type: ignore[union-attr]
    assert mail.get_body(("html",)).get_content() == rendered.html  # type: ignore[union-attr]
    other = on_the_wire(
        email_message(
            SETTINGS,
            rendered,
            to="jean.martin@brs.example.org",
            key="activity-26/t4/email/jean.martin@brs.example.org",
            activity_id=26,
            activity_title=None,
            now=now,
        )
    )
    assert other["Message-ID"] != mail["Message-ID"]  # one per mail, one thread per activity
    assert other["References"] == mail["References"]
