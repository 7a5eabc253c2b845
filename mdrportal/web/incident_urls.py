"""URL patterns of the customer pages about incidents: list, timeline, acknowledgment and approvals."""

from __future__ import annotations

from django.urls import path

from mdrportal.web import incident_views as views, task_views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/acknowledge/", views.incident_acknowledge, name="acknowledge"),
    path("incidents/<int:pk>/messages/", views.incident_message, name="message"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/", views.approval_decide, name="decide"),
    path("tasks/", task_views.task_list, name="tasks"),
    path("tasks/<int:pk>/mark/", task_views.task_mark_view, name="task_mark"),
]
