/*
 * Omnihub console shell: sign-in with an API key, the tab bar, and the API helper. No build step,
 * no dependency. The key is kept in sessionStorage (this tab only) and sent as x-api-key.
 *
 * EXTENSION POINT — adding a view (the feedback issue's "Reports"):
 *   1. add chalicelib/console/reports.js containing
 *        OmnihubConsole.registerView({
 *          id: "reports", label: "Reports",
 *          render(container, api) { ... }  // build the view inside `container` (a <section>)
 *          refresh(api) { ... }            // optional: called every few seconds while the view shows
 *          scope: "support",               // optional: the API key scope the view needs (sign-in label)
 *          probe: "reports/kpis?..."       // optional: a GET (or a function giving one) that answers 200
 *        });                               //   when the key may use the view
 *      A key is accepted when any view's probe answers 200; a view whose probe answers otherwise shows
 *      "This key lacks the … scope" instead of being rendered (a view without a probe is always shown).
 *      `api(path, options)` fetches a path of the hub relative to the console (e.g. "reports/kpis")
 *      with the key, and resolves to {status, body} (body parsed as JSON when it is JSON).
 *   2. add <script src="console/reports.js"></script> after crisis.js in index.html.
 * Every *.js/*.css file of the package is served under console/ (chalicelib/console/__init__.py).
 */
(function () {
  "use strict";
  var views = [];
  var active = null;
  var KEY = "omnihub.console.key";
  var REFRESH_MS = 3000;

  // The hub's root as seen from the page: /console → /, /api/console (a stage prefix) → /api/.
  function base() { return new URL(window.location.href.replace(/console\/?([?#].*)?$/, "")); }

  function api(path, options) {
    options = options || {};
    var headers = Object.assign({ "x-api-key": sessionStorage.getItem(KEY) || "" }, options.headers || {});
    if (options.body !== undefined) { headers["content-type"] = "application/json"; }
    return fetch(new URL(path, base()), {
      method: options.method || "GET", headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var body = text;
        try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (response.status === 401) { signOut("Your key was refused: sign in again."); }
        return { status: response.status, body: body };
      });
    });
  }

  function announce(text) { document.getElementById("status").textContent = text; }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attributes[name]; }
      else if (name.indexOf("on") === 0) { node.addEventListener(name.slice(2), attributes[name]); }
      else { node.setAttribute(name, attributes[name]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function registerView(view) {
    views.push(view);
    var scopes = views.map(function (v) { return v.scope; }).filter(Boolean);
    document.querySelector("label[for=api-key]").textContent =
      "API key (scope " + scopes.filter(function (s, i) { return scopes.indexOf(s) === i; }).join(" or ") + ")";
    if (sessionStorage.getItem(KEY)) { showViews(); }
  }

  // Whether the key in use may use the view: its probe's status (200 when it may).
  function probe(view) {
    if (!view.probe) { return Promise.resolve(200); }
    return api(typeof view.probe === "function" ? view.probe() : view.probe)
      .then(function (answer) { return answer.status; });
  }

  function select(id) {
    views.forEach(function (view) {
      if (!view.tab) { return; }  // not shown yet
      var selected = view.id === id;
      view.tab.setAttribute("aria-selected", String(selected));
      view.tab.tabIndex = selected ? 0 : -1;
      view.section.hidden = !selected;
      if (selected) { active = view; }
    });
    if (active && active.refresh && active.allowed) { active.refresh(api); }
  }

  // The probe answered: render the view, or say which scope the key lacks.
  function settle(view, status) {
    view.allowed = status === 200;
    if (view.allowed) { view.render(view.section, api); }
    else {
      view.section.appendChild(el("p", { "class": "error", "data-lacks-scope": view.scope || "",
        text: "This key lacks the " + (view.scope || "needed") + " scope: sign in with a key that has it to use " +
              view.label + "." }));
    }
    if (active === view && view.allowed && view.refresh) { view.refresh(api); }
    if (active && active.allowed === false) {  // the tab shown cannot be used: show one that can
      var usable = views.filter(function (v) { return v.allowed && v.tab; })[0];
      if (usable) { select(usable.id); }
    }
  }

  function showViews() {
    document.getElementById("sign-in").hidden = true;
    document.getElementById("sign-out").hidden = false;
    var tabs = document.getElementById("tabs");
    var container = document.getElementById("views");
    views.forEach(function (view, index) {
      if (view.tab) { return; }
      view.section = el("section", { id: "view-" + view.id, role: "tabpanel", "aria-labelledby": "tab-" + view.id });
      view.tab = el("button", { type: "button", role: "tab", id: "tab-" + view.id, "aria-controls": "view-" + view.id,
                                text: view.label, onclick: function () { select(view.id); } });
      view.tab.addEventListener("keydown", function (event) {
        var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
        if (!step) { return; }
        var next = views[(views.indexOf(view) + step + views.length) % views.length];
        select(next.id); next.tab.focus();
      });
      tabs.appendChild(el("li", { role: "presentation" }, [view.tab]));
      container.appendChild(view.section);
      if (index === 0 || !active || active.allowed === false) { select(view.id); }
      if (view.status !== undefined) { settle(view, view.status); }
      else { probe(view).then(function (status) { settle(view, status); }); }
    });
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    window.location.reload();
    if (message) { announce(message); }
  }

  document.getElementById("sign-in-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var key = document.getElementById("api-key").value.trim();
    sessionStorage.setItem(KEY, key);
    Promise.all(views.map(probe)).then(function (statuses) {
      if (statuses.indexOf(200) >= 0) {  // a key for any view: each view says what it lacks
        views.forEach(function (view, i) { view.status = statuses[i]; });
        showViews(); announce("Signed in"); document.getElementById("main").focus();
      } else {
        sessionStorage.removeItem(KEY);
        var scopes = views.map(function (v) { return v.scope; }).filter(Boolean).join(" or ");
        document.getElementById("sign-in-error").textContent =
          statuses.indexOf(403) >= 0 ? "This key lacks the " + scopes + " scope." : "The key was refused.";
      }
    });
  });
  document.getElementById("sign-out").addEventListener("click", function () { signOut(); });
  setInterval(function () {
    if (active && active.refresh && active.allowed && !document.hidden) { active.refresh(api); }
  }, REFRESH_MS);

  window.OmnihubConsole = { registerView: registerView, api: api, el: el, announce: announce };
})();
