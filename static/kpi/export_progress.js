// Polls the export's progress (the page's script tag carries the JSON URL).
(function () {
  const url = document.currentScript.dataset.url;
  const bar = document.getElementById("export-progress");
  const state = document.getElementById("export-state");
  const link = document.getElementById("export-link");
  const error = document.getElementById("export-error");
  function poll() {
    fetch(url, {credentials: "same-origin"}).then((r) => r.json()).then((s) => {
      bar.max = Math.max(s.total, 1); bar.value = s.done;
      state.textContent = s.done + " / " + s.total;
      if (s.url) { link.hidden = false; link.querySelector("a").href = s.url; return; }
      if (s.state === "failed") { error.hidden = false; error.textContent = s.error; return; }
      setTimeout(poll, 1000);
    }).catch(() => setTimeout(poll, 3000));
  }
  poll();
})();
