"""The admin's users: Django's user admin with the sign-in lock and the second factor an MDR lead may need to
reset, and every person's API tokens; a new password or a deactivation revokes the user's tokens and sessions.
Also who uses the admin, as its pages' writes name them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.db.models import ManyToManyField, QuerySet
from django.forms import ModelForm, ModelMultipleChoiceField
from django.http import HttpRequest
from rest_framework.authtoken.models import TokenProxy

from mdrportal.core.users import AnyUser, User
from mdrportal.web.login_guard import GuardedAdminAuthenticationForm, login_unlock
from mdrportal.web.second_factor import second_factor_reset
from tenants.api_tokens import api_token_decides, user_deactivate, user_password_set
from tenants.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

    # Django's password forms take the user model as a type argument for the checker only (the run-time
    # patch makes model forms subscriptable, not these).
    _PasswordChangeForm = AdminPasswordChangeForm[User]
else:
    _PasswordChangeForm = AdminPasswordChangeForm


@admin.action(
    description="Unlock sign-in (lift the failed sign-in lock from every address)", permissions=["change"]
)
def unlock_sign_in(
    modeladmin: auth_admin.UserAdmin[User], request: HttpRequest, queryset: QuerySet[User]
) -> None:
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
def reset_second_factor(
    modeladmin: auth_admin.UserAdmin[User], request: HttpRequest, queryset: QuerySet[User]
) -> None:
    for user in queryset:
        second_factor_reset(user=user)
        modeladmin.message_user(
            request, f"{user.get_username()}: second factor reset; it is set up again at the next sign-in."
        )


# The admin's login says when a locked-out username may sign in again, as the portal's does.
admin.site.login_form = GuardedAdminAuthenticationForm


class RevokingPasswordChangeForm(_PasswordChangeForm):
    """The admin's password form for a user: a new password revokes the user's API tokens and sessions."""

    def save(self, commit: bool = True) -> User:
        usable = self.cleaned_data["set_usable_password"]
        user_password_set(user=self.user, password=self.cleaned_data["password1"] if usable else None)
        return self.user


admin.site.unregister(User)
# DRF's plain-text tokens are not used (tenants.ApiToken is): leads must not create any.
admin.site.unregister(TokenProxy)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin[User]):
    """Django's user admin, with the sign-in lock and the second factor an MDR lead may need to reset; a new
    password or a deactivation revokes the user's API tokens and sessions."""

    actions = [unlock_sign_in, reset_second_factor]
    change_password_form = RevokingPasswordChangeForm

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm[User], change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_deactivate(user=obj)

    # Only a superuser makes superusers or grants permissions one by one: an MDR lead (auth.change_user)
    # could otherwise make itself superuser, or give itself any permission.
    SUPERUSER_ONLY_FIELDS = ("is_superuser", "user_permissions")

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> _FieldsetSpec:
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

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:  # the groups' field or the permissions'
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


def _within(user: User, editor: AnyUser) -> bool:
    return not user.is_superuser and user.get_all_permissions() <= editor.get_all_permissions()


# Shown and read-only alike: nothing of a token is edited here.
_TOKEN_FIELDS = ("id", "user", "created_at", "expires_at", "last_used_at", "second_factor_at", "decides")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Every person's API tokens, for an MDR lead to see and revoke (delete); no key is kept to show."""

    list_display = _TOKEN_FIELDS
    list_select_related = ["user"]
    list_filter = ["expires_at", "second_factor_at"]
    search_fields = ["user__username"]
    fields = _TOKEN_FIELDS
    readonly_fields = _TOKEN_FIELDS
    actions = ["delete_selected"]

    @admin.display(description="may decide now", boolean=True)
    def decides(self, token: ApiToken) -> bool:
        return api_token_decides(token)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token is asked for by its owner, with the owner's password and second factor

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False
