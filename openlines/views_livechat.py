"""Public live chat endpoints: the visitor session, file uploads and downloads, the standalone and demo pages.

The widget runs on other sites, so the JSON endpoints answer cross-origin requests (no cookies are used:
the visitor token travels in the body) and are rate limited per IP address.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from contactcenter.ratelimit import client_ip
from openlines.attachments import UploadRefused
from openlines.models import OpenLine
from openlines.services import livechat
from openlines.services.ratelimit import rate_limit_hit

UPLOADS_PER_MINUTE_PER_VISITOR = 10

logger = logging.getLogger(__name__)


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    return response


def _json_error(status: int, errors: dict[str, list[str]]) -> HttpResponse:
    return _cors(JsonResponse({"errors": errors}, status=status))


def _too_large() -> HttpResponse:
    return _json_error(413, {"__all__": [_("The request is too large.")]})


def _unavailable(line: OpenLine, refusal: livechat.LivechatUnavailable) -> HttpResponse:
    """The line takes no visitors now: what the widget shows instead of the chat, in the line's language."""
    return _cors(
        JsonResponse(
            {
                "code": "unavailable",
                "errors": {"__all__": [refusal.text]},
                "title": line.line_name,
                "language": line.language_id,
                "message": refusal.text,
            },
            status=403,
        )
    )


def _line(code: str) -> OpenLine:
    return get_object_or_404(OpenLine, code=code)


@csrf_exempt
def visitor_session(request: HttpRequest, code: str) -> HttpResponse:
    """POST {token?}: the visitor's token (a new one if missing or invalid), widget config and history."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return _json_error(405, {"__all__": [_("Use POST.")]})
    if rate_limit_hit(
        key=f"lc:session:{client_ip(request)}",
        limit=settings.LIVECHAT_RATE_LIMIT_SESSIONS_PER_MINUTE,
        window_seconds=60,
    ):
        return _json_error(429, {"__all__": [_("Too many requests; try again in a minute.")]})
    line = OpenLine.objects.filter(code=code).first()
    if line is None:
        return _json_error(404, {"__all__": [_("No such line.")]})
    refusal = livechat.livechat_refusal(line=line)
    if refusal is not None:
        return _unavailable(line, refusal)
    try:
        raw = request.body
    except RequestDataTooBig:
        return _too_large()
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested thousands deep
        return _json_error(400, {"__all__": [_("The body is not valid JSON.")]})
    token = body.get("token") if isinstance(body, dict) else None
    visitor = livechat.visitor_from_token(line=line, token=token) if isinstance(token, str) else None
    if visitor is None:
        token, visitor = livechat.visitor_token_create(line=line)
    return _cors(
        JsonResponse(
            {
                "token": token,
                "config": livechat.livechat_config(line=line),
                "state": livechat.livechat_state(line=line, visitor=visitor),
                "socket": f"/ws/livechat/{line.code}/",
            }
        )
    )


@csrf_exempt
def visitor_upload(request: HttpRequest, code: str) -> HttpResponse:
    """POST multipart (token, file): stores the file; the widget then sends a message referring to it."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return _json_error(405, {"__all__": [_("Use POST.")]})
    line = OpenLine.objects.filter(code=code).first()
    if line is None:
        return _json_error(404, {"__all__": [_("No such line.")]})
    try:
        token, upload = request.POST.get("token", ""), request.FILES.get("file")
    except RequestDataTooBig:
        return _too_large()
    except (TooManyFieldsSent, TooManyFilesSent):
        return _json_error(400, {"__all__": [_("Send one file with its token.")]})
    visitor = livechat.visitor_from_token(line=line, token=token)
    if visitor is None:
        return _json_error(403, {"__all__": [_("Reload the page to start the chat again.")]})
    refusal = livechat.livechat_refusal(line=line)
    if refusal is not None:
        return _unavailable(line, refusal)
    if rate_limit_hit(
        key=f"lc:upload:{visitor.visitor_id}", limit=UPLOADS_PER_MINUTE_PER_VISITOR, window_seconds=60
    ):
        return _json_error(429, {"__all__": [_("Too many files; try again in a minute.")]})
    if upload is None:
        return _json_error(400, {"file": [_("Choose a file.")]})
    try:
        data = livechat.livechat_file_store(
            line=line, visitor=visitor, upload=upload, address=client_ip(request)
        )
    except ValidationError as error:
        return _json_error(400, {k: [str(m) for m in v] for k, v in error.message_dict.items()})
    except UploadRefused as refused:
        return _json_error(refused.status, refused.errors)
    except OSError:
        logger.exception("Could not store a live chat upload for line %s", line.pk)
        return _json_error(500, {"__all__": [_("The file could not be stored; try again later.")]})
    return _cors(JsonResponse(data, status=201))


