"""Staff pages work in a real browser under their Content-Security-Policy: no violation is reported while
the admin, the line form, the workspace, the chat list, the reports and the Contact Center page load and run
their scripts."""

from __future__ import annotations

import pytest

from tests.access_helpers import fast_passwords, make_line  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def test_staff_pages_run_under_the_policy_without_violations(live_server, admin_user, browser):
    line = make_line("Support", users=(admin_user,))
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: console.append(str(error)))
    page.add_init_script(RECORD_VIOLATIONS)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")

    checks = {
        "/admin/": "#content",
        f"/admin/openlines/openline/{line.pk}/change/": "form",
        "/agent/": "body",
        "/chats/": "body",
        "/reports/": "canvas",
        "/contact-center/": "li[data-kind]",
        "/api/v1/docs/": "nav",
    }
    for path, selector in checks.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_selector(selector)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == [], path
    # The reports page drew its charts (Chart.js runs under the policy).
    page.goto(f"{live_server.url}/reports/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.querySelectorAll('canvas').length") >= 1
    violations = [text for text in console if "Content Security Policy" in text]
    assert violations == []
