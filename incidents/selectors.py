"""Reads of incidents, actions and timelines, and the facts the gate decides on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from django.db.models import QuerySet

from incidents.gate import ActionFacts, Decision, Facts, decide_safely
from incidents.models import (
    ActionStatus,
    ActionType,
    Authorization,
    Category,
    Incident,
    ResponseAction,
    TimelineEvent,
)
from mdrportal.core.users import AnyUser
from tenants.models import IntegrationKey
from tenants.selectors import integration_key_tenants, tenants_for_user


def gate_facts(action: ResponseAction) -> Facts:
    authorization = action.authorization
    return Facts(
        authorized=authorization is not None and authorization.decision == Authorization.Decision.GRANTED,
        fallback_taken=action.incident.fallback_taken_at is not None,
        mdr_takes_over=action.taken_over_at is not None,
    )


def gate_decision(action: ResponseAction) -> Decision:
    """The gate's decision for the action given the incident's snapshot and what has happened since."""
    facts = ActionFacts(
        code=action.action_type.code,
        # The column holds a Category's value; the gate checks it (an unknown one holds the action).
        category=cast(Category, action.action_type.category),
        target=action.target,
    )
    return decide_safely(action.incident.policy, facts, gate_facts(action))


def action_type_by_code(code: str) -> ActionType:
    return ActionType.objects.get(code=code)


def awaiting_authorization(incident: Incident) -> QuerySet[ResponseAction]:
    return incident.actions.filter(status=ActionStatus.AWAITING_AUTHORIZATION).select_related("action_type")


def incidents_for_user(user: AnyUser) -> QuerySet[Incident]:
    return Incident.objects.filter(tenant__in=tenants_for_user(user)).select_related("tenant")


def incidents_for_integration_key(key: IntegrationKey) -> QuerySet[Incident]:
    """What a pipeline may read: the incidents its key opened, while the key still acts for their tenant."""
    return Incident.objects.filter(opened_by_key=key, tenant__in=integration_key_tenants(key)).select_related(
        "tenant"
    )


def incident_timeline(incident: Incident) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(incident=incident).select_related("actor").order_by("at", "id")


def authorization_text(incident: Incident, actions: Iterable[ResponseAction]) -> str:
    """The exact words an approver decides on; stored with the authorization as shown."""
    lines = [
        f"I authorize MDR Ops to perform the following response actions for {incident.tenant.name} "
        f"on incident #{incident.pk} \u201c{incident.title}\u201d:"
    ]
    lines += [f"- {a.action_type.name} on {a.target} (action #{a.pk})" for a in actions]
    return "\n".join(lines)


def action_type_choices() -> list[tuple[str, str]]:
    return list(ActionType.objects.order_by("category", "name").values_list("code", "name"))
