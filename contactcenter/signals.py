"""Hooks other apps subscribe to; the contact center core does not import them.

`availability_changed` is sent after commit whenever something that decides an agent's availability
changed (work day, absence, pause, presence, dismissal); routing listens to it to offer waiting
enquiries or recall unanswered ones.
"""

from django.dispatch import Signal

# kwargs: user_id: int, available: bool, reason: str ("" when available, else an Unavailability value)
availability_changed = Signal()
