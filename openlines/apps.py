from functools import partial
from typing import Any

from django.apps import AppConfig
from django.db import transaction
from django.utils.translation import gettext_lazy as _

_registered: list[Any] = []


class OpenLinesConfig(AppConfig):
    name = "openlines"
    verbose_name = _("Open lines")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from contactcenter.models import EmployeeProfile
        from contactcenter.services.demo import register_demo_loader
        from contactcenter.signals import availability_changed
        from openlines import timers  # noqa: F401  (registers the session deadline applier)
        from openlines.demo import demo_openlines_load
        from openlines.models import QueueMember
        from openlines.services import transcripts  # noqa: F401  (registers the transcript retries)
        from openlines.signals import session_closed, session_operator_changed

        if demo_openlines_load not in _registered:
            register_demo_loader(demo_openlines_load)
            _registered.append(demo_openlines_load)
        availability_changed.connect(_on_availability_changed, dispatch_uid="openlines.routing")
        session_operator_changed.connect(_on_operator_changed, dispatch_uid="openlines.global_cap_owner")
        session_closed.connect(_on_session_closed, dispatch_uid="openlines.global_cap_close")
        # Queue membership is edited in the admin (inlines, department members): whatever the path, the
        # routing state follows it once the change commits.
        post_save.connect(_on_queue_member_changed, sender=QueueMember, dispatch_uid="openlines.queue_save")
        post_delete.connect(
            _on_queue_member_changed, sender=QueueMember, dispatch_uid="openlines.queue_delete"
        )
        m2m_changed.connect(
            _on_departments_changed,
            sender=EmployeeProfile.departments.through,
            dispatch_uid="openlines.depts",
        )


def _on_availability_changed(
    sender: Any, *, user_id: int, available: bool, reason: str, **kwargs: Any
) -> None:
    from openlines.services.routing import on_availability_changed

    on_availability_changed(user_id, available, reason)


def _conversation_left_agent(user_id: int) -> None:
    from openlines.services.routing import agent_back_below_global_cap

    transaction.on_commit(partial(agent_back_below_global_cap, user_id, lost=1))


def _on_operator_changed(sender: Any, *, previous_id: int | None, **kwargs: Any) -> None:
    if previous_id is not None:
        _conversation_left_agent(previous_id)


def _on_session_closed(sender: Any, *, session: Any, **kwargs: Any) -> None:
    if session.operator_id is not None:
        _conversation_left_agent(session.operator_id)


def _on_queue_member_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from openlines.services.routing import line_queue_sync

    transaction.on_commit(partial(line_queue_sync, instance.line_id))


def _on_departments_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    from openlines.services.routing import line_queue_sync, user_line_ids

    user_id = getattr(instance, "user_id", None)
    if user_id is None:
        return
    from openlines.models import QueueMember

    line_ids = set(user_line_ids(user_id)) | set(
        QueueMember.objects.filter(department__isnull=False).values_list("line_id", flat=True)
    )
    for line_id in line_ids:
        transaction.on_commit(partial(line_queue_sync, line_id))
