"""Using a signed email link: the contact acknowledges, or grants or declines exactly the link's actions."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from escalation.acknowledgments.services import acknowledgment_record
from escalation.links.tokens import Link, LinkError, LinkPurpose, LinkTarget, link_consume, link_target
from escalation.partners.texts import partner_task_link_acknowledge
from incidents.authorizations import authorization_record
from incidents.models import Authorization, Channel
from mdrportal.core.retry import retried_atomic


def link_use(
    *,
    link: Link,
    granted: bool,
    shown_digest: str = "",
    statement: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
) -> LinkTarget:
    """Record what the contact decided through the link, consuming it in the same transaction.

    An acknowledgment link only confirms; an authorization link grants or declines exactly its actions,
    with the text the page showed (the posted digest must match it: otherwise the decision would be on
    something the contact did not see).
    """
    if link.purpose in (LinkPurpose.ACK, LinkPurpose.TASK_ACK) and not granted:
        raise LinkError("refused", "An acknowledgment link can only confirm.")
    target = link_target(link)
    if link.purpose is LinkPurpose.AUTHORIZE and shown_digest != target.digest:
        raise LinkError("stale", "The actions or the incident changed since the page was shown.")
    try:
        _decide(
            link=link,
            target=target,
            granted=granted,
            statement=statement,
            ip_address=ip_address,
            user_agent=user_agent,
        )
    except ValidationError as error:
        # The services re-check under their locks; what they refuse leaves the link unused.
        fields = error.message_dict if hasattr(error, "error_dict") else {}
        reason = "stale" if "actions" in fields else "refused"
        if getattr(error, "code", None) == "incident_closed":
            reason = "closed"
        raise LinkError(reason, " ".join(error.messages)) from error
    return target


@retried_atomic
def _decide(
    *, link: Link, target: LinkTarget, granted: bool, statement: str, ip_address: str | None, user_agent: str
) -> None:
    """The link consumed and the decision recorded, in one transaction: a used link always decided."""
    link_consume(link)
    if link.purpose is LinkPurpose.ACK:
        acknowledgment_record(incident=target.incident, channel=Channel.EMAIL_LINK, contact=target.contact)
        return
    if link.purpose is LinkPurpose.TASK_ACK:
        # The partner's task only: the customer's incident, calls and fallback are not touched.
        partner_task_link_acknowledge(
            incident=target.incident, task=target.actions[0], contact=target.contact
        )
        return
    authorization_record(
        incident=target.incident,
        actions=target.actions,
        decision=Authorization.Decision.GRANTED if granted else Authorization.Decision.DECLINED,
        channel=Channel.EMAIL_LINK,
        text_shown=target.text,
        contact=target.contact,
        statement=statement.strip(),
        ip_address=ip_address,
        user_agent=user_agent,
    )
