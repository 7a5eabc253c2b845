"""Admin for MDR leads and analysts: tenants with their contacts, performers and users; writes go through services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.utils.functional import cached_property
from rest_framework.authtoken.models import TokenProxy

from incidents.selectors import action_type_choices
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin
from mdrportal.web.deciding import StepUpAdminMixin
from mdrportal.web.login_guard import GuardedAdminAuthenticationForm, login_unlock
from mdrportal.web.second_factor import second_factor_reset
from tenants import admin_partner_defaults  # noqa: F401 - registers the partner defaults' page
from tenants.admin_partner_availability import partner_availability_save, partner_contact_form
from tenants.api_tokens import api_token_decides, user_deactivate, user_password_set
from tenants.availability import Availability
from tenants.availability_services import availability_snapshot
from tenants.forms import ActionPerformerFormSet, ContactInlineForm, ContactInlineFormSet
from tenants.models import (
    ActionPerformer,
    ApiToken,
    Contact,
    Membership,
    Partner,
    PartnerMembership,
    SettingsChange,
    Tenant,
)
from tenants.protected import protected_value_clean
from tenants.protected_models import ProtectedTarget
from tenants.protected_services import (
    protected_removal_refusal,
    protected_target_add,
    protected_target_remove,
)
from tenants.selectors import audited_value_shown
from tenants.services import (
    CONTACT_FIELDS,
    TENANT_SETTINGS,
    contact_create,
    contact_update,
    contacts_reorder,
    membership_remove,
    membership_set,
    performer_set,
    tenant_create,
    tenant_delegation_set,
    tenant_update_settings,
)


class ContactInline(admin.TabularInline):
    model = Contact
    fk_name = "tenant"
    form = ContactInlineForm
    formset = ContactInlineFormSet
    extra = 1
    can_delete = False  # contacts with history are deactivated, never deleted
    ordering = ["call_order"]
    readonly_fields = ["availability"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return (
            super().get_queryset(request).select_related("tenant").prefetch_related("windows", "away_periods")
        )

    @admin.display(description="When phoned (set on the customer's contacts page)")
    def availability(self, obj: Contact) -> str:
        if obj.pk is None:
            return "—"
        shown = availability_snapshot(Availability.of(obj), obj.zone)
        return f"{shown['windows']}; away: {shown['away']}"


class PartnerContactInline(ContactInline):
    fk_name = "partner"  # the same formset: unique positions; a partner has no fallback checkbox
    readonly_fields: list[str] = []  # hours and away dates are edited here (admin_partner_availability)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).select_related("partner")

    def get_formset(self, request: HttpRequest, obj: Partner | None = None, **kwargs: Any) -> Any:
        kwargs["form"] = partner_contact_form(obj.timezone if obj is not None else "UTC")
        return super().get_formset(request, obj, **kwargs)


class ActionPerformerForm(ModelForm):
    action_code = forms.ChoiceField(label="Action type", choices=())

    class Meta:
        model = ActionPerformer
        fields = ["action_code", "performer"]

    def __init__(
        self, *args: Any, action_choices: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action_code"].choices = (
            action_choices if action_choices is not None else action_type_choices()
        )


class ActionPerformerInlineFormSet(ActionPerformerFormSet):
    """Reads the action catalog once for all its forms, not once per row."""

    @cached_property
    def action_choices(self) -> list[tuple[str, str]]:
        return action_type_choices()

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "action_choices": self.action_choices}


class ActionPerformerInline(admin.TabularInline):
    model = ActionPerformer
    form = ActionPerformerForm
    formset = ActionPerformerInlineFormSet
    extra = 0
    verbose_name = "performer under Collaborate (action types not listed are performed by MDR Ops)"
    verbose_name_plural = verbose_name


class ProtectedTargetForm(ModelForm):
    class Meta:
        model = ProtectedTarget
        fields = ["kind", "value", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is None and data.get("kind") and data.get("value"):
            try:
                data["value"] = protected_value_clean(data["kind"], data["value"])
            except ValueError as error:
                self.add_error("value", str(error))
        return data


class ProtectedTargetFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk:
                refused = protected_removal_refusal(form.instance, self.instance)
                if refused is not None:
                    raise forms.ValidationError(refused)


class ProtectedTargetInline(admin.TabularInline):
    model = ProtectedTarget
    form = ProtectedTargetForm
    formset = ProtectedTargetFormSet
    extra = 0
    fields = ["kind", "value", "note"]
    verbose_name = "protected asset (never acted on without the customer's written authorization)"
    verbose_name_plural = "protected assets (never acted on without the customer's written authorization)"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a protected asset is added or removed, each audited; never edited in place


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    verbose_name = "customer user"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Each row's title is str(membership), which names the user and the tenant.
        return super().get_queryset(request).select_related("user", "tenant")


def _record(
    formset: BaseInlineFormSet,
    *,
    new: list[Any] | None = None,
    changed: list[tuple[Any, list[str]]] | None = None,
    deleted: list[Any] | None = None,
) -> None:
    """What formset.save() would have noted; the admin's change message (LogEntry) reads it."""
    formset.new_objects, formset.changed_objects = new or [], changed or []
    formset.deleted_objects = deleted or []


