"""Forms of the customer pages (settings, performers, contacts) and the settings page's plain-language help.

The forms only validate input; the writes go through tenants.services. The fallback's phone rule is the
one in tenants.rules, applied here for an early, clear message and again by the service.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from phonenumber_field.formfields import PhoneNumberField

from incidents.gate import ActionFacts, Facts, GateOutcome, Policy, decide
from incidents.models import ActionType, Category
from tenants.channel_fields import channels_field, check_channels_on_form
from tenants.models import Performer, ResponseMode, Tenant, Tier, validate_timezone
from tenants.protected import Protection
from tenants.reach import Reach
from tenants.rules import ContactReach, check_fallback_reachable, has_reachable_phone

PHONE_HELP = "International format with the country code, for example +44 20 7946 0958 or +1 202 555 0100."
PHONE_INVALID = "Enter a valid phone number in international format, starting with + and the country code."
NEEDS_A_WAY = "Give at least a phone number or an email address: otherwise this contact cannot be notified."


class SettingsForm(forms.Form):
    """The response policy a customer admin sets: mode, the fallback checkbox and the call tree's pace."""

    response_mode = forms.ChoiceField(choices=ResponseMode.choices, widget=forms.RadioSelect)
    authorize_on_no_ack = forms.BooleanField(
        required=False,
        label="If you get no acknowledgment after trying every one of our contacts by phone, act as in "
        "Authorize mode",
    )
    call_attempts_per_contact = forms.IntegerField(
        min_value=1, max_value=5, label="Calls to each contact before the next round"
    )
    ring_timeout_seconds = forms.IntegerField(
        min_value=10, max_value=120, label="Let each call ring for (seconds)"
    )
    timezone = forms.CharField(
        max_length=64,
        label="Time zone of your pages",
        validators=[validate_timezone],
        help_text="For example Europe/London or America/New_York.",
    )
    reminder_minutes = forms.IntegerField(min_value=1, max_value=1440, label="Remind us every (minutes)")
    reminder_count = forms.IntegerField(
        min_value=1, max_value=20, label="Reminders before MDR Ops follows up by other means"
    )

    def __init__(
        self, *args: Any, tenant: Tenant, contacts: Sequence[ContactReach], editable: bool, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "initial",
            {
                "response_mode": tenant.response_mode,
                "authorize_on_no_ack": tenant.authorize_on_no_ack,
                "call_attempts_per_contact": tenant.call_attempts_per_contact,
                "ring_timeout_seconds": tenant.ring_timeout_seconds,
                "timezone": tenant.timezone,
                "reminder_minutes": tenant.reminder_minutes,
                "reminder_count": tenant.reminder_count,
            },
        )
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.contacts = list(contacts)
        self.fallback_possible = has_reachable_phone(self.contacts)
        if not editable:
            for field in self.fields.values():
                field.disabled = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, never None
        try:
            check_fallback_reachable(
                authorize_on_no_ack=bool(data.get("authorize_on_no_ack")), contacts=self.contacts
            )
        except ValidationError as error:
            self.add_error("authorize_on_no_ack", error)
        return data

    def changes(self) -> dict[str, Any]:
        """The settings that differ from the tenant's, as keyword arguments of tenant_update_settings."""
        return {
            name: value for name, value in self.cleaned_data.items() if getattr(self.tenant, name) != value
        }


class DelegationForm(forms.Form):
    """What the customer lets its partner's users do for it (tenants.deciding.Delegation)."""

    partner_decides = forms.BooleanField(
        required=False,
        label="Our partner may authorize for us",
        help_text="its approvers and admins authorize, decline and acknowledge for us",
    )
    partner_manages_settings = forms.BooleanField(
        required=False,
        label="Our partner manages our settings",
        help_text="its admins change our response mode, fallback, performers and contacts",
    )

    def __init__(self, *args: Any, tenant: Tenant, editable: bool, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "partner_decides": tenant.partner_decides,
                "partner_manages_settings": tenant.partner_manages_settings,
            },
        )
        super().__init__(*args, **kwargs)
        if not editable:
            for field in self.fields.values():
                field.disabled = True


