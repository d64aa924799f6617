// The CRM client panel: "Create lead" posts to the API and shows the new lead's link.
(function () {
  "use strict";

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function showLink(panel, link) {
    var list = panel.querySelector("[data-crm-links]");
    var empty = list.querySelector("[data-crm-empty]");
    if (empty) empty.remove();
    var item = document.createElement("li");
    item.setAttribute("data-crm-type", link.type);
    var type = document.createElement("span");
    type.className = "crm-panel__type";
    var label = link.type_label || link.type;
    type.textContent = label.charAt(0).toUpperCase() + label.slice(1);
    var anchor = document.createElement("a");
    anchor.href = link.url;
    anchor.target = "_blank";
    anchor.rel = "noopener";
    anchor.textContent = link.title;
    item.append(type, " ", anchor);
    list.prepend(item);
  }

  function firstError(body) {
    var errors = (body && body.errors) || {};
    for (var key in errors) {
      if (errors[key] && errors[key].length) return errors[key][0];
    }
    return "";
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-crm-create-lead]");
    if (!button) return;
    var panel = button.closest("[data-crm-panel]");
    var error = panel.querySelector("[data-crm-error]");
    button.disabled = true;
    error.hidden = true;
    fetch(button.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) throw new Error(firstError(result.body) || button.dataset.failed || "Error");
        showLink(panel, result.body);
        button.remove();
      })
      .catch(function (failure) {
        error.textContent = failure.message;
        error.hidden = false;
        button.disabled = false;
      });
  });
})();
