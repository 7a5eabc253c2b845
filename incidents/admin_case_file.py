"""The case file's notes, observables and thread with the customer in the admin: added through their services (a note is never
changed), shown read-only on the incident's page."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from escalation.admin import EmailInline
from escalation.emails.thread import thread_message_send
from incidents.models import ActionObservable, Channel, Message, MessageSide, Note, Observable
from incidents.notes import note_add
from incidents.observable_links import action_link_observable
from incidents.observables import observable_add, observable_normalize
from mdrportal.core.admin_readonly import ReadOnlyInline
from mdrportal.core.admin_retry import RetriedChangeFormMixin
from mdrportal.core.users import User, signed_in_user

# What an analyst adds through a service on its add page.
_Added = TypeVar("_Added", Note, Observable, Message)


class NoteInline(ReadOnlyInline):
    model = Note
    fields = readonly_fields = ("at", "visibility", "author", "body")
    ordering = ["at", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Note]:
        return super().get_queryset(request).select_related("author")


class ObservableInline(ReadOnlyInline):
    model = Observable
    fields = readonly_fields = ("kind", "value", "description", "added_by", "added_at", "used_by")

    @admin.display(description="actions")
    def used_by(self, obj: Observable) -> str:
        return ", ".join(f"#{a.pk} {a}" for a in obj.actions.all()) or "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Observable]:
        return (
            super().get_queryset(request).select_related("added_by").prefetch_related("actions__action_type")
        )


class MessageInline(ReadOnlyInline):
    model = Message
    fields = readonly_fields = ("at", "side", "author", "body")
    ordering = ["at", "id"]
    verbose_name_plural = "thread with the customer"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("author")


class AddedByServiceAdmin(RetriedChangeFormMixin, Generic[_Added]):
    """Mixed into a ModelAdmin: rows are added through a service (the add page's incident comes from
    `?incident=`, a raw id field); never changed."""

    def has_change_permission(self, request: HttpRequest, obj: _Added | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _Added | None = None) -> bool:
        return False

    def added(self, form: ModelForm[_Added], by: User) -> _Added:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: _Added, form: ModelForm[_Added], change: bool) -> None:
        row = self.added(form, signed_in_user(request))
        obj.pk, obj._state.adding, obj._state.db = row.pk, False, row._state.db

    def response_add(
        self, request: HttpRequest, obj: _Added, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Back to the incident, where the row now shows.
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[obj.incident_id]))


class NoteForm(ModelForm[Note]):
    class Meta:
        model = Note
        fields = ["incident", "visibility", "body"]


@admin.register(Note)
class NoteAdmin(AddedByServiceAdmin[Note], admin.ModelAdmin[Note]):
    raw_id_fields = ["incident"]
    form = NoteForm
    list_display = ["at", "incident", "visibility", "author"]
    list_filter = ["visibility"]
    list_select_related = ["incident", "author"]
    search_fields = ["body", "incident__title"]
    readonly_fields = ["author", "at"]

    def get_fields(self, request: HttpRequest, obj: Note | None = None) -> tuple[str, ...]:
        return (
            ("incident", "visibility", "body")
            if obj is None
            else ("incident", "visibility", "author", "at", "body")
        )

    def added(self, form: ModelForm[Note], by: User) -> Note:
        data = form.cleaned_data
        return note_add(incident=data["incident"], body=data["body"], visibility=data["visibility"], by=by)


class ObservableForm(ModelForm[Observable]):
    class Meta:
        model = Observable
        fields = ["incident", "kind", "value", "description"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("kind") and data.get("value"):
            try:
                data["value"] = observable_normalize(data["kind"], data["value"])
            except ValidationError as error:
                self.add_error(None, error)
        return data

    def validate_unique(self) -> None:
        # A duplicate is no error: the service keeps the one the incident holds.
        pass


@admin.register(Observable)
class ObservableAdmin(AddedByServiceAdmin[Observable], admin.ModelAdmin[Observable]):
    raw_id_fields = ["incident"]
    form = ObservableForm
    list_display = ["kind", "value", "incident", "added_by", "added_at"]
    list_filter = ["kind"]
    list_select_related = ["incident", "added_by"]
    search_fields = ["value", "incident__title"]

    def added(self, form: ModelForm[Observable], by: User) -> Observable:
        data = form.cleaned_data
        observable, _new = observable_add(
            incident=data["incident"],
            kind=data["kind"],
            value=data["value"],
            description=data.get("description", ""),
            by=by,
        )
        return observable


class ActionObservableForm(ModelForm[ActionObservable]):
    class Meta:
        model = ActionObservable
        fields = ["action", "observable"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        action, observable = data.get("action"), data.get("observable")
        if action and observable and action.incident_id != observable.incident_id:
            self.add_error("observable", "Choose an observable of the action's incident.")
        return data

    def _get_validation_exclusions(self) -> set[str]:
        # Linking twice is no error (the service keeps the first link): the pair's constraint is not checked.
        excluded: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]  # not in the stubs
        return {*excluded, "observable"}


@admin.register(ActionObservable)
class ActionObservableAdmin(RetriedChangeFormMixin, admin.ModelAdmin[ActionObservable]):
    """An analyst links an action to an observable it uses (`?action=` fills the action in)."""

    form = ActionObservableForm
    raw_id_fields = ["action", "observable"]
    list_display = ["action", "observable", "linked_by", "linked_at"]
    list_select_related = ["action__action_type", "observable", "linked_by"]
    search_fields = ["observable__value", "action__target"]

    def has_change_permission(self, request: HttpRequest, obj: ActionObservable | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ActionObservable | None = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: ActionObservable, form: ModelForm[ActionObservable], change: bool
    ) -> None:
        data = form.cleaned_data
        by = signed_in_user(request)
        link = action_link_observable(action=data["action"], observable=data["observable"], by=by)
        obj.pk, obj._state.adding, obj._state.db = link.pk, False, link._state.db

    def response_add(
        self, request: HttpRequest, obj: ActionObservable, post_url_continue: str | None = None
    ) -> HttpResponse:
        incident_id = ActionObservable.objects.get(pk=obj.pk).action.incident_id
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident_id]))


class MessageForm(ModelForm[Message]):
    class Meta:
        model = Message
        fields = ["incident", "body"]


@admin.register(Message)
class MessageAdmin(AddedByServiceAdmin[Message], admin.ModelAdmin[Message]):
    """MDR Ops writes to the customer; what the customer wrote shows here and on the incident's page."""

    raw_id_fields = ["incident"]
    form = MessageForm
    list_display = ["at", "incident", "side", "author"]
    list_filter = ["side"]
    list_select_related = ["incident", "author"]
    search_fields = ["body", "incident__title"]

    def get_inlines(
        self, request: HttpRequest, obj: Message | None = None
    ) -> list[type[InlineModelAdmin[Any, Any]]]:
        # Each message is emailed to the other side: its emails and what became of them.
        return [] if obj is None else [EmailInline]

    def get_fields(self, request: HttpRequest, obj: Message | None = None) -> tuple[str, ...]:
        return ("incident", "body") if obj is None else ("incident", "side", "author", "at", "body")

    def get_readonly_fields(self, request: HttpRequest, obj: Message | None = None) -> list[str]:
        return [] if obj is None else ["incident", "side", "author", "at", "body"]

    def added(self, form: ModelForm[Message], by: User) -> Message:
        data = form.cleaned_data
        return thread_message_send(
            incident=data["incident"],
            body=data["body"],
            side=MessageSide.MDR,
            by=by,
            channel=Channel.ADMIN,
        )
