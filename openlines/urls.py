"""JSON API routes of open lines, mounted at /api/v1/ by contactcenter.urls."""

from django.urls import path

from openlines import api, bots_api, sessions_api

app_name = "openlines_api"

urlpatterns = [
    path("lines/", api.lines_collection, name="lines"),
    path("lines/<int:pk>/", api.line_detail, name="line_detail"),
    path("sessions/", sessions_api.sessions_collection, name="sessions"),
    path("sessions/<int:pk>/", sessions_api.session_detail, name="session_detail"),
    path("sessions/<int:pk>/messages/", sessions_api.session_messages, name="session_messages"),
    path("sessions/<int:pk>/files/", sessions_api.session_files, name="session_files"),
    path(
        "sessions/<int:pk>/messages/<int:message_id>/retry/",
        sessions_api.session_message_retry,
        name="session_message_retry",
    ),
    path(
        "sessions/<int:pk>/messages/<int:message_id>/cancel/",
        sessions_api.session_message_cancel,
        name="session_message_cancel",
    ),
    path("sessions/<int:pk>/answer/", sessions_api.session_answer, name="session_answer"),
    path("sessions/<int:pk>/intercept/", sessions_api.session_intercept, name="session_intercept"),
    path("sessions/<int:pk>/skip/", sessions_api.session_skip, name="session_skip"),
    path("sessions/<int:pk>/transfer/", sessions_api.session_transfer, name="session_transfer"),
    path("sessions/<int:pk>/join/", sessions_api.session_join, name="session_join"),
    path("sessions/<int:pk>/pin/", sessions_api.session_pin, name="session_pin"),
    path("sessions/<int:pk>/unpin/", sessions_api.session_unpin, name="session_unpin"),
    path("sessions/<int:pk>/spam/", sessions_api.session_spam, name="session_spam"),
    path("sessions/<int:pk>/close/", sessions_api.session_close, name="session_close"),
    path("sessions/<int:pk>/typing/", sessions_api.session_typing, name="session_typing"),
    path(
        "sessions/<int:pk>/canned-responses/",
        sessions_api.session_canned_responses,
        name="session_canned_responses",
    ),
    path("chats/<int:chat_id>/sessions/", sessions_api.chat_sessions, name="chat_sessions"),
    path("bots/<int:bot_id>/sessions/<int:session_id>/message/", bots_api.bot_message, name="bot_message"),
    path("bots/<int:bot_id>/sessions/<int:session_id>/operator/", bots_api.bot_operator, name="bot_operator"),
    path("bots/<int:bot_id>/sessions/<int:session_id>/finish/", bots_api.bot_finish, name="bot_finish"),
    path("bots/<int:bot_id>/sessions/<int:session_id>/transfer/", bots_api.bot_transfer, name="bot_transfer"),
]
