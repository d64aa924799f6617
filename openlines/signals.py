"""Extension points of the engine for other apps (CRM, KPI). Sent inside the engine's transaction, so a
receiver's writes commit or roll back with the change that caused them. Receivers must be quick and
must not call back into routing.

- `session_created(session)`: a new session, before automations and routing (CRM recognition here,
  so that `crm_forward` can route to the responsible person).
- `client_message_received(session, message)`: every client message stored in a session.
- `agent_message_sent(session, message)`: every message an agent wrote to the client.
- `session_operator_changed(session, previous_id, operator_id, manual)`: the owner changed (accept,
  transfer, forward, recall); `manual` for a transfer by a person.
- `session_closed(session)`: full close (statuses 60 and above).
- `session_pin_changed(session, pinned)`: the agent pinned or unpinned the conversation.
- `contact_form_filled(session, name, phone, email)`: the live chat visitor filled in the contact form
  while `session` was open (before the first message the details reach the next session's recognition).
"""

from django.dispatch import Signal

session_created = Signal()
client_message_received = Signal()
agent_message_sent = Signal()
session_operator_changed = Signal()
session_closed = Signal()
session_pin_changed = Signal()
contact_form_filled = Signal()
