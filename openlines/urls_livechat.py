"""Public live chat URLs at /livechat/."""

from django.urls import path

from openlines import views_livechat as views

app_name = "livechat"

urlpatterns = [
    path("demo/", views.demo, name="demo"),
    path("files/<path:path>", views.file_download, name="file"),
    path("<slug:code>/", views.standalone, name="standalone"),
    path("<slug:code>/agreement/", views.agreement_page, name="agreement"),
    path("<slug:code>/transcript/", views.visitor_transcript, name="transcript"),
    path("<slug:code>/session/", views.visitor_session, name="session"),
    path("<slug:code>/upload/", views.visitor_upload, name="upload"),
]
