"""End to end with a real Celery worker, a fake Twilio and an SMTP sink: MDR staff raise an incident's
severity in the API to one the customer's policy notifies at, and the customer is phoned and emailed without
anyone starting notification; raising it again starts no second round."""

from __future__ import annotations

import pytest

from escalation.models import NotificationRun, RunPurpose
from incidents.models import EventKind
from tenants.services import tenant_update_settings
from tests.factories import as_user, make_analyst, make_incident, make_tenant
from tests.test_escalation_integration import dialed, ringing_call
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def worker_settings() -> dict[str, str]:
    return {}


def test_a_raise_to_a_notified_severity_phones_and_emails_the_customer(phone, twilio, smtp) -> None:
    tenant = make_tenant(phones=2)
    tenant_update_settings(tenant=tenant, by=None, notify_from_severity="high")
    incident = make_incident(tenant, severity="low")
    client = as_user(make_analyst())

    raised = client.patch(f"/api/v1/incidents/{incident.pk}/", {"severity": "critical"}, format="json")

    assert raised.status_code == 200
    first = ringing_call(incident, 1)
    assert dialed(twilio, incident)[0] == tenant.contacts.order_by("call_order").first().phone.as_e164
    address = tenant.contacts.order_by("call_order").first().email
    wait_for(lambda: smtp.to(address), what="the notification email")
    started = incident.events.get(kind=EventKind.NOTIFICATION_STARTED)
    assert "Critical severity" in started.summary
    # Lowered and raised again while the round runs: still one round.
    client.patch(f"/api/v1/incidents/{incident.pk}/", {"severity": "medium"}, format="json")
    client.patch(f"/api/v1/incidents/{incident.pk}/", {"severity": "high"}, format="json")
    phone.status(first, "no-answer")
    ringing_call(incident, 2)
    assert NotificationRun.objects.filter(incident=incident, purpose=RunPurpose.NOTIFY).count() == 1