def _save_contacts(request: HttpRequest, formset: BaseInlineFormSet, owner: dict[str, Any]) -> None:
    """Creations first, then updates that keep a phone reachable, then the rest, then the call order."""
    forms_ = [f for f in formset.forms if f.has_changed() and f.cleaned_data]
    created = [f for f in forms_ if f.instance.pk is None]
    for form in created:
        data = {k: form.cleaned_data[k] for k in CONTACT_FIELDS if k in form.cleaned_data}
        form.instance = contact_create(by=request.user, **owner, **data)
    updates = [f for f in forms_ if f not in created and set(f.changed_data) & set(CONTACT_FIELDS)]
    updates.sort(key=lambda f: not (f.cleaned_data.get("active") and f.cleaned_data.get("phone")))
    for form in updates:
        data = {k: form.cleaned_data[k] for k in form.changed_data if k in CONTACT_FIELDS}
        contact_update(contact=Contact.objects.get(pk=form.instance.pk), by=request.user, **data)
    current = list(Contact.objects.filter(**owner).order_by("call_order"))
    wanted = {f.instance.pk: f.cleaned_data.get("position") for f in formset.forms if f.cleaned_data}
    ordered = sorted(current, key=lambda c: (wanted.get(c.pk) or 10_000 + c.call_order, c.call_order))
    contacts_reorder(by=request.user, ordered_ids=[c.pk for c in ordered], **owner)
    _record(
        formset,
        new=[f.instance for f in created],
        changed=[(f.instance, f.changed_data) for f in forms_ if f not in created],
    )


def _save_performers(request: HttpRequest, formset: BaseInlineFormSet, tenant: Tenant) -> None:
    new, changed, deleted = [], [], []
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
            performer_set(tenant=tenant, by=request.user, action_code=original, performer="mdr")
        if not f.cleaned_data.get("DELETE"):
            performer_set(
                tenant=tenant,
                by=request.user,
                action_code=f.cleaned_data["action_code"],
                performer=f.cleaned_data["performer"],
            )
    _record(formset, new=new, changed=changed, deleted=deleted)


def _save_protected(request: HttpRequest, formset: BaseInlineFormSet, tenant: Tenant) -> None:
    new, deleted = [], []
    for f in formset.forms:
        if not f.cleaned_data:
            continue
        if f.instance.pk and f.cleaned_data.get("DELETE"):
            protected_target_remove(target=f.instance, by=request.user)
            deleted.append(f.instance)
        elif not f.instance.pk and not f.cleaned_data.get("DELETE"):
            f.instance = protected_target_add(
                tenant=tenant,
                by=request.user,
                kind=f.cleaned_data["kind"],
                value=f.cleaned_data["value"],
                note=f.cleaned_data.get("note", ""),
            )
            new.append(f.instance)
    _record(formset, new=new, deleted=deleted)


def _save_memberships(request: HttpRequest, formset: BaseInlineFormSet, tenant: Tenant) -> None:
    new, changed, deleted = [], [], []
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
            membership_remove(tenant=tenant, user=original, by=request.user)
        if not f.cleaned_data.get("DELETE"):
            membership_set(
                tenant=tenant, user=f.cleaned_data["user"], role=f.cleaned_data["role"], by=request.user
            )
    _record(formset, new=new, changed=changed, deleted=deleted)


