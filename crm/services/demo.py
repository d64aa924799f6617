"""Demo CRM data: lead statuses, two deal pipelines with stages, and a known client."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from crm.models import Communication, Company, Contact, LeadStatus, Pipeline, Semantics, Source, Stage

LEAD_STATUSES = [
    ("NEW", "New", Semantics.PROCESS),
    ("IN_PROCESS", "In progress", Semantics.PROCESS),
    ("PROCESSED", "Processed", Semantics.PROCESS),
    ("CONVERTED", "Converted", Semantics.SUCCESS),
    ("JUNK", "Junk", Semantics.FAILURE),
]
PIPELINES = [
    ("Sales", True, ["New", "Preparing documents", "Invoice", "In progress", "Won", "Lost"]),
    ("Support contracts", False, ["Request", "Offer sent", "Signed", "Declined"]),
]
FINAL = {
    "Won": Semantics.SUCCESS,
    "Signed": Semantics.SUCCESS,
    "Lost": Semantics.FAILURE,
    "Declined": Semantics.FAILURE,
}


def crm_demo_load() -> None:
    for sort, (code, name, semantics) in enumerate(LEAD_STATUSES, start=1):
        LeadStatus.objects.get_or_create(
            code=code, defaults={"name": name, "sort": sort * 10, "semantics": semantics}
        )
    for sort, (name, default, stages) in enumerate(PIPELINES, start=1):
        pipeline = Pipeline.objects.create(name=name, is_default=default, sort=sort * 10)
        for position, stage in enumerate(stages, start=1):
            Stage.objects.create(
                pipeline=pipeline,
                name=stage,
                sort=position * 10,
                semantics=FINAL.get(stage, Semantics.PROCESS),
            )
    for code, name in (("WEB", "Web site"), ("CALL", "Call"), ("EMAIL", "E-mail"), ("PARTNER", "Partner")):
        Source.objects.get_or_create(code=code, defaults={"name": name})
    responsible = get_user_model().objects.filter(username="agent3").first()
    company = Company.objects.create(title="Acme s.r.o.", responsible=responsible)
    Communication.objects.create(
        company=company, kind=Communication.Kind.WEB, value="https://acme.example.com"
    )
    contact = Contact.objects.create(name="Jana Nováková", company=company, responsible=responsible)
    Communication.objects.create(contact=contact, kind=Communication.Kind.PHONE, value="+420601123456")
    Communication.objects.create(
        contact=contact, kind=Communication.Kind.EMAIL, value="jana@acme.example.com"
    )
