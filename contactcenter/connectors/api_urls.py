"""JSON API routes of connectors, mounted at /api/v1/ by contactcenter.urls."""

from django.urls import path

from contactcenter.connectors import api

app_name = "connectors_api"

urlpatterns = [
    path("connectors/<uuid:connector_uuid>/messages/", api.rest_messages, name="rest_messages"),
    path("connectors/<uuid:connector_uuid>/status/", api.rest_status, name="rest_status"),
    path("connectors/<uuid:connector_uuid>/rest-settings/", api.rest_settings, name="rest_settings"),
    path("connectors/<uuid:connector_uuid>/rest-credentials/", api.rest_credentials, name="rest_credentials"),
]
