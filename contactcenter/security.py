"""Response headers that protect the staff pages: a Content-Security-Policy and no framing.

Staff pages (admin, workspace, Contact Center, chat list, reports, API docs) run only scripts served from
this origin, or an inline script carrying the request's nonce (`{{ request.csp_nonce }}`); they may not be
framed (`frame-ancestors 'none'` and X-Frame-Options DENY from Django's middleware). The live chat's own
pages and files under /livechat/ are left alone: the widget's standalone page may be framed by any site,
and its files carry their own sandboxing policy (openlines.views_livechat.file_download).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Paths whose responses keep their own framing and policy rules.
EXEMPT_PREFIXES = ("/livechat/",)


def staff_page_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            # Django's admin and our templates set style attributes; styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            # Client avatars and attachments may be images on the channels' servers.
            "img-src 'self' data: blob: https:",
            "media-src 'self' blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if request.path.startswith(EXEMPT_PREFIXES) or "Content-Security-Policy" in response:
            return response
        if response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = staff_page_policy(nonce)
        return response
