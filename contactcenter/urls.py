from django.contrib import admin
from django.urls import include, path

from contactcenter.connectors.webhooks import connector_webhook, meta_app_webhook
from contactcenter.login import staff_login
from contactcenter.metrics import metrics
from contactcenter.openapi import docs_view, schema_view
from contactcenter.views import healthz
from openlines.views_livechat import root

urlpatterns = [
    path("", root, name="root"),
    path("agent/", include("openlines.urls_agent")),
    path("livechat/", include("openlines.urls_livechat")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # Before the admin's own URLs: the same login page, with limits on failed attempts.
    path("admin/login/", staff_login, name="staff_login"),
    path("admin/", admin.site.urls),
    path("contact-center/crm/", include("crm.urls")),
    path("connectors/<str:kind>/<str:uuid>/", connector_webhook, name="connector_webhook"),
    path("connectors/<str:kind>/", meta_app_webhook, name="meta_app_webhook"),
    path("contact-center/", include("contactcenter.connectors.urls")),
    path("api/v1/schema/", schema_view, name="api_schema"),
    path("api/v1/docs/", docs_view, name="api_docs"),
    path("api/v1/", include("openlines.urls")),
    path("api/v1/", include("contactcenter.connectors.api_urls")),
    path("api/v1/", include("crm.api_urls")),
    path("", include("kpi.urls")),
]

handler500 = "contactcenter.outage.server_error"
