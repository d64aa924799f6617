"""Writes on consent agreements: an edit is a new version, never a change of what a client accepted."""

from __future__ import annotations

from django.db import transaction

from openlines.models import Agreement, OpenLine


@transaction.atomic
def agreement_revise(*, agreement: Agreement) -> Agreement:
    """Store an edited agreement (changed in memory) as its next version, if its title or text changed.

    The stored row keeps the old wording for the consents already given; lines that used it move to the
    new version. Returns the row now in effect (`agreement` itself, saved as the new version).
    """
    if agreement.pk is None:
        agreement.save()
        return agreement
    stored = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if (stored.title, stored.text) == (agreement.title, agreement.text):
        return stored
    agreement.pk = None
    agreement._state.adding = True
    agreement.version = stored.version + 1
    agreement.previous = stored
    agreement.save()
    OpenLine.objects.filter(agreement=stored).update(agreement=agreement)
    return agreement
