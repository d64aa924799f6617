from __future__ import annotations

from django.db import models
from django.utils import timezone


class FloorMessage(models.Model):
    """One customer message: the row every pipeline message commits."""

    conversation = models.IntegerField(db_index=True)
    text = models.TextField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "floor_app"
        db_table = "floor_message"

    def __str__(self) -> str:
        return f"{self.conversation}: {self.text[:20]}"
