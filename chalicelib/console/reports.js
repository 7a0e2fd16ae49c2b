/* The Reports view: the KPIs of a period (GET /reports/kpis, scope support) as charts drawn here as inline
   SVG (no library): volumes per group and per day, first-response and resolution times against the SLA
   targets, the CSAT distribution and NPS per day. Every chart is an <svg role="img"> with a title and a
   description, followed by the same figures as a table. Uses only OmnihubConsole (console.js). */
(function () {
  "use strict";
  var C = window.OmnihubConsole;
  var el = C.el;
  var NS = "http://www.w3.org/2000/svg";
  var GROUPINGS = [["channel", "Channel"], ["route", "Route"], ["day", "Day"]];
  var PRIORITIES = ["urgent", "high", "normal", "low"];
  var VOLUMES = [["inbound", "Messages in", "messages"], ["outbound", "Messages out", "messages"],
                 ["opened", "Conversations opened", "conversations"]];
  var TIMES = [["median", "Median"], ["p90", "90th percentile"]];
  var uid = 0;
  var root = null;
  // The view's own styles, next to it (index.html links the shell's only).
  document.head.appendChild(el("link", { rel: "stylesheet", href: "console/reports.css" }));

  function isoDay(date) { return date.toISOString().slice(0, 10); }
  function today() { var d = new Date(); return isoDay(new Date(d.getTime() - d.getTimezoneOffset() * 60000)); }
  function daysBefore(day, n) { var d = new Date(day + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() - n); return isoDay(d); }
  function show(value, unit) {
    if (value === null || value === undefined) { return "–"; }
    return (Math.round(value * 10) / 10).toLocaleString("en") + (unit ? " " + unit : "");
  }
  function svg(tag, attributes, text) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  // A duration given in minutes, in the unit that reads best: seconds under a minute, hours past two.
  function duration(minutes) {
    if (minutes === null || minutes === undefined) { return "–"; }
    if (minutes < 1) { return Math.round(minutes * 60) + " s"; }
    if (minutes < 120) { return Math.round(minutes * 10) / 10 + " min"; }
    return Math.round(minutes / 6) / 10 + " h";
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function volume(figures, name) { return name === "opened" ? figures.conversations.opened : figures.messages[name]; }

  // A chart: <figure> with its SVG (role img, <title> + <desc>), a legend and the table of its figures.
  function figure(id, title, summary, drawing, legend, table) {
    var titleId = "rp-t" + (++uid), descId = "rp-d" + uid;
    drawing.setAttribute("role", "img");
    drawing.setAttribute("aria-labelledby", titleId + " " + descId);
    drawing.insertBefore(svg("desc", { id: descId }, summary), drawing.firstChild);
    drawing.insertBefore(svg("title", { id: titleId }, title), drawing.firstChild);
    var keys = legend ? el("ul", { "class": "rp-legend" }, legend.map(function (entry, i) {
      return el("li", {}, [el("span", { "class": "rp-swatch rp-s" + i, "aria-hidden": "true" }), document.createTextNode(entry)]);
    })) : null;
    return el("figure", { "class": "panel rp-chart", id: id }, [
      el("h3", { text: title }), drawing, keys, el("figcaption", { "class": "hint", text: summary }),
      el("details", {}, [el("summary", { text: "The figures as a table" }), el("div", { "class": "table-wrap" }, [table])])
    ]);
  }

  function table(caption, head, rows) {
    return el("table", {}, [el("caption", { text: caption }),
      el("thead", {}, [el("tr", {}, head.map(function (h) { return el("th", { scope: "col", text: h }); }))]),
      el("tbody", {}, rows.map(function (row) {
        return el("tr", { "data-key": row[0] }, row.map(function (cell, i) {
          return el(i ? "td" : "th", i ? { text: String(cell) } : { scope: "row", text: String(cell) });
        }));
      }))]);
  }

  // Horizontal bars: one row per category, one bar per series; `target` draws a dashed vertical line (at
  // the right edge, marked "off scale", when it is so far beyond the figures that they would not show).
  function hbars(categories, series, valueOf, target, format) {
    format = format || show;
    var rowHeight = 10 + series.length * 16, left = 86, width = 400, right = 52;
    var height = 26 + categories.length * rowHeight;
    var max = 0;
    categories.forEach(function (c) { series.forEach(function (s) { max = Math.max(max, valueOf(c, s) || 0); }); });
    var offScale = target && max > 0 && target.value > 4 * max;
    max = offScale ? max * 1.1 : Math.max(max, target ? target.value : 0) || 1;
    var scale = function (v) { return (v / max) * (width - left - right); };
    var drawing = svg("svg", { viewBox: "0 0 " + width + " " + height, "class": "rp-svg", preserveAspectRatio: "xMinYMin meet" });
    categories.forEach(function (c, row) {
      var y = 8 + row * rowHeight;
      drawing.appendChild(svg("text", { x: left - 6, y: y + rowHeight / 2, "class": "rp-label", "text-anchor": "end",
                                        "dominant-baseline": "middle" }, c.label));
      series.forEach(function (s, i) {
        var value = valueOf(c, s);
        var bar = svg("rect", { x: left, y: y + i * 16, height: 13, width: Math.max(value ? 1 : 0, scale(value || 0)),
                                "class": "rp-bar rp-s" + i, "data-key": c.key, "data-series": s.key,
                                "data-value": value === null || value === undefined ? "" : String(value) });
        bar.appendChild(svg("title", {}, c.label + ", " + s.label + ": " + format(value, s.unit)));
        drawing.appendChild(bar);
        drawing.appendChild(svg("text", { x: left + scale(value || 0) + 4, y: y + i * 16 + 11, "class": "rp-value" },
                                format(value)));
      });
    });
    drawing.appendChild(svg("line", { x1: left, x2: left, y1: 4, y2: height - 16, "class": "rp-axis" }));
    if (target) {
      var x = offScale ? width - 2 : left + scale(target.value);
      drawing.appendChild(svg("line", { x1: x, x2: x, y1: 4, y2: height - 18, "class": "rp-target",
                                        "data-target": String(target.value), "data-off-scale": String(Boolean(offScale)) }));
      drawing.appendChild(svg("text", { x: Math.min(x, width - 4), y: height - 4, "class": "rp-label",
                                        "text-anchor": "end" }, target.label + (offScale ? " (off scale) →" : "")));
    }
    return drawing;
  }

  // Columns per day (one per series side by side), the days along the bottom.
  function columns(days, series, valueOf) {
    var width = 400, height = 200, left = 36, bottom = 28, top = 10;
    var max = 0;
    days.forEach(function (d) { series.forEach(function (s) { max = Math.max(max, valueOf(d, s) || 0); }); });
    max = max || 1;
    var slot = (width - left - 8) / Math.max(days.length, 1), barWidth = Math.min(28, Math.max(1, (slot - 4) / series.length));
    var y = function (v) { return height - bottom - (v / max) * (height - bottom - top); };
    var drawing = svg("svg", { viewBox: "0 0 " + width + " " + height, "class": "rp-svg" });
    [0, max].forEach(function (tick) {
      drawing.appendChild(svg("text", { x: left - 4, y: y(tick) + 4, "class": "rp-label", "text-anchor": "end" }, show(tick)));
    });
    drawing.appendChild(svg("line", { x1: left, x2: width - 4, y1: y(0), y2: y(0), "class": "rp-axis" }));
    var every = Math.ceil(days.length / 6);
    days.forEach(function (d, i) {
      var x = left + i * slot + (slot - barWidth * series.length) / 2;
      series.forEach(function (s, j) {
        var value = valueOf(d, s) || 0;
        var bar = svg("rect", { x: x + j * barWidth, y: y(value), width: barWidth, height: y(0) - y(value),
                                "class": "rp-bar rp-s" + j, "data-key": d.key, "data-series": s.key, "data-value": String(value) });
        bar.appendChild(svg("title", {}, d.label + ", " + s.label + ": " + value));
        drawing.appendChild(bar);
      });
      if (i % every === 0) {
        drawing.appendChild(svg("text", { x: left + i * slot + slot / 2, y: height - bottom + 18, "class": "rp-label",
                                          "text-anchor": "middle" }, d.key.slice(5)));
      }
    });
    return drawing;
  }

  // NPS per day on a -100…100 scale: points joined where consecutive days have answers.
  function npsLine(days, valueOf) {
    var width = 400, height = 200, left = 40, bottom = 28, top = 12;
    var slot = (width - left - 12) / Math.max(days.length, 1);
    var x = function (i) { return left + slot * (i + 0.5); };
    var y = function (v) { return top + (100 - v) / 200 * (height - top - bottom); };
    var drawing = svg("svg", { viewBox: "0 0 " + width + " " + height, "class": "rp-svg" });
    [100, 0, -100].forEach(function (tick) {
      drawing.appendChild(svg("line", { x1: left, x2: width - 8, y1: y(tick), y2: y(tick), "class": tick ? "rp-gridline" : "rp-axis" }));
      drawing.appendChild(svg("text", { x: left - 4, y: y(tick) + 4, "class": "rp-label", "text-anchor": "end" }, String(tick)));
    });
    var points = [], every = Math.ceil(days.length / 6);
    days.forEach(function (d, i) {
      var value = valueOf(d);
      if (i % every === 0) {
        drawing.appendChild(svg("text", { x: x(i), y: height - bottom + 18, "class": "rp-label", "text-anchor": "middle" }, d.key.slice(5)));
      }
      if (value === null || value === undefined) {
        if (points.length > 1) { drawing.appendChild(svg("polyline", { points: points.join(" "), "class": "rp-line" })); }
        points = [];
        return;
      }
      points.push(x(i) + "," + y(value));
      var dot = svg("circle", { cx: x(i), cy: y(value), r: 5, "class": "rp-dot", "data-key": d.key, "data-value": String(value) });
      dot.appendChild(svg("title", {}, d.label + ": NPS " + value));
      drawing.appendChild(dot);
    });
    if (points.length > 1) { drawing.appendChild(svg("polyline", { points: points.join(" "), "class": "rp-line" })); }
    return drawing;
  }

  function tiles(report) {
    var entries = [
      ["opened", "Conversations opened", report.conversations.opened],
      ["resolved", "Resolved", report.conversations.resolved],
      ["reopened", "Reopened", report.conversations.reopened],
      ["inbound", "Messages in", report.messages.inbound],
      ["outbound", "Messages out", report.messages.outbound],
      ["sla", "First responses within SLA", report.sla.attainment === null ? "–" : Math.round(report.sla.attainment * 1000) / 10 + " %"],
      ["escalations", "Escalations", report.escalations],
      ["csat", "CSAT average (1–5)", show(report.csat.average)],
      ["nps", "NPS (−100…100)", show(report.nps.score)]
    ];
    return el("dl", { "class": "rp-tiles", id: "rp-tiles" }, entries.map(function (entry) {
      return el("div", { "data-tile": entry[0] }, [el("dt", { text: entry[1] }), el("dd", { text: String(entry[2]) })]);
    }));
  }

  function groupCategories(report, grouping) {
    var keys = Object.keys(report.groups);
    return [{ key: "all", label: "All", figures: report }].concat(keys.map(function (key) {
      return { key: key, label: key, figures: report.groups[key] };
    }));
  }

  function dayCategories(byDay) {
    var days = [], day = byDay.from;
    while (day <= byDay.to) {  // every day of the period, with or without figures
      days.push({ key: day, label: day, figures: byDay.groups[day] || null });
      var next = new Date(day + "T00:00:00Z"); next.setUTCDate(next.getUTCDate() + 1); day = isoDay(next);
    }
    return days;
  }

  function draw(report, byDay, grouping, priority) {
    var out = document.getElementById("rp-output");
    out.textContent = "";
    var groupName = GROUPINGS.filter(function (g) { return g[0] === grouping; })[0][1].toLowerCase();
    var targets = (report.sla_targets && report.sla_targets.policies[priority]) || null;
    var calendar = report.sla_targets ? report.sla_targets.calendar : "business";
    out.appendChild(el("h2", { id: "rp-period", tabindex: "-1",
      text: "From " + report.from + " to " + report.to + " (" + report.time_zone + ")" }));
    out.appendChild(tiles(report));
    var groups = groupCategories(report, grouping);
    var days = dayCategories(byDay);
    var series = VOLUMES.map(function (v) { return { key: v[0], label: v[1], unit: v[2] }; });
    var volumeOf = function (c, s) { return c.figures ? volume(c.figures, s.key) : 0; };

    var grid = el("div", { "class": "rp-grid" });
    out.appendChild(grid);
    grid.appendChild(figure("rp-volumes-group", "Volumes per " + groupName,
      "Messages in and out and conversations opened, in total and per " + groupName + ".",
      hbars(groups, series, volumeOf), VOLUMES.map(function (v) { return v[1]; }),
      table("Volumes per " + groupName, [groupName, "Messages in", "Messages out", "Opened", "Resolved", "Reopened"],
        groups.map(function (c) {
          var f = c.figures;
          return [c.key, f.messages.inbound, f.messages.outbound, f.conversations.opened, f.conversations.resolved,
                  f.conversations.reopened];
        }))));
    grid.appendChild(figure("rp-volumes-day", "Volumes per day",
      "Messages in and out and conversations opened on each day of the period.",
      columns(days, series, volumeOf), VOLUMES.map(function (v) { return v[1]; }),
      table("Volumes per day", ["Day", "Messages in", "Messages out", "Opened"], days.map(function (d) {
        return [d.key].concat(VOLUMES.map(function (v) { return d.figures ? volume(d.figures, v[0]) : 0; }));
      }))));

    [["first_response_minutes", "First response", "first_response_minutes", "rp-first-response"],
     ["resolution_minutes", "Resolution", "resolution_minutes", "rp-resolution"]].forEach(function (kind) {
      var target = targets ? { value: targets[kind[2]], label: "target " + duration(targets[kind[2]]) + " (" + priority + ")" } : null;
      var timeSeries = TIMES.map(function (t) { return { key: t[0], label: t[1], unit: "min" }; });
      var valueOf = function (c, s) { return c.figures[kind[0]][s.key]; };
      var rows = groups.map(function (c) {
        var f = c.figures[kind[0]];
        var row = [c.key, duration(f.median), duration(f.p90)];
        if (kind[0] === "first_response_minutes") {
          row.push(c.figures.sla.met, c.figures.sla.breached,
                   c.figures.sla.attainment === null ? "–" : Math.round(c.figures.sla.attainment * 1000) / 10 + " %");
        }
        return row;
      });
      var head = [groupName, "Median", "90th percentile"];
      if (kind[0] === "first_response_minutes") { head.push("Within SLA", "Breached", "Attainment"); }
      grid.appendChild(figure(kind[3], kind[1] + " time against the SLA",
        kind[1] + " time from the conversation's opening, median and 90th percentile, in total and per " +
        groupName + (target ? "; the dashed line is the " + priority + " priority's target of " + target.value +
        " " + calendar + " minutes." : "."),
        hbars(groups, timeSeries, valueOf, target, duration), TIMES.map(function (t) { return t[1]; }),
        table(kind[1] + " time" + (target ? ", target " + target.value + " " + calendar + " minutes" : ""), head, rows)));
    });

    var scores = ["1", "2", "3", "4", "5"];
    var csatCategories = scores.map(function (s) { return { key: s, label: s + (s === "1" ? " (worst)" : s === "5" ? " (best)" : ""), figures: report }; });
    grid.appendChild(figure("rp-csat", "CSAT distribution",
      plural(report.csat.responses, "answer", "answers") + " on the 1 to 5 scale" + (report.csat.average === null ? "." : ", average " + report.csat.average + "."),
      hbars(csatCategories, [{ key: "answers", label: "Answers", unit: "" }], function (c) { return report.csat.distribution[c.key]; }),
      null, table("CSAT answers per score", ["Score", "Answers"], scores.map(function (s) { return [s, report.csat.distribution[s]]; }))));

    var npsOf = function (d) { return d.figures ? d.figures.nps.score : null; };
    var answered = days.filter(function (d) { return npsOf(d) !== null; }).length;
    grid.appendChild(figure("rp-nps", "NPS over time",
      answered ? "NPS per day (promoters minus detractors, in percent of the answers), " + plural(answered, "day", "days") +
                 " with answers; over the period " + show(report.nps.score) + " from " +
                 plural(report.nps.responses, "answer", "answers") + "."
               : "No NPS answers in this period.",
      npsLine(days, npsOf), null,
      table("NPS per day", ["Day", "Answers", "Promoters", "Passives", "Detractors", "NPS"], days.map(function (d) {
        var n = d.figures ? d.figures.nps : { responses: 0, promoters: 0, passives: 0, detractors: 0, score: null };
        return [d.key, n.responses, n.promoters, n.passives, n.detractors, show(n.score)];
      }))));
  }

  function load(api) {
    var from = document.getElementById("rp-from").value, to = document.getElementById("rp-to").value;
    var grouping = document.getElementById("rp-group").value, priority = document.getElementById("rp-priority").value;
    var error = document.getElementById("rp-error");
    error.textContent = "";
    if (!from || !to) { error.textContent = "Choose both dates."; return Promise.resolve(); }
    var query = "reports/kpis?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to) + "&group_by=";
    var busy = document.getElementById("rp-show");
    busy.disabled = true;
    return Promise.all([api(query + grouping), grouping === "day" ? null : api(query + "day")]).then(function (answers) {
      busy.disabled = false;
      var failed = answers.filter(function (a) { return a && a.status !== 200; })[0];
      if (failed) {
        error.textContent = failed.status === 403 ? "This key lacks the support scope." :
          "Not shown: " + (failed.body && failed.body.reason ? failed.body.reason : "the hub answered " + failed.status);
        return;
      }
      draw(answers[0].body, (answers[1] || answers[0]).body, grouping, priority);
      root.setAttribute("data-loaded", from + "/" + to + "/" + grouping);
      C.announce("Reports shown from " + from + " to " + to);
    }, function () { busy.disabled = false; error.textContent = "The hub could not be reached."; });
  }

  function render(section, api) {
    root = section;
    var end = today();
    var group = el("select", { id: "rp-group" }, GROUPINGS.map(function (g) { return el("option", { value: g[0], text: g[1] }); }));
    var priority = el("select", { id: "rp-priority", "aria-describedby": "rp-priority-hint" },
      PRIORITIES.map(function (p) { return el("option", { value: p, text: p }); }));
    priority.value = "normal";
    var form = el("form", { id: "rp-form", "class": "panel rp-form", novalidate: "novalidate" }, [
      el("h2", { text: "Reports" }),
      el("div", { "class": "rp-fields" }, [
        el("div", {}, [el("label", { "for": "rp-from", text: "From" }), el("input", { id: "rp-from", type: "date", value: daysBefore(end, 6), required: "required" })]),
        el("div", {}, [el("label", { "for": "rp-to", text: "To" }), el("input", { id: "rp-to", type: "date", value: end, required: "required" })]),
        el("div", {}, [el("label", { "for": "rp-group", text: "Group by" }), group]),
        el("div", {}, [el("label", { "for": "rp-priority", text: "SLA target of priority" }), priority,
                       el("p", { "class": "hint", id: "rp-priority-hint", text: "The target line drawn on the time charts." })])
      ]),
      el("button", { type: "submit", id: "rp-show", text: "Show" }),
      el("p", { id: "rp-error", "class": "error", role: "alert" })
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      load(api).then(function () { var h = document.getElementById("rp-period"); if (h) { h.focus(); } });
    });
    section.appendChild(form);
    section.appendChild(el("div", { id: "rp-output" }));  // announced in one sentence (C.announce), not read whole
    load(api);
  }

  C.registerView({ id: "reports", label: "Reports", render: render, scope: "support",
                   probe: function () { var d = today(); return "reports/kpis?from=" + d + "&to=" + d; } });
})();
