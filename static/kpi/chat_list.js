"use strict";
// Chat list: conversation history in a side panel, supervisor rating from the list, select all.
(function () {
  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function urlFor(template, id) {
    return template.replace("/0/", "/" + id + "/");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.querySelector(".kpi-page");
    if (!page) return;
    const panel = document.getElementById("kpi-panel");
    const body = panel.querySelector(".kpi-panel-body");

    // The conversation the panel shows, and the one last asked for: a response that arrives after a later
    // click is dropped, and asking again for the shown conversation (e.g. "rate" after "history") keeps the
    // form as it is, so nothing typed into it is replaced.
    let shownId = null;
    let wantedId = null;

    function focusRating(form) {
      const vote = form && form.querySelector("input[name=vote_head]");
      if (vote) vote.focus();
    }

    function openHistory(id, wantsRating) {
      wantedId = id;
      if (id === shownId && !panel.hidden) {
        if (wantsRating) focusRating(body.querySelector(".kpi-rate-form"));
        return;
      }
      fetch(urlFor(page.dataset.historyUrl, id), {credentials: "same-origin"})
        .then((response) => {
          if (!response.ok) throw new Error(response.status);
          return response.text();
        })
        .then((html) => {
          if (wantedId !== id) return;
          body.innerHTML = html; // rendered and escaped by the server
          shownId = id;
          panel.hidden = false;
          const form = body.querySelector(".kpi-rate-form");
          if (form) {
            form.addEventListener("submit", submitRating);
            if (wantsRating) focusRating(form);
          }
        })
        .catch(() => {
          if (wantedId !== id) return;
          body.textContent = page.dataset.errorText || "Error";
          shownId = null;
          panel.hidden = false;
        });
    }

    function submitRating(event) {
      event.preventDefault();
      const form = event.currentTarget;
      const errors = form.querySelector("[data-errors]");
      errors.textContent = "";
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: {"X-CSRFToken": csrfToken()},
      })
        .then((response) => response.json().then((data) => ({ok: response.ok, data})))
        .then(({ok, data}) => {
          if (!ok) {
            errors.textContent = Object.values(data.errors || {}).flat().join(" ");
            return;
          }
          const row = document.querySelector(`tr[data-session="${data.id}"]`);
          if (row) {
            const stars = row.querySelector(".kpi-stars");
            if (stars) { stars.dataset.value = data.vote_head; stars.textContent = data.vote_head ? data.vote_head + " ★" : ""; }
            const comment = row.querySelector("td[data-column=comment_head]");
            if (comment) comment.textContent = data.comment_head.length > 80 ? data.comment_head.slice(0, 79) + "…" : data.comment_head;
          }
          form.classList.add("kpi-saved");
        });
    }

    document.addEventListener("click", (event) => {
      const history = event.target.closest(".kpi-history-button");
      if (history) openHistory(history.dataset.id, false);
      const rate = event.target.closest(".kpi-rate-button");
      if (rate) openHistory(rate.dataset.id, true);
      if (event.target.closest(".kpi-panel-close")) panel.hidden = true;
    });

    const all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", () => {
        document.querySelectorAll("input[name=ids]").forEach((box) => { box.checked = all.checked; });
      });
    }

    if (page.dataset.history) openHistory(page.dataset.history, false);
  });
})();