def file_download(request: HttpRequest, path: str) -> FileResponse:
    """A live chat file. Only images are shown inline; everything else downloads, so an uploaded page or
    script never runs on this origin."""
    if not path.startswith("livechat/") or ".." in path.split("/") or not default_storage.exists(path):
        raise Http404
    content_type, _encoding = mimetypes.guess_type(path)
    inline = content_type in livechat.INLINE_IMAGE_TYPES
    try:
        stored = default_storage.open(path, "rb")
    except (IsADirectoryError, NotADirectoryError, FileNotFoundError):
        raise Http404 from None  # e.g. the folder of an upload: exists, but is no file
    response = FileResponse(
        stored,
        as_attachment=not inline,
        filename=path.rsplit("/", 1)[-1],
        content_type=content_type if inline else "application/octet-stream",
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@xframe_options_exempt
def standalone(request: HttpRequest, code: str) -> HttpResponse:
    """A page with nothing but the chat, for direct links (e.g. from e-mails or social profiles)."""
    line = _line(code)
    return render(request, "openlines/livechat_standalone.html", {"line": line})


TRANSCRIPTS_PER_HOUR_PER_VISITOR = 5


@csrf_exempt
def visitor_transcript(request: HttpRequest, code: str) -> HttpResponse:
    """POST {token}: e-mail the visitor their latest conversation (to the address they gave)."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return _json_error(405, {"__all__": [_("Use POST.")]})
    line = OpenLine.objects.filter(code=code).first()
    if line is None:
        return _json_error(404, {"__all__": [_("No such line.")]})
    try:
        body = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, ValueError, RecursionError, RequestDataTooBig):
        return _json_error(400, {"__all__": [_("The body is not valid JSON.")]})
    token = body.get("token") if isinstance(body, dict) else None
    visitor = livechat.visitor_from_token(line=line, token=token) if isinstance(token, str) else None
    if visitor is None:
        return _json_error(403, {"__all__": [_("Reload the page to start the chat again.")]})
    if rate_limit_hit(
        key=f"lc:transcript:{visitor.visitor_id}", limit=TRANSCRIPTS_PER_HOUR_PER_VISITOR, window_seconds=3600
    ):
        return _json_error(429, {"__all__": [_("Too many requests; try again later.")]})
    try:
        mail = livechat.livechat_transcript_request(line=line, visitor=visitor)
    except ValidationError as error:
        return _json_error(400, {k: [str(m) for m in v] for k, v in error.message_dict.items()})
    return _cors(JsonResponse({"queued": True, "to": mail.to}, status=202))


def agreement_page(request: HttpRequest, code: str) -> HttpResponse:
    """The line's consent agreement, public, in the line's language (the link in the consent notice).

    Opened from a client's personal link (`?c=`), it also records their acceptance (POST "I agree").
    """
    from django.utils import translation

    from openlines.services.agreements import client_consent_record, consent_client_from_token

    line = _line(code)
    if not line.agreement_message or line.agreement is None:
        raise Http404(_("This channel asks for no consent."))
    token = (request.POST.get("c") if request.method == "POST" else request.GET.get("c")) or ""
    client = consent_client_from_token(line=line, token=token) if token else None
    if request.method == "POST":
        if client is None:
            return HttpResponse(_("This link is not valid."), status=400, content_type="text/plain")
        client = client_consent_record(client=client, line=line)
    elif request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    with translation.override(line.language_id):
        return render(
            request,
            "openlines/agreement.html",
            {"line": line, "agreement": line.agreement, "client": client, "token": token},
        )


def demo(request: HttpRequest) -> HttpResponse:
    """A sample host page embedding the widget with its one script tag (`?line=<code>` picks the line)."""
    code = request.GET.get("line", "").replace("\x00", "")  # no line code has one; the database refuses it
    line: Any = OpenLine.objects.filter(code=code).first() if code else None
    if line is None:
        line = OpenLine.objects.filter(active=True, connectors__kind="livechat").order_by("id").first()
    if line is None:
        line = OpenLine.objects.filter(active=True).order_by("id").first()
    return render(request, "openlines/livechat_demo.html", {"line": line})


def root(request: HttpRequest) -> HttpResponse:
    """The site root: staff to their workspace, everybody else to the login page."""
    if request.user.is_authenticated and request.user.is_staff:
        return redirect("agent:workspace")
    from django.conf import settings

    return redirect(f"{settings.LOGIN_URL}?next=/agent/")
