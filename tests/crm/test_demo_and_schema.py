"""Demo data and API documentation of the CRM."""

from __future__ import annotations

import pytest

from contactcenter.services.demo import demo_data_load
from crm.models import Contact, LeadStatus, Pipeline, Semantics

pytestmark = pytest.mark.django_db


def test_demo_data_has_pipelines_with_stages_and_lead_statuses():
    demo_data_load(password="pw-123456", history=False)
    sales = Pipeline.objects.get(is_default=True)
    assert list(sales.stages.values_list("name", flat=True))[:2] == ["New", "Preparing documents"]
    assert sales.stages.get(name="Won").semantics == Semantics.SUCCESS
    assert Pipeline.objects.count() == 2
    assert LeadStatus.objects.filter(semantics=Semantics.PROCESS).exists()
    assert LeadStatus.objects.filter(semantics=Semantics.FAILURE).exists()
    assert Contact.objects.get(name="Jana Nováková").communications.filter(value="+420601123456").exists()


def test_the_crm_endpoints_are_documented(admin_client):
    schema = admin_client.get("/api/v1/schema/").json()
    assert "post" in schema["paths"]["/sessions/{id}/crm/lead/"]
    assert "get" in schema["paths"]["/sessions/{id}/crm/"]
