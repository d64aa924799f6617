"""The agent workspace at /agent/ and its JSON endpoints at /agent/api/."""

from django.urls import path

from openlines import views_agent as views

app_name = "agent"

urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("api/sessions/", views.sessions_list, name="sessions"),
    path("api/sessions/<int:session_id>/", views.session_detail, name="session"),
    path("api/sessions/<int:session_id>/messages/", views.session_messages, name="messages"),
    path(
        "api/sessions/<int:session_id>/messages/<int:message_id>/<str:action>/",
        views.message_delivery_action,
        name="message_delivery_action",
    ),
    path("api/sessions/<int:session_id>/canned-responses/", views.canned_responses, name="canned"),
    path(
        "api/sessions/<int:session_id>/<str:action>/",
        views.session_action,
        name="action",
    ),
    path("api/transfer-targets/", views.transfer_targets, name="transfer_targets"),
    path("api/status/", views.agent_status, name="status"),
]
