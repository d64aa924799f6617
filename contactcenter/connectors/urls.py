from django.urls import path

from contactcenter.connectors import views

app_name = "contactcenter"

urlpatterns = [
    path("", views.contact_center, name="contact_center"),
    path("refresh/", views.connectors_refresh_view, name="connectors_refresh"),
    path("connect/<str:kind>/", views.connector_connect, name="connector_connect"),
    path("connectors/<int:pk>/", views.connector_edit, name="connector_edit"),
    path("connectors/<int:pk>/disconnect/", views.connector_disconnect, name="connector_disconnect"),
    path("connectors/<int:pk>/reconnect/", views.connector_reconnect_view, name="connector_reconnect"),
    path("connectors/<int:pk>/status/", views.connector_status, name="connector_status"),
    path("media/<path:path>", views.connector_media, name="connector_media"),
    path("files/<str:token>/<str:name>", views.file_link, name="file_link"),
    path("sessions/<int:session_id>/reply-window/", views.session_reply_window, name="session_reply_window"),
]