DELEGATION = ("partner_decides", "partner_manages_settings")


class TenantAdminForm(ModelForm):
    """The tenant, and why MDR Ops changes what the customer delegates to its partner."""

    delegation_reason = forms.CharField(
        required=False,
        max_length=500,
        label="Why MDR Ops changes what the partner may do",
        help_text="Required when you change either box above: kept in the settings history.",
    )

    class Meta:
        model = Tenant
        fields = list(DELEGATION)  # the admin adds the fields of its fieldsets

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if set(DELEGATION) & set(self.changed_data) and not data.get("delegation_reason"):
            self.add_error("delegation_reason", "Say why MDR Ops changes what the customer delegates.")
        return data


@admin.register(Tenant)
class TenantAdmin(StepUpAdminMixin, admin.ModelAdmin):
    form = TenantAdminForm
    list_display = ["name", "slug", "tier", "response_mode", "authorize_on_no_ack", "partner"]
    list_filter = ["tier", "response_mode", "authorize_on_no_ack", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ContactInline, ActionPerformerInline, ProtectedTargetInline, MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "partner", "timezone"]}),
        ("Response policy", {"fields": ["tier", "response_mode", "authorize_on_no_ack"]}),
        (
            "Call tree",
            {"fields": ["notify_from_severity", "call_attempts_per_contact", "ring_timeout_seconds"]},
        ),
        ("Reminders", {"fields": ["reminder_minutes", "reminder_count"]}),
        ("Sign-in", {"fields": ["viewers_need_second_factor"]}),
        ("What the partner may do for the customer", {"fields": [*DELEGATION, "delegation_reason"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        return ["slug"] if obj else []

    def get_prepopulated_fields(self, request: HttpRequest, obj: Tenant | None = None) -> dict[str, Any]:
        # The slug is read-only once the tenant exists, and a read-only field cannot be prepopulated.
        return {} if obj else super().get_prepopulated_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Tenant, form: ModelForm, change: bool) -> None:
        if change:
            return  # applied in save_related, in the order the fallback rule needs
        created = tenant_create(
            name=obj.name,
            slug=obj.slug,
            tier=obj.tier,
            response_mode=obj.response_mode,
            timezone=obj.timezone,
            partner=obj.partner,
            by=request.user,
        )
        obj.pk, obj._state.adding, obj._state.db = created.pk, False, created._state.db

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: list[Any], change: bool) -> None:
        tenant = form.instance
        delegation = {f: form.cleaned_data[f] for f in DELEGATION if f in form.cleaned_data}
        wanted = {f: form.cleaned_data[f] for f in TENANT_SETTINGS if f in form.cleaned_data}
        # Ticking the fallback may rest on a phone added in this same submission: apply it last.
        ticking = wanted.get("authorize_on_no_ack") is True
        if not ticking:
            tenant_update_settings(tenant=tenant, by=request.user, **wanted)
        for formset in formsets:
            self.save_formset(request, form, formset, change)
        if ticking:
            tenant_update_settings(tenant=tenant, by=request.user, **wanted)
        if set(DELEGATION) & set(form.changed_data):
            tenant_delegation_set(
                tenant=tenant, by=request.user, reason=form.cleaned_data["delegation_reason"], **delegation
            )

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        tenant = form.instance
        if formset.model is Contact:
            _save_contacts(request, formset, {"tenant": tenant})
        elif formset.model is ActionPerformer:
            _save_performers(request, formset, tenant)
        elif formset.model is ProtectedTarget:
            _save_protected(request, formset, tenant)
        elif formset.model is Membership:
            _save_memberships(request, formset, tenant)


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "timezone"]
    inlines = [PartnerContactInline]

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        _save_contacts(request, formset, {"partner": form.instance})
        partner_availability_save(by=request.user, formset=formset)


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(StepUpAdminMixin, admin.ModelAdmin):
    list_display = ["user", "partner", "role"]
    list_select_related = ["user", "partner"]
    autocomplete_fields = ["user"]


