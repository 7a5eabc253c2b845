"""Which observables a response action uses: linked by itself when the action's target is an observable of
the incident (the same value in its normal form, of a kind the action type acts on), or by an analyst."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from incidents.locks import incident_lock
from incidents.models import ActionObservable, Channel, EventKind, Observable, ObservableKind, ResponseAction
from incidents.observables import observable_normalize
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User

_ENDPOINT = (ObservableKind.HOST, ObservableKind.IP)
_FILE = (ObservableKind.SHA256,)
# The kinds of observable each action type acts on; a type not named here acts on any kind.
ACTION_OBSERVABLE_KINDS: dict[str, tuple[str, ...]] = {
    "isolate_endpoint": _ENDPOINT,
    "release_endpoint": _ENDPOINT,
    "clean_malware": _ENDPOINT,
    "remove_persistence": _ENDPOINT,
    "restore_from_backup": _ENDPOINT,
    "block_sha256": _FILE,
    "unblock_sha256": _FILE,
    "quarantine_file": _FILE,
    "restore_file": _FILE,
    "block_ip": (ObservableKind.IP,),
    "unblock_ip": (ObservableKind.IP,),
    "block_domain": (ObservableKind.DOMAIN, ObservableKind.URL),
    "unblock_domain": (ObservableKind.DOMAIN, ObservableKind.URL),
    "disable_user": (ObservableKind.ACCOUNT,),
    "enable_user": (ObservableKind.ACCOUNT,),
}


def kinds_for(action_code: str) -> tuple[str, ...]:
    return ACTION_OBSERVABLE_KINDS.get(action_code, tuple(ObservableKind.values))


def observables_matching(action: ResponseAction) -> list[Observable]:
    """The incident's observables whose normal value is the action's target, of a kind its type acts on."""
    candidates = []
    for kind in kinds_for(action.action_type.code):
        try:
            candidates.append((kind, observable_normalize(kind, action.target)))
        except ValidationError:
            continue  # the target is no value of this kind
    found: list[Observable] = []
    for kind, value in candidates:
        found.extend(Observable.objects.filter(incident_id=action.incident_id, kind=kind, value=value))
    return found


def links_record(
    action: ResponseAction,
    observables: Iterable[Observable],
    *,
    by: User | None,
    channel: str = Channel.ADMIN,
) -> list[ActionObservable]:
    """Link the action to each observable once; the caller holds the incident's lock. New links only."""
    made = []
    for observable in dict.fromkeys(observables):
        if observable.incident_id != action.incident_id:
            raise ValidationError(
                {"observable": f"{observable} is an observable of another incident."}, code="other_incident"
            )
        link, new = ActionObservable.objects.get_or_create(
            action=action, observable=observable, defaults={"linked_by": by}
        )
        if new:
            made.append(link)
    if made:
        names = ", ".join(str(link.observable) for link in made)
        timeline_record(
            incident=action.incident,
            kind=EventKind.OBSERVABLE_LINKED,
            summary=f"{action} uses {names}",
            by=by,
            channel=channel,
            data={"action": action.pk, "observables": [link.observable_id for link in made]},
        )
    return made


@retried_atomic
def action_link_observable(
    *, action: ResponseAction, observable: Observable, by: User, channel: str = Channel.ADMIN
) -> ActionObservable:
    """An analyst links an action to an observable of its incident it uses (once: a second link is the first)."""
    action.incident = incident_lock(action.incident_id)
    links_record(action, [observable], by=by, channel=channel)
    return ActionObservable.objects.get(action=action, observable=observable)
