from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from contactcenter.consumers import StaffConsumer
from openlines.consumers import LivechatConsumer

websocket_urlpatterns = [
    # Staff sockets come only from our own pages, so their Origin must be one of ALLOWED_HOSTS.
    path("ws/staff/", AllowedHostsOriginValidator(StaffConsumer.as_asgi())),
    # The widget runs on customers' sites: any Origin; the signed visitor token authenticates it.
    path("ws/livechat/<slug:code>/", LivechatConsumer.as_asgi()),
]