@admin.register(SettingsChange)
class SettingsChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "tenant", "actor_label", "field", "subject", "before_shown", "after_shown"]
    list_filter = ["tenant", "field"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "actor_label", "subject"]
    exclude = ["before", "after"]
    readonly_fields = ["before_shown", "after_shown"]

    @admin.display(description="before")
    def before_shown(self, change: SettingsChange) -> Any:
        return audited_value_shown(change.before)

    @admin.display(description="after")
    def after_shown(self, change: SettingsChange) -> Any:
        return audited_value_shown(change.after)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SettingsChange]:
        return super().get_queryset(request).order_by("-at", "-id")


@admin.action(
    description="Unlock sign-in (lift the failed sign-in lock from every address)", permissions=["change"]
)
def unlock_sign_in(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        lifted = login_unlock(username=user.get_username())
        modeladmin.message_user(
            request,
            f"{user.get_username()}: sign-in unlocked ({lifted} address{'es' if lifted != 1 else ''} cleared).",
            messages.SUCCESS,
        )


@admin.action(
    description="Reset second factor (lost phone: the next sign-in sets up a new authenticator)",
    permissions=["change"],
)
def reset_second_factor(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        second_factor_reset(user=user)
        modeladmin.message_user(
            request, f"{user.get_username()}: second factor reset; it is set up again at the next sign-in."
        )


# The admin's login says when a locked-out username may sign in again, as the portal's does.
admin.site.login_form = GuardedAdminAuthenticationForm


class RevokingPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's password form for a user: a new password revokes the user's API tokens and sessions."""

    def save(self, commit: bool = True) -> Any:
        usable = self.cleaned_data["set_usable_password"]
        user_password_set(user=self.user, password=self.cleaned_data["password1"] if usable else None)
        return self.user


admin.site.unregister(User)
# DRF's plain-text tokens are not used (tenants.ApiToken is): leads must not create any.
admin.site.unregister(TokenProxy)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    """Django's user admin, with the sign-in lock and the second factor an MDR lead may need to reset; a new
    password or a deactivation revokes the user's API tokens and sessions."""

    actions = [unlock_sign_in, reset_second_factor]
    change_password_form = RevokingPasswordChangeForm

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_deactivate(user=obj)

    # Only a superuser makes superusers or grants permissions one by one: an MDR lead (auth.change_user)
    # could otherwise make itself superuser, or give itself any permission.
    SUPERUSER_ONLY_FIELDS = ("is_superuser", "user_permissions")

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [
            (
                name,
                {**options, "fields": [f for f in options["fields"] if f not in self.SUPERUSER_ONLY_FIELDS]},
            )
            for name, options in fieldsets
        ]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(
                pk__in=_groups_within(request.user.get_all_permissions())
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # A user who may do more than the editor is not the editor's to change (its password included).
        if obj is not None and not request.user.is_superuser and not _within(obj, request.user):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and not request.user.is_superuser and not _within(obj, request.user):
            return False
        return super().has_delete_permission(request, obj)


def _groups_within(permissions: set[str]) -> list[int]:
    """The groups whose every permission is among these: the ones a non-superuser may hand out."""
    groups = Group.objects.prefetch_related("permissions__content_type")
    return [
        group.pk
        for group in groups
        if all(f"{p.content_type.app_label}.{p.codename}" in permissions for p in group.permissions.all())
    ]


def _within(user: Any, editor: Any) -> bool:
    return not user.is_superuser and user.get_all_permissions() <= editor.get_all_permissions()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Every person's API tokens, for an MDR lead to see and revoke (delete); no key is kept to show."""

    list_display = ["id", "user", "created_at", "expires_at", "last_used_at", "second_factor_at", "decides"]
    list_select_related = ["user"]
    list_filter = ["expires_at", "second_factor_at"]
    search_fields = ["user__username"]
    fields = list_display
    readonly_fields = list_display
    actions = ["delete_selected"]

    @admin.display(description="may decide now", boolean=True)
    def decides(self, token: ApiToken) -> bool:
        return api_token_decides(token)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token is asked for by its owner, with the owner's password and second factor

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Registered from their own module: a key's secret is shown once, at creation.
from tenants import admin_integration_keys  # noqa: E402, F401
