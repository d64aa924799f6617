from django.urls import path

from kpi import views

app_name = "kpi"

urlpatterns = [
    path("chats/", views.chat_list, name="chat_list"),
    path("chats/columns/", views.chat_columns, name="chat_columns"),
    path("chats/group/", views.chat_group, name="chat_group"),
    path("chats/export/", views.chat_export, name="chat_export"),
    path("chats/export/<uuid:pk>/", views.chat_export_progress, name="chat_export_progress"),
    path("chats/export/<uuid:pk>/file/", views.chat_export_file, name="chat_export_file"),
    path("chats/<int:pk>/history/", views.chat_history, name="chat_history"),
    path("chats/<int:pk>/rate/", views.chat_rate, name="chat_rate"),
    path("reports/", views.report_page, name="reports"),
    path("reports/<str:chart>.csv", views.report_csv, name="report_csv"),
]
