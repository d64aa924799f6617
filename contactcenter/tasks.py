"""django-q2 entry points of the contact center (connectors)."""

from __future__ import annotations

from contactcenter.services.outbound import outbound_delivery_attempt

__all__ = ["outbound_delivery_attempt"]
