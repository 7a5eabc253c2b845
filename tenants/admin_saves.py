"""The tenant and partner pages' inline formsets saved through the services, as their users' changes (each
audited there), and noted for the admin's change message as formset.save() would have."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from django.forms import BaseModelFormSet, ModelForm
from django.http import HttpRequest

from mdrportal.core.users import signed_in_user
from tenants.membership_services import membership_remove, membership_set
from tenants.models import ActionPerformer, Contact, Membership, Tenant
from tenants.performer_services import performer_set
from tenants.protected_models import ProtectedTarget
from tenants.protected_services import protected_target_add, protected_target_remove
from tenants.services import CONTACT_FIELDS, contact_create, contact_update, contacts_reorder

_M = TypeVar("_M", bound=Model)


def _record(
    formset: BaseModelFormSet[_M, ModelForm[_M]],
    *,
    new: list[_M] | None = None,
    changed: list[tuple[_M, list[str]]] | None = None,
    deleted: list[_M] | None = None,
) -> None:
    """What formset.save() would have noted; the admin's change message (LogEntry) reads it."""
    formset.new_objects, formset.changed_objects = new or [], changed or []
    formset.deleted_objects = deleted or []


def contacts_save(
    request: HttpRequest, formset: BaseModelFormSet[Contact, ModelForm[Contact]], owner: dict[str, Any]
) -> None:
    """Creations first, then updates that keep a phone reachable, then the rest, then the call order."""
    by = signed_in_user(request)
    forms_ = [f for f in formset.forms if f.has_changed() and f.cleaned_data]
    created = [f for f in forms_ if f.instance.pk is None]
    for form in created:
        data = {k: form.cleaned_data[k] for k in CONTACT_FIELDS if k in form.cleaned_data}
        form.instance = contact_create(by=by, **owner, **data)
    updates = [f for f in forms_ if f not in created and set(f.changed_data) & set(CONTACT_FIELDS)]
    updates.sort(key=lambda f: not (f.cleaned_data.get("active") and f.cleaned_data.get("phone")))
    for form in updates:
        data = {k: form.cleaned_data[k] for k in form.changed_data if k in CONTACT_FIELDS}
        contact_update(contact=Contact.objects.get(pk=form.instance.pk), by=by, **data)
    current = list(Contact.objects.filter(**owner).order_by("call_order"))
    wanted = {f.instance.pk: f.cleaned_data.get("position") for f in formset.forms if f.cleaned_data}
    ordered = sorted(current, key=lambda c: (wanted.get(c.pk) or 10_000 + c.call_order, c.call_order))
    contacts_reorder(by=by, ordered_ids=[c.pk for c in ordered], **owner)
    _record(
        formset,
        new=[f.instance for f in created],
        changed=[(f.instance, f.changed_data) for f in forms_ if f not in created],
    )


def performers_save(
    request: HttpRequest,
    formset: BaseModelFormSet[ActionPerformer, ModelForm[ActionPerformer]],
    tenant: Tenant,
) -> None:
    by = signed_in_user(request)
    new: list[ActionPerformer] = []
    changed: list[tuple[ActionPerformer, list[str]]] = []
    deleted: list[ActionPerformer] = []
    for f in formset.forms:
        if not f.cleaned_data or not (f.has_changed() or f.cleaned_data.get("DELETE")):
            continue
        if f.instance.pk and f.cleaned_data.get("DELETE"):
            deleted.append(f.instance)
        elif f.instance.pk:
            changed.append((f.instance, f.changed_data))
        elif not f.cleaned_data.get("DELETE"):
            new.append(f.instance)
        original = f.initial.get("action_code") if f.instance.pk else None
        if original and (f.cleaned_data.get("DELETE") or original != f.cleaned_data["action_code"]):
            performer_set(tenant=tenant, by=by, action_code=original, performer="mdr")
        if not f.cleaned_data.get("DELETE"):
            performer_set(
                tenant=tenant,
                by=by,
                action_code=f.cleaned_data["action_code"],
                performer=f.cleaned_data["performer"],
            )
    _record(formset, new=new, changed=changed, deleted=deleted)


def protected_save(
    request: HttpRequest,
    formset: BaseModelFormSet[ProtectedTarget, ModelForm[ProtectedTarget]],
    tenant: Tenant,
) -> None:
    by = signed_in_user(request)
    new: list[ProtectedTarget] = []
    deleted: list[ProtectedTarget] = []
    for f in formset.forms:
        if not f.cleaned_data:
            continue
        if f.instance.pk and f.cleaned_data.get("DELETE"):
            protected_target_remove(target=f.instance, by=by)
            deleted.append(f.instance)
        elif not f.instance.pk and not f.cleaned_data.get("DELETE"):
            f.instance = protected_target_add(
                tenant=tenant,
                by=by,
                kind=f.cleaned_data["kind"],
                value=f.cleaned_data["value"],
                note=f.cleaned_data.get("note", ""),
            )
            new.append(f.instance)
    _record(formset, new=new, deleted=deleted)


def memberships_save(
    request: HttpRequest, formset: BaseModelFormSet[Membership, ModelForm[Membership]], tenant: Tenant
) -> None:
    by = signed_in_user(request)
    new: list[Membership] = []
    changed: list[tuple[Membership, list[str]]] = []
    deleted: list[Membership] = []
    for f in formset.forms:
        if not f.cleaned_data or not (f.has_changed() or f.cleaned_data.get("DELETE")):
            continue
        original = Membership.objects.get(pk=f.instance.pk).user if f.instance.pk else None
        if original and f.cleaned_data.get("DELETE"):
            deleted.append(f.instance)
        elif original:
            changed.append((f.instance, f.changed_data))
        elif not f.cleaned_data.get("DELETE"):
            new.append(f.instance)
        if original and (f.cleaned_data.get("DELETE") or original != f.cleaned_data["user"]):
            membership_remove(tenant=tenant, user=original, by=by)
        if not f.cleaned_data.get("DELETE"):
            membership_set(tenant=tenant, user=f.cleaned_data["user"], role=f.cleaned_data["role"], by=by)
    _record(formset, new=new, changed=changed, deleted=deleted)
