"""GET /metrics as Prometheus scrapes it: refused without the token, the deployment's figures with it."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from contactcenter.models import Connector
from tests.openlines.conftest import agents, make_line  # noqa: F401

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-123"


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    series = f"{name}{{{wanted}}}" if wanted else name
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert match, f"{series} missing from:\n{text}"
    return float(match.group(1))


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_metrics_count_messages_waiting_enquiries_and_sockets(settings, make_line, agents):  # noqa: F811
    from openlines.services.ingest import InboundClient, InboundMessage, message_ingest

    settings.METRICS_TOKEN = TOKEN
    line = make_line(queue=[])  # nobody to take it: the enquiry waits
    connector = Connector.objects.create(kind="rest", line=line, name="REST")
    message_ingest(
        connector=connector,
        client=InboundClient(external_id="c1", name="Client"),
        message=InboundMessage(external_id="m1", text="Hello?"),
    )
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert sample(text, "cc_messages_total", channel="rest", direction="in") == 1
    assert sample(text, "cc_enquiries_waiting", line=line.code) == 1
    assert sample(text, "cc_enquiry_longest_wait_seconds", line=line.code) >= 0
    assert sample(text, "cc_staff_websocket_connections") == 3
    assert sample(text, "cc_deliveries", status="failed") == 0
    assert sample(text, "cc_timer_lateness_seconds") >= 0
    assert sample(text, "cc_task_queue_depth") >= 0


def test_the_grafana_example_charts_only_metrics_the_endpoint_exports(settings):
    import json
    from pathlib import Path

    settings.METRICS_TOKEN = TOKEN
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    exported = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    path = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
    dashboard = json.loads(path.read_text())
    charted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bcc_[a-z_]+", target["expr"])
    }
    assert charted and charted <= exported
