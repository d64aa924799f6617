/* Agent workspace. State comes from /agent/api/ (reads, actions) and live events from /ws/staff/.
 * After a disconnect the socket reconnects with backoff and asks for the events missed since the last id,
 * listing the ids it received in the last minute or so ("have"): an event committed late with a lower id
 * comes then too (see docs/architecture.md, "Realtime events and resync");
 * every tab of the same agent receives the same events, so tabs stay in sync. User text only ever goes
 * into the page through textContent. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("agent-strings").textContent);
  var ME = Number(document.currentScript.dataset.userId);
  var API = "/agent/api/";
  var $ = function (id) { return document.getElementById(id); };

  var sessions = [], supervised = [], current = null, currentId = null;
  var socket = null, lastEventId = 0, retries = 0, seen = {}, oldestId = null;
  var listTimer = null, detailTimer = null, lastTypingSent = 0, typingTimer = null;
  var canned = { open: false, items: [], index: 0 };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function api(path, body) {
    var opts = { credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = csrf();
      opts.body = JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error("HTTP " + r.status); e.status = r.status; e.data = data; throw e; }
        return data;
      });
    });
  }
  function errorText(err) {
    var errors = (err.data && err.data.errors) || {};
    var parts = [];
    Object.keys(errors).forEach(function (k) { parts = parts.concat(errors[k]); });
    return parts.join(" ") || String(err.message);
  }
  function showError(text) { $("chat-error").textContent = text || ""; }
  function time(iso) {
    try { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); } catch (e) { return ""; }
  }

  /* ---- Sound and badge on a new assignment ---- */
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.3);
    } catch (e) { /* no audio: the badge still shows */ }
  }
  function updateTitle() {
    var offered = sessions.filter(function (s) { return s.group === "offered"; }).length;
    document.title = (offered ? "(" + offered + ") " : "") + document.title.replace(/^\(\d+\) /, "");
  }

  /* ---- Conversation list ---- */
  var GROUPS = ["offered", "in_progress", "waiting_client", "closing"];
  function renderList() {
    var nav = $("session-list");
    nav.textContent = "";
    var counters = $("counters");
    counters.textContent = "";
    GROUPS.forEach(function (group) {
      var rows = sessions.filter(function (s) { return s.group === group; });
      var c = el("span", "counter counter-" + group, T.groups[group] + " " + rows.length);
      c.dataset.group = group;
      counters.appendChild(c);
      nav.appendChild(groupNode(group, T.groups[group], rows));
    });
    if (supervised.length) { nav.appendChild(groupNode("supervised", T.groups.supervised, supervised)); }
    updateTitle();
  }
  function groupNode(group, label, rows) {
    var section = el("section", "group group-" + group);
    section.dataset.group = group;
    section.appendChild(el("h2", null, label + " (" + rows.length + ")"));
    var ul = el("ul");
    rows.forEach(function (s) {
      var li = el("li", "session-row" + (s.id === currentId ? " active" : ""));
      li.dataset.sessionId = s.id;
      li.tabIndex = 0;
      var top = el("div", "row-top");
      top.appendChild(el("span", "client-name", s.client_name));
      top.appendChild(el("span", "line-name", s.line_name));
      li.appendChild(top);
      li.appendChild(el("div", "last-text", s.last_text));
      if (s.pinned) { li.classList.add("pinned"); }
      li.addEventListener("click", function () { openSession(s.id); });
      li.addEventListener("keydown", function (e) { if (e.key === "Enter") { openSession(s.id); } });
      ul.appendChild(li);
    });
    if (!rows.length) { ul.appendChild(el("li", "empty", T.no_sessions)); }
    section.appendChild(ul);
    return section;
  }
  function loadList() {
    return api("sessions/").then(function (data) {
      var before = {};
      sessions.forEach(function (s) { before[s.id] = s.group; });
      sessions = data.sessions;
      supervised = data.supervised;
      renderList();
    });
  }
  function refreshList() { clearTimeout(listTimer); listTimer = setTimeout(loadList, 150); }

  /* ---- One conversation ---- */
  function openSession(id) {
    if (currentId && currentId !== id) { send({ type: "unwatch", session_id: currentId }); }
    currentId = id;
    history.replaceState(null, "", "#session=" + id);
    seen = {};
    oldestId = null;
    var box = $("messages");
    Array.prototype.slice.call(box.querySelectorAll(".msg")).forEach(function (n) { n.remove(); });
    $("client-typing").hidden = true;
    showError("");
    pending = [];
    renderPending();
    send({ type: "watch", session_id: id });
    loadDetail();
    api("sessions/" + id + "/messages/").then(function (page) { prependPage(page, true); }).catch(function (e) { showError(errorText(e)); });
    renderList();
  }
  function loadDetail() {
    if (!currentId) { return; }
    var id = currentId;
    api("sessions/" + id + "/").then(function (data) { if (id === currentId) { renderDetail(data); } })
      .catch(function (e) { if (id === currentId) { showError(errorText(e)); } });
  }
  function refreshDetail() { clearTimeout(detailTimer); detailTimer = setTimeout(loadDetail, 150); }

  function renderDetail(s) {
    current = s;
    $("placeholder").hidden = true;
    $("chat").hidden = false;
    $("chat-title").textContent = s.client_name + " \u00B7 " + s.line_name;
    $("chat-status").textContent = s.status_label;
    var actions = $("chat-actions");
    actions.textContent = "";
    ["answer", "skip", "transfer", "join", "intercept", "pin", "spam", "close"].forEach(function (name) {
      var allowed = s.may[name];
      if (name === "pin" && allowed && s.pinned) { name = "unpin"; }
      if (!allowed) { return; }
      var b = el("button", "action action-" + name, T.actions[name]);
      b.type = "button";
      b.dataset.action = name;
      b.addEventListener("click", function () { runAction(name); });
      actions.appendChild(b);
    });
    $("composer").hidden = !s.may.write;
    renderLimits(s.files);
    renderClient(s.client);
  }

  function createLead(sessionId, button) {
    // The CRM's own endpoint, with the same session login and CSRF token as the workspace API.
    button.disabled = true;
    fetch("/api/v1/sessions/" + sessionId + "/crm/lead/", {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: "{}"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error("HTTP " + r.status); e.status = r.status; e.data = data; throw e; }
        loadDetail();
      });
    }).catch(function (e) { button.disabled = false; showError(errorText(e)); });
  }

  function renderClient(c) {
    var panel = $("client-panel");
    panel.textContent = "";
    panel.appendChild(el("h2", null, T.client));
    var dl = el("dl");
    [["name", T.client, c.name], ["channel", T.channel, c.channel], ["phone", T.phone, c.phone], ["email", T.email, c.email], ["page", T.page, c.source_url]].forEach(function (row) {
      if (!row[2]) { return; }
      dl.appendChild(el("dt", null, row[1]));
      var dd = el("dd", "client-" + row[0], row[2]);
      dl.appendChild(dd);
    });
    panel.appendChild(dl);
    if (c.crm && c.crm.length) {
      panel.appendChild(el("h3", null, T.crm));
      var crm = el("ul");
      c.crm.forEach(function (link) {
        var li = el("li"); var a = el("a", null, link.title);
        if (/^(https?:)?\//.test(link.url)) { a.href = link.url; }
        li.appendChild(a); crm.appendChild(li);
      });
      panel.appendChild(crm);
    }
    var hasLead = (c.crm || []).some(function (link) { return link.type === "lead"; });
    if (!hasLead && currentId) {
      var create = el("button", "action action-create-lead", T.create_lead);
      create.type = "button";
      create.addEventListener("click", function () { createLead(currentId, create); });
      panel.appendChild(create);
    }
    panel.appendChild(el("h3", null, T.previous));
    var ul = el("ul", "previous");
    c.previous.forEach(function (p) {
      var li = el("li", null, "#" + p.id + " " + new Date(p.created_at).toLocaleDateString() + " \u00B7 " + p.status_label + (p.operator ? " \u00B7 " + p.operator : ""));
      ul.appendChild(li);
    });
    if (!c.previous.length) { ul.appendChild(el("li", "empty", T.none)); }
    panel.appendChild(ul);
  }

  function messageNode(m) {
    var cls = "msg msg-" + m.author_type + (m.internal ? " msg-internal" : "");
    var node = el("div", cls);
    node.dataset.id = m.id;
    var meta = el("div", "meta");
    meta.appendChild(el("span", "author", m.author_name || (m.author_type === "client" ? (current ? current.client_name : T.client) : "")));
    meta.appendChild(el("span", "time", time(m.created_at)));
    if (m.internal) { meta.appendChild(el("span", "internal", T.internal)); }
    node.appendChild(meta);
    if (m.text) { node.appendChild(el("div", "text", m.text)); }
    (m.attachments || []).forEach(function (f) {
      node.appendChild(attachmentNode(f));
      // A client's file still being fetched from the messenger (retried), or given up: say so.
      if (f.download && f.error) { node.appendChild(el("div", "attachment-state attachment-" + f.download, f.error)); }
    });
    if (m.author_type === "agent" && m.delivery) { node.appendChild(deliveryNode(m.id, m)); }
    return node;
  }
  function sizeText(bytes) {
    if (!bytes && bytes !== 0) { return ""; }
    if (bytes < 1024) { return bytes + " B"; }
    if (bytes < 1024 * 1024) { return (bytes / 1024).toFixed(1) + " KB"; }
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }
  /* Images as thumbnails, other files as links with their name and size; only our own (relative) URLs
     and http(s) links are followed. */
  function attachmentNode(f) {
    var local = f.url && /^\/[^\/]/.test(f.url);
    var a = el("a", "attachment");
    if (local || (f.url && /^https?:\/\//.test(f.url))) { a.href = f.url; a.target = "_blank"; a.rel = "noopener"; }
    if (local && (f.kind === "photo" || f.image)) {
      a.classList.add("attachment-thumb");
      var img = el("img");
      img.src = f.url;
      img.alt = f.name || "";
      a.appendChild(img);
      return a;
    }
    a.appendChild(el("span", "attachment-name", f.name || "file"));
    if (f.size) { a.appendChild(el("span", "attachment-size", sizeText(f.size))); }
    return a;
  }
  /* The delivery line of an agent message: the status, while retrying the reason and the next attempt's
   * time, the final failure with the platform's words, and Retry / Cancel buttons where they apply.
   * `d` is a message or a message.delivery event (same field names). */
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (all, key) { return values[key] !== undefined ? values[key] : all; });
  }
  function deliveryNode(messageId, d) {
    var node = el("div", "delivery delivery-" + d.delivery);
    var reason = d.delivery_error || d.error || "";
    var retrying = d.delivery === "pending" && reason && d.next_attempt_at;
    var text = T.delivery[d.delivery] || d.delivery;
    if (retrying) { text = fill(T.delivery_retrying, { reason: reason, time: time(d.next_attempt_at) }); }
    else if (d.delivery === "failed" && reason) { text = fill(T.delivery_failed, { reason: reason }); }
    node.appendChild(el("span", "delivery-text", text));
    if (retrying || d.delivery === "failed") { node.appendChild(deliveryButton(messageId, "retry", T.delivery_retry)); }
    if (retrying) { node.appendChild(deliveryButton(messageId, "cancel", T.delivery_cancel)); }
    return node;
  }
  function deliveryButton(messageId, action, label) {
    var button = el("button", "delivery-action delivery-" + action, label);
    button.type = "button";
    button.addEventListener("click", function () {
      button.disabled = true;
      api("sessions/" + currentId + "/messages/" + Number(messageId) + "/" + action + "/", {}).then(function (data) {
        showError("");
        showDelivery(messageId, data.message);
      }).catch(function (err) { button.disabled = false; showError(errorText(err)); });
    });
    return button;
  }
  function showDelivery(messageId, d) {
    var old = document.querySelector('.msg[data-id="' + Number(messageId) + '"] .delivery');
    if (old && d && d.delivery) { old.parentNode.replaceChild(deliveryNode(messageId, d), old); }
  }
  function appendMessage(m) {
    if (seen[m.id]) { return; }
    seen[m.id] = true;
    var box = $("messages");
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    box.appendChild(messageNode(m));
    if (atBottom || m.author_type === "agent") { box.scrollTop = box.scrollHeight; }
  }
  function prependPage(page, initial) {
    var box = $("messages");
    var anchor = box.querySelector(".msg");
    var height = box.scrollHeight;
    page.messages.forEach(function (m) {
      if (seen[m.id]) { return; }
      seen[m.id] = true;
      box.insertBefore(messageNode(m), anchor);
      if (oldestId === null || m.id < oldestId) { oldestId = m.id; }
    });
    var more = $("load-earlier");
    more.textContent = T.load_earlier;
    more.hidden = !page.has_more;
    box.insertBefore(more, box.firstChild);
    box.scrollTop = initial ? box.scrollHeight : box.scrollHeight - height;
  }
  $("load-earlier").addEventListener("click", function () {
    if (!currentId || oldestId === null) { return; }
    api("sessions/" + currentId + "/messages/?before_id=" + oldestId).then(function (page) { prependPage(page, false); });
  });

  /* ---- Actions ---- */
  function runAction(name, body) {
    if (name === "transfer" && !body) { openTransfer(); return; }
    if (name === "close" && current && current.confirm_close && !body) {
      $("close-question").textContent = T.confirm_close;
      $("close-confirm").textContent = T.confirm;
      $("close-cancel").textContent = T.cancel;
      var dialog = $("close-dialog");
      dialog.returnValue = "";
      dialog.onclose = function () { if (dialog.returnValue === "confirm") { runAction("close", { confirmed: true }); } };
      dialog.showModal();
      return;
    }
    showError("");
    var id = currentId;
    api("sessions/" + id + "/" + name + "/", body || {}).then(function (data) {
      if (id !== currentId) { return; }
      if (data.gone) { showError(T.lost); $("composer").hidden = true; $("chat-actions").textContent = ""; }
      else { renderDetail(data); }
      refreshList();
    }).catch(function (e) { showError(errorText(e)); refreshDetail(); });
  }

  function openTransfer() {
    var dialog = $("transfer-dialog");
    $("transfer-title").textContent = T.transfer_title;
    $("transfer-search").placeholder = T.search;
    $("transfer-agents-title").textContent = T.agents;
    $("transfer-lines-title").textContent = T.lines;
    $("transfer-cancel").textContent = T.cancel;
    $("transfer-search").value = "";
    searchTargets("");
    dialog.showModal();
  }
  function searchTargets(q) {
    api("transfer-targets/?q=" + encodeURIComponent(q)).then(function (data) {
      fillTargets("transfer-agents", data.agents, "user", function (a) { return a.name + (a.position ? " \u00B7 " + a.position : "") + (a.available ? " \u00B7 " + T.available : ""); });
      var lines = data.lines.filter(function (l) { return !current || l.id !== current.line_id; });
      fillTargets("transfer-lines", lines, "line", function (l) { return l.name; });
    });
  }
  function fillTargets(listId, items, key, label) {
    var ul = $(listId);
    ul.textContent = "";
    items.forEach(function (item) {
      var li = el("li");
      var b = el("button", "target", label(item));
      b.type = "button";
      b.dataset.targetId = item.id;
      b.addEventListener("click", function () {
        $("transfer-dialog").close();
        var body = {}; body[key] = item.id;
        runAction("transfer", body);
      });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }
  var searchTimer = null;
  $("transfer-search").addEventListener("input", function (e) {
    clearTimeout(searchTimer);
    var q = e.target.value;
    searchTimer = setTimeout(function () { searchTargets(q); }, 200);
  });

  /* ---- Composer with canned responses ---- */
  var input = $("composer-input");
  input.placeholder = T.placeholder;
  $("composer-send").textContent = T.send;
  function sendMessage() {
    var text = input.value.trim();
    if (!currentId) { return; }
    if (pending.some(function (f) { return !f.token; })) { return; } // still uploading
    var files = pending.slice();
    if (!text && !files.length) { return; }
    var id = currentId;
    var body = { text: text };
    if (files.length) { body.attachments = files.map(function (f) { return { file: f.token }; }); }
    api("sessions/" + id + "/messages/", body).then(function (data) {
      input.value = "";
      pending = pending.filter(function (f) { return files.indexOf(f) < 0; });
      renderPending();
      if (id === currentId) { appendMessage(data.message); refreshDetail(); }
      refreshList();
    }).catch(function (e) { showError(errorText(e)); });
  }

  /* ---- Files: attach button, drag and drop, pasted images; uploaded at once with progress ---- */
  var pending = [], limits = null;
  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (all, key) { return values[key] !== undefined ? values[key] : all; });
  }
  function renderLimits(files) {
    limits = files || null;
    var attach = $("composer-attach");
    var allowed = !!(limits && limits.max_bytes);
    attach.hidden = !allowed;
    attach.title = allowed ? T.attach + ". " + fmt(T.attach_limits, { limits: limits.text }) : T.no_files;
  }
  /* The same choice the server makes (contactcenter.connectors.adapters.base.media_kind_choose). */
  function fileKind(mime, size) {
    var preferred = { image: "photo", video: "video", audio: "audio" }[mime.split("/")[0]] || "document";
    var kinds = preferred === "document" ? ["document"] : [preferred, "document"];
    var typeOk = false;
    for (var i = 0; i < kinds.length; i++) {
      var limit = limits.kinds[kinds[i]];
      if (!limit) { continue; }
      var fits = !limit.types.length || limit.types.indexOf(mime) >= 0;
      typeOk = typeOk || fits;
      if (fits && size <= limit.max_bytes) { return { kind: kinds[i] }; }
    }
    return { error: typeOk ? "file_too_large" : "file_type" };
  }
  function renderPending() {
    var ul = $("composer-files");
    ul.textContent = "";
    ul.hidden = !pending.length;
    pending.forEach(function (f) {
      var li = el("li", "composer-file" + (f.failed ? " failed" : ""));
      li.dataset.name = f.name;
      if (f.preview) { var img = el("img"); img.src = f.preview; img.alt = ""; li.appendChild(img); }
      li.appendChild(el("span", "composer-file-name", f.name + " (" + sizeText(f.size) + ")"));
      if (!f.token) {
        var bar = el("progress");
        bar.max = 100;
        bar.value = f.progress;
        bar.title = fmt(T.uploading, { name: f.name });
        li.appendChild(bar);
      }
      var remove = el("button", "composer-file-remove", "\u00D7");
      remove.type = "button";
      remove.title = T.remove_file;
      remove.addEventListener("click", function () {
        if (f.xhr && !f.token) { f.xhr.abort(); }
        pending = pending.filter(function (p) { return p !== f; });
        renderPending();
      });
      li.appendChild(remove);
      ul.appendChild(li);
    });
    $("composer-send").disabled = pending.some(function (f) { return !f.token; });
  }
  function addFiles(list) {
    if (!currentId || !list || !list.length) { return; }
    if (!limits || !limits.max_bytes) { showError(T.no_files); return; }
    var errors = [];
    Array.prototype.forEach.call(list, function (file) {
      var name = file.name || "image.png";
      var mime = (file.type || "application/octet-stream").toLowerCase();
      var choice = fileKind(mime, file.size);
      if (choice.error) { errors.push(fmt(T[choice.error], { name: name, limits: limits.text })); return; }
      upload({ file: file, name: name, size: file.size, progress: 0, token: null, sessionId: currentId,
        preview: choice.kind === "photo" && window.URL ? URL.createObjectURL(file) : null });
    });
    showError(errors.join(" "));
  }
  function upload(f) {
    pending.push(f);
    renderPending();
    var form = new FormData();
    form.append("file", f.file, f.name);
    var xhr = new XMLHttpRequest();
    f.xhr = xhr;
    xhr.open("POST", "/api/v1/sessions/" + f.sessionId + "/files/");
    xhr.setRequestHeader("X-CSRFToken", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        f.progress = Math.round(e.loaded * 100 / e.total);
        var bar = document.querySelector('.composer-file[data-name="' + CSS.escape(f.name) + '"] progress');
        if (bar) { bar.value = f.progress; }
      }
    };
    xhr.onload = function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
      if (xhr.status === 201 && data.file) {
        f.token = data.file;
        f.progress = 100;
      } else {
        pending = pending.filter(function (p) { return p !== f; });
        showError(errorText({ data: data, message: "HTTP " + xhr.status }));
      }
      renderPending();
    };
    xhr.onerror = function () {
      pending = pending.filter(function (p) { return p !== f; });
      showError(errorText({ message: "HTTP 0" }));
      renderPending();
    };
    xhr.send(form);
  }
  $("composer-attach").textContent = "\uD83D\uDCCE";
  $("composer-attach").addEventListener("click", function () { $("composer-file").click(); });
  $("composer-file").addEventListener("change", function (e) { addFiles(e.target.files); e.target.value = ""; });
  input.addEventListener("paste", function (e) {
    var items = (e.clipboardData && e.clipboardData.items) || [];
    var files = [];
    Array.prototype.forEach.call(items, function (item) {
      if (item.kind === "file") { var file = item.getAsFile(); if (file) { files.push(file); } }
    });
    if (files.length) { e.preventDefault(); addFiles(files); }
  });
  var conversation = $("conversation");
  conversation.addEventListener("dragover", function (e) {
    if (!currentId || $("composer").hidden) { return; }
    e.preventDefault();
    conversation.classList.add("dragging");
    $("drop-hint").textContent = T.drop_files;
    $("drop-hint").hidden = false;
  });
  conversation.addEventListener("dragleave", function (e) {
    if (e.target === conversation || !conversation.contains(e.relatedTarget)) {
      conversation.classList.remove("dragging");
      $("drop-hint").hidden = true;
    }
  });
  conversation.addEventListener("drop", function (e) {
    conversation.classList.remove("dragging");
    $("drop-hint").hidden = true;
    if (!currentId || $("composer").hidden) { return; }
    e.preventDefault();
    addFiles(e.dataTransfer && e.dataTransfer.files);
  });
  $("composer").addEventListener("submit", function (e) { e.preventDefault(); sendMessage(); });
  function cannedQuery() {
    var m = input.value.match(/^\/(\S*)$/);
    return m ? m[1] : null;
  }
  function renderCanned() {
    var ul = $("canned");
    ul.textContent = "";
    ul.hidden = !canned.open || !canned.items.length;
    canned.items.forEach(function (item, i) {
      var li = el("li", "canned-item" + (i === canned.index ? " selected" : ""));
      li.setAttribute("role", "option");
      if (item.shortcut) { li.appendChild(el("strong", null, "/" + item.shortcut + " ")); }
      li.appendChild(el("span", null, item.title || item.text));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); canned.index = i; insertCanned(); });
      ul.appendChild(li);
    });
  }
  function insertCanned() {
    var item = canned.items[canned.index];
    if (!item) { return; }
    input.value = item.text;
    canned.open = false;
    renderCanned();
    input.focus();
  }
  var cannedTimer = null;
  input.addEventListener("input", function () {
    var q = cannedQuery();
    if (q !== null && currentId) {
      clearTimeout(cannedTimer);
      cannedTimer = setTimeout(function () {
        api("sessions/" + currentId + "/canned-responses/?q=" + encodeURIComponent(q)).then(function (data) {
          canned.items = data.results; canned.index = 0; canned.open = cannedQuery() !== null; renderCanned();
        });
      }, 120);
    } else if (canned.open) { canned.open = false; renderCanned(); }
    var now = Date.now();
    if (currentId && now - lastTypingSent > 2000) { lastTypingSent = now; send({ type: "typing", session_id: currentId }); }
  });
  input.addEventListener("keydown", function (e) {
    if (canned.open && canned.items.length) {
      if (e.key === "ArrowDown") { e.preventDefault(); canned.index = (canned.index + 1) % canned.items.length; renderCanned(); return; }
      if (e.key === "ArrowUp") { e.preventDefault(); canned.index = (canned.index + canned.items.length - 1) % canned.items.length; renderCanned(); return; }
      if (e.key === "Enter") { e.preventDefault(); insertCanned(); return; }
      if (e.key === "Escape") { canned.open = false; renderCanned(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendMessage(); }
  });

  /* ---- Own status ---- */
  function renderStatus(st) {
    $("available-toggle").checked = !st.paused;
    $("available-label").textContent = st.paused ? T.paused : T.online;
    $("workday-label").textContent = T.work_day + ":";
    var state = st.work_day;
    document.querySelectorAll("[data-work]").forEach(function (b) {
      var w = b.dataset.work;
      b.hidden = !((w === "clock_in" && state === "closed") || (w === "work_pause" && state === "open") ||
        (w === "work_resume" && state === "paused") || (w === "clock_out" && state !== "closed"));
    });
    workStarted = st.work_day_started_at ? new Date(st.work_day_started_at) : null;
    workState = state;
    tickClock();
  }
  var workStarted = null, workState = "closed";
  function tickClock() {
    var clock = $("workday-clock");
    if (!workStarted || workState === "closed") { clock.textContent = ""; return; }
    var s = Math.max(0, Math.floor((Date.now() - workStarted.getTime()) / 1000));
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    clock.textContent = pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + (workState === "paused" ? " \u23F8" : "");
  }
  setInterval(tickClock, 30000);
  $("available-toggle").addEventListener("change", function (e) {
    api("status/", { action: e.target.checked ? "resume" : "pause" }).then(renderStatus).catch(function (err) { alert(errorText(err)); });
  });
  document.querySelectorAll("[data-work]").forEach(function (b) {
    b.addEventListener("click", function () {
      api("status/", { action: b.dataset.work }).then(renderStatus).catch(function (err) { alert(errorText(err)); });
    });
  });

  /* ---- Socket ---- */
  function send(obj) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(obj)); }
  }
  function setConnection(state) {
    var c = $("connection");
    c.dataset.state = state;
    c.textContent = state === "open" ? T.connected : state === "logged_out" ? T.logged_out : T.offline;
  }
  /* Ids received, with when (ms): a resync sends those of the server's lookback window as "have". */
  var received = {}, lookback = 60;
  var RESYNC_MARGIN = 30, HAVE_MAX = 1000;
  function noteReceived(id, at) {
    if (!received[id]) { received[id] = at; }
  }
  function haveIds() {
    // The window is relative to the newest event held (the cursor), plus a margin for delivery delays.
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
    if (ev.id) {
      if (handled[ev.id]) { return false; }
      handled[ev.id] = true;
      noteReceived(ev.id, Date.now());
      if (ev.id > lastEventId) { lastEventId = ev.id; }
    }
    var mine = ev.session_id && ev.session_id === currentId;
    switch (ev.type) {
      case "offer.new":
        beep();
        refreshList();
        break;
      case "message.new":
        if (mine) { appendMessage(ev.message); if (ev.message.author_type === "client") { $("client-typing").hidden = true; } }
        refreshList();
        break;
      case "message.update":
        if (mine && ev.message) {
          var old = document.querySelector('.msg[data-id="' + Number(ev.message.id) + '"]');
          if (old) { old.replaceWith(messageNode(ev.message)); }
        }
        break;
      case "message.delivery":
        if (mine) { showDelivery(ev.message_id, ev); }
        break;
      case "typing":
        if (mine && ev.by === "client") {
          var t = $("client-typing");
          t.textContent = T.client_typing + (ev.preview ? " \u201C" + ev.preview + "\u201D" : "");
          t.hidden = false;
          clearTimeout(typingTimer);
          typingTimer = setTimeout(function () { t.hidden = true; }, 5000);
        }
        break;
      default:
        refreshList();
        if (mine) { refreshDetail(); }
    }
    return true;
  }
  var handled = {};
  function connect() {
    setConnection("connecting");
    socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws/staff/");
    socket.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      if (msg.type === "hello") {
        retries = 0;
        setConnection("open");
        if (msg.resync_lookback) { lookback = msg.resync_lookback; }
        if (msg.resync_every) { resyncEvery = msg.resync_every; }
        scheduleResync();
        if (lastEventId) { resync(); }
        if (currentId) { send({ type: "watch", session_id: currentId }); }
        loadList();
        if (currentId) { refreshDetail(); }
      } else if (msg.type === "resync") {
        var fresh = (msg.events || []).filter(handleEvent).length;
        // Capped answer: ask again from the new cursor (unless it brought nothing new: no progress).
        if (msg.more && fresh) { resync(); }
      } else if (msg.type === "heartbeat.ack" || msg.type === "watching" || msg.type === "unwatched" || msg.type === "error") {
        return;
      } else {
        handleEvent(msg);
      }
    };
    socket.onclose = function (e) {
      socket = null;
      // 4401 (docs/api.md): not signed in, or no longer (logout, expiry, deactivation): reconnecting
      // cannot help; signing in again (a reload leads to the login page) does.
      if (e.code === 4401) {
        setConnection("logged_out");
        clearTimeout(resyncTimer);
        $("connection").onclick = function () { location.reload(); };
        return;
      }
      setConnection("closed");
      var delay = Math.min(15000, 500 * Math.pow(2, retries)) + Math.random() * 500;
      retries += 1;
      setTimeout(connect, delay);
    };
  }
  setInterval(function () { send({ type: "heartbeat" }); }, 60000);
  // Also resync now and then while connected: a push lost without the socket closing (its sender died
  // between commit and push) comes with no reconnect. Jittered so reconnected pages do not ask together.
  var resyncEvery = 30, resyncTimer = null;
  function scheduleResync() {
    clearTimeout(resyncTimer);
    resyncTimer = setTimeout(function () {
      if (socket && socket.readyState === WebSocket.OPEN && lastEventId) { resync(); }
      scheduleResync();
    }, resyncEvery * (1 + Math.random() * 0.2) * 1000);
  }

  /* ---- Start ---- */
  $("placeholder").textContent = T.empty;
  api("status/").then(renderStatus);
  // The first event id to resume from: the newest event when the page loaded (the lists are fresh then),
  // and the recent events the lists already reflect, held as received (so the first resync brings only
  // what committed after the lists were read, whatever its id).
  api("sessions/").then(function (data) {
    sessions = data.sessions; supervised = data.supervised; renderList();
    var now = Date.now();
    (data.recent_event_ids || []).forEach(function (id) { handled[id] = true; noteReceived(id, now); });
    if (data.last_event_id > lastEventId) { lastEventId = data.last_event_id; noteReceived(lastEventId, now); }
    var m = location.hash.match(/session=(\d+)/);
    if (m) { openSession(Number(m[1])); }
  });
  // A link to another conversation of this page (#session=N), followed or pasted while the page is open.
  window.addEventListener("hashchange", function () {
    var m = location.hash.match(/session=(\d+)/);
    if (m && Number(m[1]) !== currentId) { openSession(Number(m[1])); }
  });
  connect();
})();
