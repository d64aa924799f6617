"""CRM pages for staff, mounted at /contact-center/crm/ by contactcenter.urls."""

from django.urls import path

from crm import views

app_name = "crm"

urlpatterns = [
    path("sessions/<int:pk>/panel/", views.session_panel, name="session_panel"),
]
