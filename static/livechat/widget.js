/* Live chat widget: one <script src=".../static/livechat/widget.js" data-line="CODE"></script> tag.
 * Everything lives in a shadow root, so the host page's styles do not leak in and ours do not leak out.
 * User text is only ever put into the page with textContent. Messages typed while offline wait in
 * localStorage and are resent on reconnect; the server stores each client_id once. A message the server
 * refuses is marked failed and leaves the queue for good. Close codes: docs/api.md. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.line) { return; }
  var LINE = script.dataset.line;
  var INLINE = script.dataset.mode === "inline";
  var BASE = new URL(script.src, location.href).origin;
  var KEY = "cc-livechat:" + BASE + ":" + LINE;

  function store(name, value) {
    try {
      if (value === undefined) { return JSON.parse(localStorage.getItem(KEY + ":" + name) || "null"); }
      localStorage.setItem(KEY + ":" + name, JSON.stringify(value));
    } catch (e) { return null; }
    return value;
  }
  function uid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID().replace(/-/g, ""); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* ---- DOM ---- */
  // A custom element rather than a div, so the host page's element selectors (div, section...) miss it.
  var host = document.createElement("cc-livechat");
  host.setAttribute("data-cc-livechat", LINE);
  var root = host.attachShadow({ mode: "open" });
  var css = document.createElement("link");
  css.rel = "stylesheet";
  // Relative to this script; collectstatic substitutes the stylesheet's hashed name.
  css.href = new URL("widget.css", script.src).href;
  root.appendChild(css);

  function icon(path) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon");
    var p = document.createElementNS("http://www.w3.org/2000/svg", "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }
  var CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var CLIP_ICON = "M16.5 6.5l-7.8 7.8a1.5 1.5 0 0 0 2.1 2.1l7.8-7.8a3 3 0 0 0-4.2-4.2l-7.8 7.8a4.5 4.5 0 0 0 6.4 6.4l7.1-7.1";
  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("part", "launcher");
  var badge = el("span", "badge");
  badge.hidden = true;
  launcher.appendChild(icon(CHAT_ICON));
  launcher.appendChild(badge);

  var panel = el("section", "panel" + (INLINE ? " inline" : ""));
  panel.setAttribute("role", "dialog");
  panel.hidden = !INLINE;
  var header = el("header", "header");
  var avatar = el("img", "avatar");
  avatar.alt = "";
  avatar.hidden = true;
  var titles = el("div", "titles");
  var title = el("div", "title");
  var agentLine = el("div", "agent");
  titles.appendChild(title);
  titles.appendChild(agentLine);
  var closeBtn = el("button", "close", "\u00D7");
  closeBtn.type = "button";
  header.appendChild(avatar);
  header.appendChild(titles);
  if (!INLINE) { header.appendChild(closeBtn); }

  var list = el("div", "messages");
  list.setAttribute("aria-live", "polite");
  var welcome = el("div", "welcome");
  var status = el("div", "status");
  var typingLine = el("div", "typing");
  var consentBox = el("div", "consent");
  var formBox = el("form", "contact-form");
  var rateBox = el("div", "rate");
  var composer = el("form", "composer");
  var input = el("textarea", "input");
  input.rows = 1;
  var fileInput = el("input");
  fileInput.type = "file";
  fileInput.hidden = true;
  var attachBtn = el("button", "attach");
  attachBtn.appendChild(icon(CLIP_ICON));
  attachBtn.type = "button";
  var sendBtn = el("button", "send");
  sendBtn.type = "submit";
  composer.appendChild(attachBtn);
  composer.appendChild(fileInput);
  composer.appendChild(input);
  composer.appendChild(sendBtn);
  var transcriptBtn = el("button", "transcript");
  transcriptBtn.type = "button";
  transcriptBtn.hidden = true;
  [header, list, typingLine, status, consentBox, formBox, rateBox, composer, transcriptBtn].forEach(function (n) { panel.appendChild(n); });
  list.appendChild(welcome);
  if (!INLINE) { root.appendChild(launcher); }
  root.appendChild(panel);

  /* ---- State ---- */
  var config = null, state = null, socket = null, token = store("token");
  var lastEventId = 0, retries = 0, seen = {}, unread = 0, lastTyping = 0, typingTimer = null;
  var outbox = store("outbox") || [];
  var S = {};

  function setStatus(text) { status.textContent = text || ""; status.hidden = !text; }

  /* The line takes no visitors now (line off, live chat disconnected or switched off): show the server's
   * notice (in the line's language), lock the composer, and ask again now and then. */
  var UNAVAILABLE_RETRY_MS = 60000, unavailableTimer = null;
  function showUnavailable(notice) {
    panel.classList.add("unavailable");
    if (notice.title) { title.textContent = notice.title; }
    if (notice.language) { panel.lang = notice.language; }
    [consentBox, formBox, rateBox, typingLine].forEach(function (n) { n.hidden = true; });
    input.disabled = sendBtn.disabled = attachBtn.disabled = true;
    setStatus(notice.message || "");
    clearTimeout(unavailableTimer);
    unavailableTimer = setTimeout(start, UNAVAILABLE_RETRY_MS);
  }

  function identity(agent) {
    if (!agent) { agentLine.textContent = ""; avatar.hidden = true; return; }
    agentLine.textContent = agent.position ? agent.name + " \u00B7 " + agent.position : agent.name;
    if (agent.avatar_url) { avatar.src = new URL(agent.avatar_url, BASE).href; avatar.hidden = false; }
    else { avatar.hidden = true; }
  }

  function attachmentNode(file) {
    var url = new URL(file.url, BASE).href;
    if (file.image) {
      var img = el("img", "attachment-image");
      img.src = url;
      img.alt = file.name || "";
      return img;
    }
    var link = el("a", "attachment", file.name || "file");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    return link;
  }

  function render(message, pending) {
    if (message.id && seen[message.id]) { return; }
    if (message.client_id) {
      var mine = list.querySelector('[data-client-id="' + CSS.escape(message.client_id) + '"]');
      if (mine) { mine.remove(); }
    }
    if (message.id) { seen[message.id] = true; }
    welcome.hidden = true;  // the greeting is a placeholder until the conversation has messages
    var who = message.author_type;
    var bubble = el("div", "msg msg-" + who + (pending ? " pending" : ""));
    if (message.client_id) { bubble.dataset.clientId = message.client_id; }
    if (message.id) { bubble.dataset.id = message.id; }
    if (who === "agent" && message.author) {
      bubble.appendChild(el("div", "author", message.author.name));
      identity(message.author);
    }
    if (message.text) { bubble.appendChild(el("div", "text", message.text)); }
    (message.attachments || []).forEach(function (f) { bubble.appendChild(attachmentNode(f)); });
    if (pending) { bubble.appendChild(el("div", "meta", S.queued)); }
    list.appendChild(bubble);
    list.scrollTop = list.scrollHeight;
    if (!pending && who !== "client" && panel.hidden) { unread += 1; badge.textContent = unread; badge.hidden = false; }
  }

  function showConsent() {
    consentBox.textContent = "";
    var needed = config.consent && !state.consent_given;
    consentBox.hidden = !needed;
    input.disabled = sendBtn.disabled = attachBtn.disabled = !!needed;
    if (!needed) { return; }
    consentBox.appendChild(el("div", "consent-title", config.consent.title));
    consentBox.appendChild(el("div", "consent-text", config.consent.text));
    var accept = el("button", "consent-accept", S.consent_accept);
    accept.type = "button";
    accept.addEventListener("click", function () { send({ type: "consent" }); });
    consentBox.appendChild(accept);
  }

  function showForm(show) {
    formBox.textContent = "";
    formBox.hidden = !show;
    if (!show) { return; }
    formBox.appendChild(el("div", "form-title", S.form_title));
    [["name", "text"], ["email", "email"], ["phone", "tel"]].forEach(function (f) {
      var label = el("label", "field");
      label.appendChild(el("span", null, S["form_" + f[0]]));
      var field = el("input");
      field.name = f[0];
      field.type = f[1];
      label.appendChild(field);
      label.appendChild(el("span", "error"));
      formBox.appendChild(label);
    });
    formBox.appendChild(el("div", "error form-error"));
    var submit = el("button", "form-submit", S.form_submit);
    submit.type = "submit";
    var skip = el("button", "form-skip", S.form_skip);
    skip.type = "button";
    skip.addEventListener("click", function () { state.form_skipped = true; showForm(false); });
    formBox.appendChild(submit);
    formBox.appendChild(skip);
  }

  function formWanted() {
    if (!config.form || state.form_filled || state.form_skipped) { return false; }
    return config.form.after_first_message ? state.has_written : true;
  }

  function showRate(show) {
    rateBox.textContent = "";
    rateBox.hidden = !show;
    if (!show) { return; }
    rateBox.appendChild(el("div", "rate-prompt", (config.vote && config.vote.prompt) || S.rate_prompt));
    [["like", S.rate_like], ["dislike", S.rate_dislike]].forEach(function (v) {
      var b = el("button", "rate-" + v[0], v[1]);
      b.type = "button";
      b.addEventListener("click", function () { send({ type: "rate", vote: v[0] }); });
      rateBox.appendChild(b);
    });
  }

  /* ---- Socket ---- */
  function send(obj) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(obj)); return true; }
    return false;
  }

  function flushOutbox() {
    outbox.forEach(function (m) { send({ type: "message", client_id: m.client_id, text: m.text, attachments: m.attachments, url: location.href, since: lastEventId }); });
  }

  /* Event ids received, with when (ms): a resync lists those of the server's lookback window as "have",
   * so an event committed late with an id below the cursor still comes (messages dedupe by message id). */
  var received = {}, lookback = 60;
  var RESYNC_MARGIN = 30, HAVE_MAX = 1000;
  function haveIds() {
    var newest = received[lastEventId] || Date.now();
    var from = newest - (lookback + RESYNC_MARGIN) * 1000;
    var ids = [];
    Object.keys(received).forEach(function (key) {
      if (received[key] >= from) { ids.push(Number(key)); } else { delete received[key]; }
    });
    ids.sort(function (a, b) { return b - a; });
    return ids.slice(0, HAVE_MAX);
  }
  function resync() {
    send({ type: "resync", since: lastEventId, have: haveIds() });
  }

  function handleEvent(ev) {
    var fresh = !!ev.id && !received[ev.id];
    if (ev.id && !received[ev.id]) { received[ev.id] = Date.now(); }
    if (ev.id && ev.id > lastEventId) { lastEventId = ev.id; }
    if (ev.type === "message.new") {
      render(ev.message, false);
      if (ev.message.author_type !== "client") { typingLine.hidden = true; }
    } else if (ev.type === "typing") {
      typingLine.textContent = S.typing.replace("{name}", ev.name || S.agent);
      typingLine.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typingLine.hidden = true; }, 4000);
    } else if (ev.type === "queue.position") {
      setStatus(ev.position ? S.queue_position.replace("{position}", ev.position) : "");
    } else if (ev.type === "rating.requested") {
      state.wait_vote = true;
      showRate(true);
    } else if (ev.type === "rating.received") {
      state.wait_vote = false;
      state.vote = ev.vote;
      showRate(false);
      setStatus(S.rated);
    } else if (ev.type === "session.closed") {
      state.open = false;
      if (!state.wait_vote) { setStatus(state.vote ? S.rated + " " + S.closed : S.closed); }
    }
    return fresh;
  }

  function onMessage(data) {
    var msg;
    try { msg = JSON.parse(data); } catch (e) { return; }
    if (msg.type === "hello") {
      retries = 0;
      setStatus("");
      if (msg.resync_lookback) { lookback = msg.resync_lookback; }
      if (msg.resync_every) { resyncEvery = msg.resync_every; }
      scheduleResync();
      resync();
      flushOutbox();
    } else if (msg.type === "ack") {
      outbox = outbox.filter(function (m) { return m.client_id !== msg.client_id; });
      store("outbox", outbox);
      var pending = list.querySelector('[data-client-id="' + CSS.escape(msg.client_id || "") + '"].pending');
      if (pending) { pending.classList.remove("pending"); var meta = pending.querySelector(".meta"); if (meta) { meta.remove(); } }
      if (!state.has_written) { state.has_written = true; showForm(formWanted()); }
      transcriptBtn.hidden = false;
    } else if (msg.type === "resync") {
      var fresh = (msg.events || []).filter(handleEvent).length;
      // Capped answer: ask again from the new cursor (unless it brought nothing new: no progress).
      if (msg.more && fresh) { resync(); }
    } else if (msg.type === "consent.ok") {
      state.consent_given = true;
      showConsent();
    } else if (msg.type === "unavailable") {
      showUnavailable({ message: msg.message });
    } else if (msg.type === "form.ok") {
      state.form_filled = true;
      showForm(false);
      setStatus(S.form_thanks);
    } else if (msg.type === "error") {
      if (msg.code === "rate_limited") {
        setStatus(S.too_fast);
        setTimeout(flushOutbox, 5000);
      } else if (msg.request === "form") {
        var errors = msg.errors || {};
        formBox.querySelectorAll(".field").forEach(function (label) {
          var name = label.querySelector("input").name;
          label.querySelector(".error").textContent = (errors[name] || []).join(" ");
        });
        formBox.querySelector(".form-error").textContent = (errors.__all__ || []).join(" ");
      } else if (msg.client_id && msg.code === "server_error" && retryLater(msg.client_id)) {
        setStatus(S.offline);
      } else if (msg.client_id) {
        // Refused for good (or failed again and again): marked failed and never resent, even after a reload.
        outbox = outbox.filter(function (m) { return m.client_id !== msg.client_id; });
        store("outbox", outbox);
        var failed = list.querySelector('[data-client-id="' + CSS.escape(msg.client_id) + '"]');
        if (failed) {
          failed.classList.remove("pending");
          failed.classList.add("failed");
          var failedMeta = failed.querySelector(".meta");
          if (failedMeta) { failedMeta.remove(); }
        }
        setStatus(Object.values(msg.errors || {}).flat().join(" "));
      } else if (msg.errors && msg.errors.__all__) {
        setStatus(msg.errors.__all__.join(" "));
      } else if (msg.errors && msg.errors.vote) {
        setStatus(msg.errors.vote.join(" "));
      }
    } else if (msg.type) {
      handleEvent(msg);
    }
  }

  /* A message the server failed to handle (not refused) is resent a few times, ever later, then marked failed. */
  var SERVER_ERROR_RETRIES = 5;
  function retryLater(clientId) {
    var m = outbox.filter(function (o) { return o.client_id === clientId; })[0];
    if (!m) { return false; }
    m.attempts = (m.attempts || 0) + 1;
    store("outbox", outbox);
    if (m.attempts >= SERVER_ERROR_RETRIES) { return false; }
    setTimeout(flushOutbox, 5000 * m.attempts);
    return true;
  }

  // Also resync now and then while connected: a push lost without the socket closing (its sender died
  // between commit and push) comes with no reconnect. Jittered so reconnected widgets do not ask together.
  var resyncEvery = 30, resyncTimer = null;
  function scheduleResync() {
    clearTimeout(resyncTimer);
    resyncTimer = setTimeout(function () {
      if (socket && socket.readyState === WebSocket.OPEN && state && (state.open || state.has_written)) { resync(); }
      scheduleResync();
    }, resyncEvery * (1 + Math.random() * 0.2) * 1000);
  }

  function connect() {
    var url = BASE.replace(/^http/, "ws") + "/ws/livechat/" + encodeURIComponent(LINE) + "/?token=" + encodeURIComponent(token);
    socket = new WebSocket(url);
    socket.onmessage = function (e) { onMessage(e.data); };
    socket.onclose = function (e) {
      socket = null;
      // Application close codes (docs/api.md). 4403: the visitor token is not valid (any more): start a new
      // conversation. 4404: the line does not exist: reconnecting cannot help.
      if (e.code === 4403) { token = null; store("token", null); start(); return; }
      if (e.code === 4410) { return; }  // unavailable: showUnavailable asks again later
      if (e.code === 4404) { setStatus("\u26A0"); return; }
      setStatus(S.offline);
      var delay = Math.min(15000, 1000 * Math.pow(2, retries)) + Math.random() * 500;
      retries += 1;
      setTimeout(connect, delay);
    };
  }

  function start() {
    fetch(BASE + "/livechat/" + encodeURIComponent(LINE) + "/session/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: token })
    }).then(function (r) {
      if (r.status === 403) {
        return r.json().then(function (data) {
          if (data.code !== "unavailable") { throw new Error("HTTP 403"); }
          showUnavailable(data);
          return null;
        });
      }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (data) {
      if (!data) { return; }
      panel.classList.remove("unavailable");
      token = data.token;
      store("token", token);
      config = data.config;
      state = data.state;
      S = config.strings;
      // Resume after the snapshot; the recent events it already reflects count as received, so the first
      // resync brings exactly what committed after it, whatever its id.
      lastEventId = state.last_event_id || 0;
      var now = Date.now();
      received = {};
      (state.recent_event_ids || []).concat(lastEventId ? [lastEventId] : []).forEach(function (id) { received[id] = now; });
      document.documentElement.lang = document.documentElement.lang || config.language;
      panel.lang = config.language;
      title.textContent = config.title;
      launcher.setAttribute("aria-label", S.open);
      launcher.title = S.open;
      closeBtn.setAttribute("aria-label", S.close);
      input.placeholder = S.placeholder;
      sendBtn.textContent = S.send;
      attachBtn.title = S.attach;
      attachBtn.setAttribute("aria-label", S.attach);
      transcriptBtn.textContent = S.transcript_request;
      transcriptBtn.hidden = !state.has_written;
      welcome.textContent = config.welcome || "";
      welcome.hidden = !config.welcome;
      identity(state.agent);
      state.history.forEach(function (m) { render(m, false); });
      outbox.forEach(function (m) { render({ client_id: m.client_id, author_type: "client", text: m.text, attachments: (m.attachments || []).map(function (a) { return a.file; }) }, true); });
      showConsent();
      showForm(formWanted());
      showRate(state.wait_vote && !state.vote);
      setStatus("");
      connect();
    }).catch(function () {
      setStatus("\u26A0");
      setTimeout(start, 5000);
    });
  }

  /* ---- Input ---- */
  function submitMessage(text, attachments) {
    if (!state.open) { state.open = true; state.vote = null; state.wait_vote = false; showRate(false); setStatus(""); }
    var m = { client_id: uid(), text: text, attachments: attachments || [] };
    outbox.push(m);
    store("outbox", outbox);
    render({ client_id: m.client_id, author_type: "client", text: m.text, attachments: (attachments || []).map(function (a) { return a.file; }) }, true);
    if (!send({ type: "message", client_id: m.client_id, text: m.text, attachments: m.attachments.map(function (a) { return { token: a.token }; }), url: location.href, since: lastEventId })) {
      setStatus(S.offline);
    }
  }

  composer.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || input.disabled) { return; }
    input.value = "";
    submitMessage(text);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit(); }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTyping > 1000) { lastTyping = now; send({ type: "typing", text: input.value.slice(0, 500) }); }
  });
  attachBtn.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) { return; }
    if (file.size > 10 * 1024 * 1024) { setStatus(S.file_too_large); return; }
    var body = new FormData();
    body.append("token", token);
    body.append("file", file);
    fetch(BASE + "/livechat/" + encodeURIComponent(LINE) + "/upload/", { method: "POST", body: body })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
      .then(function (res) {
        if (!res.ok) { setStatus(Object.values(res.data.errors || {}).flat().join(" ")); return; }
        submitMessage("", [{ token: res.data.token, file: res.data }]);
      })
      .catch(function () { setStatus(S.offline); });
  });
  transcriptBtn.addEventListener("click", function () {
    fetch(BASE + "/livechat/" + encodeURIComponent(LINE) + "/transcript/", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: token })
    })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
      .then(function (res) {
        setStatus(res.ok ? S.transcript_sent : Object.values(res.data.errors || {}).flat().join(" "));
      })
      .catch(function () { setStatus(S.offline); });
  });
  formBox.addEventListener("submit", function (e) {
    e.preventDefault();
    var data = { type: "form" };
    formBox.querySelectorAll("input").forEach(function (f) { data[f.name] = f.value; });
    if (!send(data)) { setStatus(S.offline); }
  });
  launcher.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    if (!panel.hidden) { unread = 0; badge.hidden = true; input.focus(); list.scrollTop = list.scrollHeight; }
  });
  closeBtn.addEventListener("click", function () { panel.hidden = true; });

  function mount() {
    var target = INLINE && script.dataset.target ? document.getElementById(script.dataset.target) : null;
    (target || document.body).appendChild(host);
    start();
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
