"""Who performs each action type for a tenant under Collaborate: one choice or several at once, audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.deciding import PERFORMERS
from tenants.models import ActionPerformer, Partner, Performer, Tenant
from tenants.partner_default_models import TenantOwnSetting, performer_field
from tenants.services import Actor, deciding_writer_check, settings_audit


@transaction.atomic
def performer_set(
    *, tenant: Tenant, by: Actor, action_code: str, performer: str, from_default_of: Partner | None = None
) -> None:
    """Who performs an action type under Collaborate; MDR Ops is the default and stores no row.

    A choice the customer makes is its own (its partner's default performer no longer reaches it); one from
    its partner's default (`from_default_of`) keeps it inheriting and says so on the history."""
    if performer not in Performer.values:
        raise ValidationError({"performer": f"{performer!r} is not one of {', '.join(Performer.values)}."})
    deciding_writer_check(by=by, tenant=tenant, operation=PERFORMERS)
    locked = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    if performer == Performer.PARTNER and locked.partner_id is None:
        raise ValidationError({"performer": "This tenant has no partner to delegate to."})
    row = ActionPerformer.objects.filter(tenant=tenant, action_code=action_code).first()
    before = row.performer if row else Performer.MDR.value
    if before == performer:
        return
    if from_default_of is None:
        TenantOwnSetting.objects.get_or_create(tenant=locked, field=performer_field(action_code))
    if row is None:  # so the choice is not MDR Ops, which stores no row and was the one before
        ActionPerformer.objects.create(tenant=tenant, action_code=action_code, performer=performer)
    elif performer == Performer.MDR:
        row.delete()
    else:
        row.performer = performer
        row.save(update_fields=["performer"])
    subject = action_code if from_default_of is None else f"{action_code} from {from_default_of}'s defaults"
    settings_audit(tenant=tenant, by=by, field="performer", subject=subject, before=before, after=performer)


class PerformersRefused(Exception):
    """Some of several performer choices were refused (by their index); none was made."""

    def __init__(self, errors: dict[int, ValidationError]) -> None:
        super().__init__(f"{len(errors)} performer choices refused")
        self.errors = errors


@transaction.atomic
def performers_set(*, tenant: Tenant, by: Actor, choices: list[tuple[str, str]]) -> None:
    """Choose who performs several action types at once: all of them or none."""
    errors: dict[int, ValidationError] = {}
    for index, (action_code, performer) in enumerate(choices):
        try:
            with transaction.atomic():
                performer_set(tenant=tenant, by=by, action_code=action_code, performer=performer)
        except ValidationError as error:
            errors[index] = error
    if errors:
        raise PerformersRefused(errors)  # leaving the block undoes the others
