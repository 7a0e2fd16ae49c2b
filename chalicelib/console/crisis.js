/* The Crisis view: new incident (dry run first), the incident list, an incident's updates with
   their progress per channel, post an update, cancel. Uses only OmnihubConsole (console.js). */
(function () {
  "use strict";
  var C = window.OmnihubConsole;
  var el = C.el;
  var CHANNELS = ["sms", "whatsapp", "messenger", "instagram", "telegram", "line", "viber", "x", "email", "webchat"];
  var STATUSES = ["investigating", "identified", "monitoring", "resolved"];
  var COUNTERS = ["planned", "sent", "delivered", "failed", "skipped", "cancelled"];
  var selectedId = null;
  var root = null;

  function field(id, label, input, hint) {
    input.id = id;
    return el("div", {}, [el("label", { "for": id, text: label }), hint ? el("p", { "class": "hint", id: id + "-hint", text: hint }) : null, input]);
  }
  function statusSelect(id) {
    var select = el("select", {});
    STATUSES.forEach(function (s) { select.appendChild(el("option", { value: s, text: s })); });
    return field(id, "Status", select);
  }
  function list(text) { return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean); }
  function value(id) { return document.getElementById(id).value; }
  function newKey() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
  }
  function messages(prefix) {
    var message = {};
    ["it", "en"].forEach(function (lang) { var text = value(prefix + "-msg-" + lang).trim(); if (text) { message[lang] = text; } });
    return message;
  }

  function incidentBody(dryRun) {
    var audience = {};
    var channels = CHANNELS.filter(function (c) { return document.getElementById("aud-ch-" + c).checked; });
    if (channels.length) { audience.channels = channels; }
    if (list(value("aud-tiers")).length) { audience.tiers = list(value("aud-tiers")); }
    if (list(value("aud-tags")).length) { audience.tags = list(value("aud-tags")); }
    if (list(value("aud-ids")).length) { audience.customer_ids = list(value("aud-ids")); }
    if (document.getElementById("aud-open").checked) { audience.open_conversations = true; }
    if (value("aud-days")) { audience.active_within_days = parseInt(value("aud-days"), 10); }
    return { title: value("inc-title"), status: value("inc-status"), message: messages("inc"),
             keywords: list(value("inc-keywords")), audience: audience, dry_run: dryRun };
  }

  function render(section, api) {
    root = section;
    var sendKey = newKey();
    var channelBoxes = CHANNELS.map(function (c) {
      return el("label", {}, [el("input", { type: "checkbox", id: "aud-ch-" + c, value: c }), document.createTextNode(c)]);
    });
    var dryResult = el("div", { id: "dry-run-result", "aria-live": "polite" });
    var sendButton = el("button", { type: "button", id: "send-incident", disabled: "disabled", text: "Open incident and send" });
    var form = el("form", { id: "new-incident", "class": "panel", novalidate: "novalidate" }, [
      el("h2", { text: "New incident" }),
      field("inc-title", "Title", el("input", { required: "required", maxlength: "200" })),
      statusSelect("inc-status"),
      field("inc-msg-it", "Message (Italian)", el("textarea", { maxlength: "1000" })),
      field("inc-msg-en", "Message (English)", el("textarea", { maxlength: "1000" })),
      field("inc-keywords", "Keywords", el("input", {}), "Comma separated: new messages with these words are tagged and get the status line."),
      el("fieldset", {}, [el("legend", { text: "Channels (none ticked: all)" })].concat(channelBoxes)),
      field("aud-tiers", "Tiers", el("input", {}), "Comma separated, e.g. vip, standard"),
      field("aud-tags", "Tags", el("input", {}), "Comma separated"),
      field("aud-ids", "Customer ids", el("input", {}), "Comma separated (optional)"),
      field("aud-days", "Active within days", el("input", { type: "number", min: "1", max: "3650" })),
      el("label", { "class": "check" }, [el("input", { type: "checkbox", id: "aud-open" }), document.createTextNode("Only customers with an open conversation")]),
      el("button", { type: "submit", id: "dry-run", text: "Count audience (dry run)" }),
      dryResult, sendButton,
      el("p", { id: "incident-error", "class": "error", role: "alert" })
    ]);
    form.addEventListener("input", function () { sendButton.disabled = true; dryResult.textContent = ""; sendKey = newKey(); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      document.getElementById("incident-error").textContent = "";
      api("crisis/incidents", { method: "POST", body: incidentBody(true) }).then(function (answer) {
        if (answer.status !== 200) { return showError(answer); }
        var a = answer.body.audience;
        var parts = Object.keys(a.per_channel).map(function (c) {
          return c + ": " + a.per_channel[c] + " (about " + (answer.body.eta_seconds[c] || 0) + " s)";
        });
        var qualifier = a.lower_bound ? "at least " : (answer.body.estimated ? "about " : "");
        dryResult.textContent = "Audience: " + qualifier + a.total + " recipients" +
          (answer.body.estimated ? " (estimated from " + a.examined + " customers)" : "") + ". " + parts.join("; ");
        sendButton.disabled = a.total === 0;
        if (!sendButton.disabled) { sendButton.focus(); }
      });
    });
    sendButton.addEventListener("click", function () {
      sendButton.disabled = true;
      api("crisis/incidents", { method: "POST", body: incidentBody(false), headers: { "Idempotency-Key": sendKey } })
        .then(function (answer) {
          if (answer.status !== 201) { sendButton.disabled = false; return showError(answer); }
          selectedId = answer.body.id;
          C.announce("Incident opened: " + answer.body.title);
          dryResult.textContent = "Incident opened.";
          refresh(api);
        });
    });
    section.appendChild(el("div", { "class": "grid" }, [
      form,
      el("div", {}, [
        el("section", { "class": "panel", "aria-labelledby": "incidents-title" }, [
          el("h2", { id: "incidents-title", text: "Incidents" }), el("ul", { id: "incident-list", "class": "incidents" })]),
        el("section", { id: "incident-detail", "class": "panel", "aria-live": "polite", hidden: "hidden" })
      ])
    ]));
  }

  function showError(answer) {
    var reason = answer.body && answer.body.reason ? answer.body.reason : "the hub answered " + answer.status;
    document.getElementById("incident-error").textContent = "Not done: " + reason;
  }

  function refresh(api) {
    if (!root) { return; }
    api("crisis/incidents").then(function (answer) {
      if (answer.status !== 200) { return; }
      var listNode = document.getElementById("incident-list");
      listNode.textContent = "";
      answer.body.items.forEach(function (incident) {
        var button = el("button", { type: "button", text: incident.title + " — " + incident.status,
                                    onclick: function () { selectedId = incident.id; refresh(api); } });
        if (incident.active) { button.appendChild(el("span", { "class": "badge", text: "active" })); }
        if (incident.id === selectedId) { button.setAttribute("aria-current", "true"); }
        listNode.appendChild(el("li", {}, [button]));
      });
      if (!selectedId && answer.body.items.length) { selectedId = answer.body.items[0].id; }
      if (selectedId) { api("crisis/incidents/" + encodeURIComponent(selectedId)).then(showDetail); }
    });
  }

  function progressTable(update) {
    var p = update.progress;
    var head = el("tr", {}, [el("th", { scope: "col", text: "Channel" })].concat(
      COUNTERS.map(function (c) { return el("th", { scope: "col", text: c }); })));
    var rows = Object.keys(p.per_channel).map(function (channel) {
      var figures = p.per_channel[channel];
      return el("tr", { "data-channel": channel }, [el("th", { scope: "row", text: channel })].concat(
        COUNTERS.map(function (c) { return el("td", { "data-counter": c, text: String(figures[c]) }); })));
    });
    var total = el("tr", { "data-channel": "total" }, [el("th", { scope: "row", text: "total" })].concat(
      COUNTERS.map(function (c) { return el("td", { "data-counter": c, text: String(p[c]) }); })));
    return el("div", { "class": "table-wrap" }, [el("table", {}, [
      el("caption", { text: "Update " + update.status + " of " + update.created_at + (p.last_sent_at ? "; last sent " + p.last_sent_at : "") }),
      el("thead", {}, [head]), el("tbody", {}, rows.concat([total]))])]);
  }

  function showDetail(answer) {
    if (answer.status !== 200) { return; }
    var incident = answer.body;
    var detail = document.getElementById("incident-detail");
    var focused = document.activeElement && detail.contains(document.activeElement) ? document.activeElement.id : null;
    var drafts = {};
    ["upd-msg-it", "upd-msg-en"].forEach(function (id) { var n = document.getElementById(id); if (n) { drafts[id] = n.value; } });
    detail.hidden = false;
    detail.textContent = "";
    detail.appendChild(el("h2", { text: incident.title }));
    detail.appendChild(el("p", { text: "Status: " + incident.status + (incident.cancelled_at ? " (cancelled " + incident.cancelled_at + ")" : "") }));
    incident.updates.forEach(function (update) { detail.appendChild(progressTable(update)); });
    if (!incident.active) { return; }
    var updateForm = el("form", { id: "post-update" }, [
      el("h3", { text: "Post an update" }), statusSelect("upd-status"),
      field("upd-msg-it", "Message (Italian)", el("textarea", { maxlength: "1000" })),
      field("upd-msg-en", "Message (English)", el("textarea", { maxlength: "1000" })),
      el("button", { type: "submit", id: "send-update", text: "Send update" })]);
    detail.appendChild(updateForm);
    Object.keys(drafts).forEach(function (id) { document.getElementById(id).value = drafts[id]; });
    var key = newKey();
    updateForm.addEventListener("submit", function (event) {
      event.preventDefault();
      C.api("crisis/incidents/" + encodeURIComponent(incident.id) + "/updates",
            { method: "POST", body: { status: value("upd-status"), message: messages("upd") }, headers: { "Idempotency-Key": key } })
        .then(function (a) { if (a.status === 202) { C.announce("Update sent"); key = newKey(); document.getElementById("upd-msg-it").value = ""; document.getElementById("upd-msg-en").value = ""; refresh(C.api); } else { showError(a); } });
    });
    detail.appendChild(el("button", { type: "button", id: "cancel-incident", "class": "danger", text: "Cancel sending",
      onclick: function () {
        if (!window.confirm("Stop sending this incident's updates?")) { return; }
        C.api("crisis/incidents/" + encodeURIComponent(incident.id) + "/cancel", { method: "POST", body: {} })
          .then(function () { C.announce("Cancelled"); refresh(C.api); });
      } }));
    if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
  }

  C.registerView({ id: "crisis", label: "Crisis", render: render, refresh: refresh,
                   scope: "crisis", probe: "crisis/incidents" });
})();
