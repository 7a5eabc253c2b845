"""Admin for MDR leads and analysts: tenants with their contacts, performers and users; writes go through services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, BaseModelFormSet, ModelForm
from django.http import HttpRequest
from django.utils.functional import cached_property

from incidents.selectors import action_type_choices
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin
from mdrportal.core.users import signed_in_user
from mdrportal.web.deciding import StepUpAdminMixin
from tenants import (
    admin_partner_defaults,  # noqa: F401 - registers the partner defaults' page
    admin_users,  # noqa: F401 - registers the users' and API tokens' pages
)
from tenants.admin_partner_availability import partner_availability_save, partner_contact_form
from tenants.admin_saves import contacts_save, memberships_save, performers_save, protected_save
from tenants.availability import Availability
from tenants.availability_services import availability_snapshot
from tenants.forms import ActionPerformerFormSet, ContactInlineForm, ContactInlineFormSet
from tenants.models import (
    ActionPerformer,
    Contact,
    Membership,
    Partner,
    PartnerMembership,
    SettingsChange,
    Tenant,
)
from tenants.protected import protected_value_clean
from tenants.protected_models import ProtectedTarget
from tenants.protected_services import protected_removal_refusal
from tenants.selectors import audited_value_shown
from tenants.services import TENANT_SETTINGS, tenant_create, tenant_delegation_set, tenant_update_settings


class ContactInline(admin.TabularInline[Contact, Tenant | Partner]):
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
    readonly_fields = []  # hours and away dates are edited here (admin_partner_availability)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).select_related("partner")

    def get_formset(
        self, request: HttpRequest, obj: Tenant | Partner | None = None, **kwargs: Any
    ) -> type[BaseInlineFormSet[Contact, Tenant | Partner, ModelForm[Contact]]]:
        kwargs["form"] = partner_contact_form(obj.timezone if obj is not None else "UTC")
        return super().get_formset(request, obj, **kwargs)


class ActionPerformerForm(ModelForm[ActionPerformer]):
    action_code = forms.ChoiceField(label="Action type", choices=())

    class Meta:
        model = ActionPerformer
        fields = ["action_code", "performer"]

    def __init__(
        self, *args: Any, action_choices: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["action_code"]
        assert isinstance(field, forms.ChoiceField)  # declared above
        field.choices = action_choices if action_choices is not None else action_type_choices()


class ActionPerformerInlineFormSet(ActionPerformerFormSet):
    """Reads the action catalog once for all its forms, not once per row."""

    @cached_property
    def action_choices(self) -> list[tuple[str, str]]:
        return action_type_choices()

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "action_choices": self.action_choices}


class ActionPerformerInline(admin.TabularInline[ActionPerformer, Tenant]):
    model = ActionPerformer
    form = ActionPerformerForm
    formset = ActionPerformerInlineFormSet
    extra = 0
    verbose_name = "performer under Collaborate (action types not listed are performed by MDR Ops)"
    verbose_name_plural = verbose_name


class ProtectedTargetForm(ModelForm[ProtectedTarget]):
    class Meta:
        model = ProtectedTarget
        fields = ["kind", "value", "note"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        if self.instance.pk is None and data.get("kind") and data.get("value"):
            try:
                data["value"] = protected_value_clean(data["kind"], data["value"])
            except ValueError as error:
                self.add_error("value", str(error))
        return data


class ProtectedTargetFormSet(BaseInlineFormSet[ProtectedTarget, Tenant, ModelForm[ProtectedTarget]]):
    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk:
                refused = protected_removal_refusal(form.instance, self.instance)
                if refused is not None:
                    raise forms.ValidationError(refused)


class ProtectedTargetInline(admin.TabularInline[ProtectedTarget, Tenant]):
    model = ProtectedTarget
    form = ProtectedTargetForm
    formset = ProtectedTargetFormSet
    extra = 0
    fields = ["kind", "value", "note"]
    verbose_name = "protected asset (never acted on without the customer's written authorization)"
    verbose_name_plural = "protected assets (never acted on without the customer's written authorization)"

    def has_change_permission(  # type: ignore[override]  # an inline's obj is the parent (Django's docs)
        self, request: HttpRequest, obj: Tenant | None = None
    ) -> bool:
        return False  # a protected asset is added or removed, each audited; never edited in place


class MembershipInline(admin.TabularInline[Membership, Tenant]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    verbose_name = "customer user"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Each row's title is str(membership), which names the user and the tenant.
        return super().get_queryset(request).select_related("user", "tenant")


DELEGATION = ("partner_decides", "partner_manages_settings")


class TenantAdminForm(ModelForm[Tenant]):
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
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        if set(DELEGATION) & set(self.changed_data) and not data.get("delegation_reason"):
            self.add_error("delegation_reason", "Say why MDR Ops changes what the customer delegates.")
        return data


@admin.register(Tenant)
class TenantAdmin(StepUpAdminMixin, admin.ModelAdmin[Tenant]):
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

    def get_prepopulated_fields(
        self, request: HttpRequest, obj: Tenant | None = None
    ) -> dict[str, Sequence[str]]:
        # The slug is read-only once the tenant exists, and a read-only field cannot be prepopulated.
        return {} if obj else super().get_prepopulated_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Tenant, form: TenantAdminForm, change: bool) -> None:
        if change:
            return  # applied in save_related, in the order the fallback rule needs
        created = tenant_create(
            name=obj.name,
            slug=obj.slug,
            tier=obj.tier,
            response_mode=obj.response_mode,
            timezone=obj.timezone,
            partner=obj.partner,
            by=signed_in_user(request),
        )
        obj.pk, obj._state.adding, obj._state.db = created.pk, False, created._state.db

    def save_related(
        self,
        request: HttpRequest,
        form: TenantAdminForm,
        formsets: list[BaseInlineFormSet[Any, Tenant, ModelForm[Any]]],
        change: bool,
    ) -> None:
        tenant, by = form.instance, signed_in_user(request)
        delegation = {f: form.cleaned_data[f] for f in DELEGATION if f in form.cleaned_data}
        wanted = {f: form.cleaned_data[f] for f in TENANT_SETTINGS if f in form.cleaned_data}
        # Ticking the fallback may rest on a phone added in this same submission: apply it last.
        ticking = wanted.get("authorize_on_no_ack") is True
        if not ticking:
            tenant_update_settings(tenant=tenant, by=by, **wanted)
        for formset in formsets:
            self.save_formset(request, form, formset, change)
        if ticking:
            tenant_update_settings(tenant=tenant, by=by, **wanted)
        if set(DELEGATION) & set(form.changed_data):
            tenant_delegation_set(
                tenant=tenant, by=by, reason=form.cleaned_data["delegation_reason"], **delegation
            )

    def save_formset(
        self,
        request: HttpRequest,
        form: TenantAdminForm,
        formset: BaseInlineFormSet[Any, Tenant, ModelForm[Any]],
        change: bool,
    ) -> None:
        tenant = form.instance
        if formset.model is Contact:
            contacts_save(request, formset, {"tenant": tenant})
        elif formset.model is ActionPerformer:
            performers_save(request, formset, tenant)
        elif formset.model is ProtectedTarget:
            protected_save(request, formset, tenant)
        elif formset.model is Membership:
            memberships_save(request, formset, tenant)


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin[Partner]):
    list_display = ["name", "slug", "timezone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "timezone"]
    inlines = [PartnerContactInline]

    def save_formset(
        self,
        request: HttpRequest,
        form: ModelForm[Partner],
        formset: BaseModelFormSet[Contact, ModelForm[Contact]],
        change: bool,
    ) -> None:
        contacts_save(request, formset, {"partner": form.instance})
        partner_availability_save(by=signed_in_user(request), formset=formset)


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(StepUpAdminMixin, admin.ModelAdmin[PartnerMembership]):
    list_display = ["user", "partner", "role"]
    list_select_related = ["user", "partner"]
    autocomplete_fields = ["user"]


@admin.register(SettingsChange)
class SettingsChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[SettingsChange]):
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


# Registered from their own module: a key's secret is shown once, at creation.
from tenants import admin_integration_keys  # noqa: E402, F401