class PerformersForm(forms.Form):
    """Who performs each action type under Collaborate: MDR Ops, the customer's team, or its partner."""

    def __init__(
        self,
        *args: Any,
        tenant: Tenant,
        action_types: Iterable[ActionType],
        performers: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        choices = [
            (p.value, p.label if p is not Performer.PARTNER else f"Partner: {tenant.partner}")
            for p in Performer
            if p is not Performer.PARTNER or tenant.partner_id is not None
        ]
        self.action_types = list(action_types)
        for action_type in self.action_types:
            current = performers.get(action_type.code, Performer.MDR.value)
            field_choices = choices
            if current not in dict(choices):  # a partner performer left after the partner was removed
                field_choices = [*choices, (current, Performer(current).label)]
            self.fields[self.field_name(action_type.code)] = forms.ChoiceField(
                choices=field_choices, initial=current, label=action_type.name
            )

    @staticmethod
    def field_name(code: str) -> str:
        return f"performer_{code}"

    def rows(self) -> list[tuple[ActionType, forms.BoundField]]:
        return [(t, self[self.field_name(t.code)]) for t in self.action_types]

    def changes(self) -> dict[str, str]:
        """Action code -> new performer, for the action types whose performer changed."""
        return {
            t.code: self.cleaned_data[self.field_name(t.code)]
            for t in self.action_types
            if self.field_name(t.code) in self.changed_data
        }


class ContactForm(forms.Form):
    """A contact's details; its place in the call order is changed with the up and down buttons."""

    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    phone = PhoneNumberField(
        required=False, region=None, help_text=PHONE_HELP, error_messages={"invalid": PHONE_INVALID}
    )
    can_authorize = forms.BooleanField(
        required=False, label="May authorize response actions (in writing, and acknowledge calls)"
    )
    channels = channels_field(
        label="Reach this contact by",
        help_text="A text message carries the incident's title, severity and an acknowledgment link; "
        "replying 1 and the code it gives acknowledges that incident.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, never None
        if not self.errors and not data.get("email") and not data.get("phone"):
            raise ValidationError(NEEDS_A_WAY, code="unreachable")
        check_channels_on_form(self, data)
        return data

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["phone"] = data.get("phone") or ""
        return data


# The plain-language help of the settings page -------------------------------------------------------


@dataclass(frozen=True)
class Consequence:
    heading: str
    names: tuple[str, ...]
    tone: str  # "do" (MDR Ops acts) or "wait" (nothing happens by itself)


@dataclass(frozen=True)
class Explanation:
    """What one choice of settings means at 3 a.m. when nobody answers, as the gate would decide it."""

    scenario: str  # "collaborate", "collaborate-fallback" or "authorize"
    headline: str
    consequences: tuple[Consequence, ...]
    footer: str


def _decisions(
    tenant: Tenant,
    performers: dict[str, str],
    types: Sequence[ActionType],
    *,
    mode: str,
    fallback: bool,
    protection: Protection,
) -> dict[GateOutcome, list[str]]:
    policy = Policy(
        tier=Tier(tenant.tier),
        response_mode=ResponseMode(mode),
        authorize_on_no_ack=fallback,
        performers={code: Performer(p) for code, p in performers.items()},
        protected=protection,
    )
    # Nobody answered, every contact was phoned: the fallback is taken if the checkbox allows it.
    facts = Facts(authorized=False, fallback_taken=fallback)
    outcomes: dict[GateOutcome, list[str]] = {}
    for action_type in types:
        decision = decide(
            policy, ActionFacts(code=action_type.code, category=Category(action_type.category)), facts
        )
        outcomes.setdefault(decision.outcome, []).append(action_type.name)
    return outcomes


def _protected_names(protection: Protection) -> tuple[str, ...]:
    return (
        *(f"host {h}" for h in protection.hosts),
        *(f"addresses {n}" for n in protection.networks),
        *(f"account {a}" for a in protection.accounts),
    )


def _consequences(
    outcomes: dict[GateOutcome, list[str]], tenant: Tenant, protection: Protection | None = None
) -> tuple[Consequence, ...]:
    partner = str(tenant.partner) if tenant.partner_id else "your partner"
    headings = [
        (GateOutcome.EXECUTE, "MDR Ops performs at once:", "do"),
        (
            GateOutcome.AWAIT_AUTHORIZATION,
            "Waits for the written authorization of one of your approvers:",
            "wait",
        ),
        (GateOutcome.RECOMMEND_CUSTOMER, "Recommended to your own team, who performs it:", "wait"),
        (GateOutcome.RECOMMEND_PARTNER, f"Recommended to {partner}, who performs it:", "wait"),
        (
            GateOutcome.NOT_ALLOWED_FOR_TIER,
            f"Customer action required ({Tier(tenant.tier).label} does not include neutralization by MDR Ops):",
            "wait",
        ),
    ]
    listed = tuple(
        Consequence(heading, tuple(outcomes[outcome]), tone)
        for outcome, heading, tone in headings
        if outcomes.get(outcome)
    )
    names = _protected_names(protection) if protection is not None else ()
    if not names:
        return listed
    protected = Consequence(
        "Never touched without the written authorization of one of your approvers (protected):", names, "wait"
    )
    return (*listed, protected)


def explanations(
    tenant: Tenant,
    performers: dict[str, str],
    action_types: Sequence[ActionType],
    phone_contacts: int,
    night: Reach | None = None,
    protection: Protection | None = None,
) -> list[Explanation]:
    """The three texts of the settings page, one per choice, computed with the gate itself; with `night`,
    from whom the contacts' real hours and absences let us phone on a Saturday night at 3 a.m."""
    tries = tenant.call_attempts_per_contact
    calls = f"{tries} call{'s' if tries != 1 else ''}"
    who = f"each of your {phone_contacts} contacts with a phone number" if phone_contacts else "your contacts"
    if night is not None and night.not_phoned and night.phoned:
        who = f"{_names(night.phoned)}, the contacts available then"
    night_text = (
        f"If ransomware is found at 3 a.m. and nobody answers after we have phoned {who} ({calls} each)"
    )
    protection = protection or Protection()
    decisions = functools.partial(_decisions, tenant, performers, action_types, protection=protection)
    collaborate = decisions(mode=ResponseMode.COLLABORATE, fallback=False)
    fallback = decisions(mode=ResponseMode.COLLABORATE, fallback=True)
    authorize = decisions(mode=ResponseMode.AUTHORIZE, fallback=False)
    collaborate_headline = (
        f"{night_text}: we only keep calling and emailing, and our analysts follow the incident. "
        "Nothing is done on your systems until you answer."
    )
    fallback_headline = (
        f"{night_text}: we act as in Authorize mode for that incident, then tell you what we did."
    )
    if night is not None and not night.phoned and night.not_phoned:
        night_text = (
            "If ransomware is found at 3 a.m. on a Saturday night, none of your contacts may be phoned then"
        )
        fallback = collaborate
        collaborate_headline = (
            f"{night_text}: we email you and our analysts follow the incident. Nothing is done on your "
            "systems until you answer."
        )
        fallback_headline = (
            f"{night_text}: nothing falls back. We flag the incident to our analysts, email you and act only "
            "on your written authorization."
        )
    # Only where MDR Ops would act without asking does protection change anything worth listing.
    acting = protection if fallback is not collaborate else None
    return [
        Explanation(
            "collaborate",
            collaborate_headline,
            _consequences(collaborate, tenant),
            "A phone acknowledgment is not an authorization: every action MDR Ops performs needs an "
            "approver's written authorization.",
        ),
        Explanation(
            "collaborate-fallback",
            fallback_headline,
            _consequences(fallback, tenant, acting),
            "If anyone acknowledges, Collaborate applies as usual: actions wait for written authorization.",
        ),
        Explanation(
            "authorize",
            "If ransomware is found, at 3 a.m. or at noon: we contain at once, without waiting for an "
            "answer, then phone and email you with what we did.",
            _consequences(authorize, tenant, protection),
            "The no-acknowledgment checkbox has no effect in Authorize mode.",
        ),
    ]


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def proposable_types(action_types: Iterable[ActionType]) -> list[ActionType]:
    """The catalog without the action types that only undo another (release, unblock...)."""
    types = list(action_types)
    reverts = {t.revert_id for t in types if t.revert_id}
    return [t for t in types if t.pk not in reverts]
