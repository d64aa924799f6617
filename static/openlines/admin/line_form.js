/* Open line settings form: tabs, fields that only apply to another choice, texts that follow the language.
 *
 * The configuration comes from the server (#ol-line-form-config): the tab list, the visibility rules of
 * openlines.validation.VISIBILITY (the server applies the same rules), and the default texts per language.
 * Without JavaScript the form still works: every block is shown and the server validates everything.
 */
(function () {
  "use strict";

  function readConfig() {
    var node = document.getElementById("ol-line-form-config");
    return node ? JSON.parse(node.textContent) : null;
  }

  function formElement() {
    return document.getElementById("openline_form");
  }

  /* --- values ------------------------------------------------------------------------------------ */

  function fieldValue(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    if (!inputs.length) return undefined;
    var first = inputs[0];
    if (first.type === "checkbox" && inputs.length === 1) return first.checked;
    if (first.type === "radio" || first.type === "checkbox") {
      for (var i = 0; i < inputs.length; i++) if (inputs[i].checked) return inputs[i].value;
      return undefined;
    }
    return first.value;
  }

  function ruleHolds(form, alternatives) {
    return alternatives.some(function (alternative) {
      return Object.keys(alternative).every(function (name) {
        var value = fieldValue(form, name);
        return alternative[name].some(function (allowed) {
          return allowed === value || (typeof allowed !== "boolean" && String(allowed) === value);
        });
      });
    });
  }

  /* --- conditional fields ------------------------------------------------------------------------ */

  function applyVisibility(form, config) {
    Object.keys(config.visibility).forEach(function (name) {
      var visible = ruleHolds(form, config.visibility[name]);
      form.querySelectorAll(".form-row.field-" + name).forEach(function (row) {
        // A field with an error stays visible, so no message is ever hidden from the user.
        var hide = !visible && !row.classList.contains("errors") && !row.querySelector(".errorlist");
        row.classList.toggle("ol-hidden", hide);
        row.setAttribute("aria-hidden", hide ? "true" : "false");
      });
    });
    Object.keys(config.inlineVisibility || {}).forEach(function (name) {
      var visible = ruleHolds(form, config.inlineVisibility[name]);
      form.querySelectorAll("th.column-" + name + ", td.field-" + name).forEach(function (cell) {
        cell.classList.toggle("ol-hidden", !visible && !cell.querySelector(".errorlist"));
      });
    });
  }

  /* --- tabs -------------------------------------------------------------------------------------- */

  function buildTabs(form, config) {
    var fieldsets = form.querySelectorAll("fieldset.ol-tab");
    if (!fieldsets.length) return null;
    var nav = document.createElement("div");
    nav.className = "ol-tabs";
    nav.setAttribute("role", "tablist");
    nav.setAttribute("aria-label", config.tabsLabel || "");
    fieldsets[0].parentNode.insertBefore(nav, fieldsets[0]);

    var panels = {};
    config.tabs.forEach(function (tab) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "ol-tab-button";
      button.id = "ol-tab-button-" + tab.id;
      button.dataset.tab = tab.id;
      button.setAttribute("role", "tab");
      button.setAttribute("aria-controls", "ol-tab-panel-" + tab.id);
      button.textContent = tab.title;
      nav.appendChild(button);

      var panel = document.createElement("div");
      panel.className = "ol-tab-panel";
      panel.id = "ol-tab-panel-" + tab.id;
      panel.dataset.tab = tab.id;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", button.id);
      panels[tab.id] = panel;
    });

    var anchor = nav;
    config.tabs.forEach(function (tab) {
      anchor.parentNode.insertBefore(panels[tab.id], anchor.nextSibling);
      anchor = panels[tab.id];
      form.querySelectorAll("fieldset.ol-tab-" + tab.id).forEach(function (fieldset) {
        panels[tab.id].appendChild(fieldset);
      });
    });

    // The agent queue is an inline formset rendered after all fieldsets; it belongs to the Queue tab,
    // right after its first block.
    var queue = document.getElementById("queue-group");
    if (queue && panels.queue) {
      var firstBlock = panels.queue.querySelector("fieldset");
      panels.queue.insertBefore(queue, firstBlock ? firstBlock.nextSibling : null);
    }

    config.tabs.forEach(function (tab) {
      var panel = panels[tab.id];
      var hasErrors = !!panel.querySelector(".errorlist, .errors");
      var button = document.getElementById("ol-tab-button-" + tab.id);
      button.classList.toggle("ol-has-errors", hasErrors);
      if (hasErrors) button.setAttribute("title", button.textContent);
    });

    nav.addEventListener("click", function (event) {
      var button = event.target.closest(".ol-tab-button");
      if (button) activate(button.dataset.tab, true);
    });
    nav.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      var ids = config.tabs.map(function (tab) { return tab.id; });
      var current = ids.indexOf(document.activeElement.dataset.tab);
      if (current < 0) return;
      var next = ids[(current + (event.key === "ArrowRight" ? 1 : ids.length - 1)) % ids.length];
      activate(next, true);
      document.getElementById("ol-tab-button-" + next).focus();
      event.preventDefault();
    });

    function activate(id, remember) {
      config.tabs.forEach(function (tab) {
        var selected = tab.id === id;
        var button = document.getElementById("ol-tab-button-" + tab.id);
        button.classList.toggle("ol-selected", selected);
        button.setAttribute("aria-selected", selected ? "true" : "false");
        button.tabIndex = selected ? 0 : -1;
        panels[tab.id].hidden = !selected;
      });
      if (remember && window.history && window.history.replaceState) {
        window.history.replaceState(null, "", "#tab-" + id);
      }
    }

    var fromHash = (window.location.hash.match(/^#tab-([\w-]+)$/) || [])[1];
    var withErrors = config.tabs.filter(function (tab) {
      return document.getElementById("ol-tab-button-" + tab.id).classList.contains("ol-has-errors");
    });
    var known = config.tabs.some(function (tab) { return tab.id === fromHash; });
    activate(withErrors.length ? withErrors[0].id : known ? fromHash : config.tabs[0].id, false);
    return activate;
  }

  /* --- texts follow the language ----------------------------------------------------------------- */

  function watchLanguage(form, config) {
    var select = form.querySelector('[name="language_id"]');
    if (!select) return;
    var previous = select.value;
    select.addEventListener("change", function () {
      var before = config.defaultTexts[previous] || {};
      var after = config.defaultTexts[select.value] || {};
      var replaced = 0;
      Object.keys(config.textFields).forEach(function (key) {
        var input = form.querySelector('[name="' + config.textFields[key] + '"]');
        // Only texts still equal to the old language's default are swapped; the server does the same.
        if (input && after[key] !== undefined && input.value === before[key]) {
          input.value = after[key];
          replaced += 1;
        }
      });
      previous = select.value;
      var note = document.getElementById("ol-language-note");
      if (!note) {
        note = document.createElement("div");
        note.id = "ol-language-note";
        note.className = "help ol-language-note";
        note.setAttribute("role", "status");
        select.parentNode.appendChild(note);
      }
      note.textContent = select.dataset.replacedMessage
        ? select.dataset.replacedMessage.replace("%(count)s", replaced)
        : replaced + " automatic texts switched to the new language; texts you wrote are kept.";
    });
  }

  function init() {
    var config = readConfig();
    var form = formElement();
    if (!config || !form) return;
    document.body.classList.add("ol-line-form-ready");
    buildTabs(form, config);
    applyVisibility(form, config);
    form.addEventListener("change", function () { applyVisibility(form, config); });
    document.addEventListener("formset:added", function () { applyVisibility(form, config); });
    watchLanguage(form, config);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
