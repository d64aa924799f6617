"""CRM routes of the JSON API, mounted at /api/v1/ by contactcenter.urls."""

from django.urls import path

from crm import api

app_name = "crm_api"

urlpatterns = [
    path("sessions/<int:pk>/crm/", api.session_crm, name="session_crm"),
    path("sessions/<int:pk>/crm/lead/", api.session_crm_lead, name="session_crm_lead"),
]
