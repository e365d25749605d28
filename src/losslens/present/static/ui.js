/* losslens dashboard pages: runs table (sort, filter, select to compare), run page
 * (charts from the JSON API, zoom re-requests, live polling, rename/delete) and the
 * compare page. Data is only ever written into the page with textContent. */
(function () {
  "use strict";
  var cfg = LL.readJSON("ll-config") || {};
  var text = cfg.text || {};
  var meta = document.querySelector('meta[name="ll-token"]');
  var token = meta ? meta.content : "";
  var page = document.body.dataset.page;

  function api(path, opts) {
    opts = opts || {};
    var headers = { "Accept": "application/json", "X-Losslens-Token": token };
    Object.keys(opts.headers || {}).forEach(function (k) { headers[k] = opts.headers[k]; });
    opts.headers = headers;
    opts.credentials = "same-origin";
    return fetch(path, opts).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }

  function query(params) {
    return Object.keys(params).filter(function (k) {
      return params[k] !== null && params[k] !== undefined && params[k] !== "";
    }).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
  }

  function chartWidth() {
    var c = document.querySelector(".ll-charts");
    return Math.max(300, Math.round((c && c.clientWidth) || 900) - 70);
  }

  // Language links keep the rest of the query string.
  document.querySelectorAll("a[data-lang]").forEach(function (a) {
    var u = new URL(window.location.href);
    u.searchParams.set("lang", a.dataset.lang);
    a.href = u.pathname + u.search;
  });

  function setBadge(badge, verdict) {
    badge.textContent = verdict ? (text[verdict] || verdict) : "…";
    badge.className = "ll-verdict" + (verdict ? " ll-v-" + verdict : "");
  }

  // -- runs table ------------------------------------------------------------------------
  if (page === "runs") {
    var project = document.querySelector(".ll-project");
    if (project) project.addEventListener("change", function () { project.form.submit(); });
    var table = document.getElementById("ll-runs");
    var rows = table ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
    var qIn = document.querySelector(".ll-q"), fStatus = document.querySelector(".ll-f-status");
    var fVerdict = document.querySelector(".ll-f-verdict"), cmp = document.querySelector(".ll-compare");
    var apply = function () {
      var needle = qIn.value.trim().toLowerCase();
      rows.forEach(function (tr) {
        var ok = (!needle || tr.dataset.name.toLowerCase().indexOf(needle) >= 0) &&
          (!fStatus.value || tr.dataset.status === fStatus.value) &&
          (!fVerdict.value || tr.dataset.verdict === fVerdict.value);
        tr.hidden = !ok;
      });
    };
    [qIn, fStatus, fVerdict].forEach(function (n) { n.addEventListener("input", apply); });
    if (table) {
      table.querySelectorAll("th[data-sort]").forEach(function (th) {
        th.addEventListener("click", function () {
          var key = th.dataset.sort, num = !!th.dataset.num;
          var asc = !th.classList.contains("ll-sorted-asc");
          table.querySelectorAll("th").forEach(function (h) { h.classList.remove("ll-sorted-asc", "ll-sorted-desc"); });
          th.classList.add(asc ? "ll-sorted-asc" : "ll-sorted-desc");
          rows.sort(function (a, b) {
            var x = a.dataset[key], y = b.dataset[key], r;
            if (num) {
              x = x === "" ? Infinity : parseFloat(x);
              y = y === "" ? Infinity : parseFloat(y);
              r = x === y ? 0 : (x < y ? -1 : 1);
            } else r = x.localeCompare(y);
            return asc ? r : -r;
          });
          rows.forEach(function (tr) { table.tBodies[0].appendChild(tr); });
        });
      });
    }
    var picks = document.querySelectorAll(".ll-pick");
    var picked = function () {
      return Array.prototype.filter.call(picks, function (c) { return c.checked; }).map(function (c) { return c.value; });
    };
    picks.forEach(function (c) {
      c.addEventListener("change", function () {
        var n = picked().length;
        cmp.disabled = n < 2 || n > 20;
        cmp.title = n > 20 ? (text.too_many || "") : "";
      });
    });
    cmp.addEventListener("click", function () {
      window.location.href = "/compare?" + query({ runs: picked().join(","), lang: cfg.lang });
    });
    // Fill in verdicts not known yet, one run at a time.
    var todo = rows.filter(function (tr) { return !tr.dataset.verdict; });
    var next = function () {
      var tr = todo.shift();
      if (!tr) return;
      api("/api/runs/" + encodeURIComponent(tr.dataset.id) + "/report?" + query({ lang: cfg.lang }))
        .then(function (r) {
          tr.dataset.verdict = r.verdict || "";
          setBadge(tr.querySelector(".ll-verdict"), r.verdict);
          apply();
        }).catch(function () {}).then(next);
    };
    next();
  }

  // -- run page --------------------------------------------------------------------------
  if (page === "run") {
    var root = document.getElementById("ll-root");
    var base = "/api/runs/" + encodeURIComponent(cfg.run);
    var view = null, version = null, status = cfg.status;
    var fetchRange = function (gid, lo, hi, px) {
      return api(base + "/data?" + query({ group: gid, step_min: lo, step_max: hi, width: px, lang: cfg.lang }))
        .then(function (d) { return d.groups[0]; });
    };
    var loadData = function () { return api(base + "/data?" + query({ width: chartWidth(), lang: cfg.lang })); };
    var loadReport = function () { return api(base + "/report?" + query({ lang: cfg.lang })); };
    var fmtDuration = function (sec) {
      if (sec === null || sec === undefined || !isFinite(sec)) return "-";
      var s = Math.floor(sec);
      if (s < 60) return sec.toFixed(1) + "s";
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
      var pad = function (v) { return String(v).padStart(2, "0"); };
      return h ? h + "h" + pad(m) + "m" + pad(r) + "s" : m + "m" + pad(r) + "s";
    };
    var setStatus = function (s) {
      status = s;
      var n = document.getElementById("ll-status");
      n.textContent = text["st_" + s] || s;
      n.dataset.status = s;
      n.className = "ll-status ll-s-" + s;
      root.dataset.status = s;
    };
    var setDuration = function (p) {
      var end = p.end_time || p.heartbeat;
      var d = document.getElementById("ll-duration");
      if (d && end && cfg.start_time) d.textContent = fmtDuration(end - cfg.start_time);
    };
    /* The side panel's summary, as the run writes it. */
    var setSummary = function (summary) {
      var box = document.querySelector(".ll-summary-box");
      var table = document.querySelector("table.ll-summary");
      if (!box || !table || !summary) return;
      var keys = Object.keys(summary).sort();
      table.textContent = "";
      keys.forEach(function (k) {
        var tr = document.createElement("tr");
        var v = summary[k];
        tr.appendChild(LL.el("td", null, k));
        tr.appendChild(LL.el("td", null, typeof v === "number" ? LL.fmtNum(v) : (typeof v === "object" ? JSON.stringify(v) : v)));
        table.appendChild(tr);
      });
      box.hidden = keys.length === 0;
      root.dataset.summaryKeys = String(keys.length);
    };
    /* The last step the charts have: polls ask for what came after it and are held open
       by the server until a new point arrives (long polling), so a point shows as soon as
       it is committed; without it, the page polls every poll_ms. */
    var lastStep = null, held = false, pollStart = 0;
    var lastOf = function (groups) {
      var m = null;
      (groups || []).forEach(function (g) {
        if (g.x !== "step") return;
        (g.series || []).forEach(function (s) {
          var xs = s.x || [];
          if (xs.length && (m === null || xs[xs.length - 1] > m)) m = xs[xs.length - 1];
        });
      });
      return m;
    };
    var schedule = function () {
      if (status !== "running") return;
      /* A held poll is asked again at once, but a run that logs fast is redrawn at most
         once a second. */
      var gap = held ? Math.max(0, 1000 - (Date.now() - pollStart)) : (cfg.poll_ms || 1500);
      setTimeout(poll, gap);
    };
    var poll = function () {
      var q = lastStep === null ? "" : "?" + query({ after: lastStep, wait: cfg.wait_s || 20 });
      held = false;
      pollStart = Date.now();
      api(base + "/poll" + q).then(function (p) {
        held = lastStep !== null;
        if (p.last_step !== undefined && p.last_step !== null && lastStep !== null) {
          lastStep = Math.max(lastStep, p.last_step);
        }
        setStatus(p.status);
        setDuration(p);
        if (p.version === version) return null;
        version = p.version;
        return Promise.all([
          loadData().then(function (d) {
            var m = lastOf(d.groups);
            if (m !== null) lastStep = lastStep === null ? m : Math.max(lastStep, m);
            view.setGroups(d.groups, d.clock ? [d.clock] : []);
          }),
          loadReport().then(function (r) { view.setReport(r); }),
          api(base + "?" + query({ lang: cfg.lang })).then(function (r) {
            setSummary(r.summary);
            if (r.duration !== null && r.duration !== undefined) {
              document.getElementById("ll-duration").textContent = fmtDuration(r.duration);
            }
          })
        ]);
      }).catch(function () {}).then(function () {
        root.dataset.polls = String((parseInt(root.dataset.polls || "0", 10)) + 1);
        schedule();
      });
    };
    loadData().then(function (d) {
      version = d.version;
      lastStep = lastOf(d.groups);
      view = LL.mount(root, {
        groups: d.groups, text: text, report: null, colors: cfg.colors, start_time: cfg.start_time,
        clock: d.clock
      }, { fetchRange: fetchRange });
      root.dataset.ready = "1";
      return loadReport().then(function (r) { view.setReport(r); root.dataset.reportReady = "1"; });
    }).catch(function (e) { root.dataset.error = String(e); }).then(schedule);

    var nameEl = document.querySelector(".ll-run-name");
    document.querySelector(".ll-rename").addEventListener("click", function () {
      var name = window.prompt(text.rename, nameEl.textContent);
      if (!name) return;
      api(base + "/rename", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: name })
      }).then(function (r) { nameEl.textContent = r.name; });
    });
    document.querySelector(".ll-delete").addEventListener("click", function () {
      if (!window.confirm(text.delete + ": " + nameEl.textContent + "?")) return;
      api(base, { method: "DELETE" }).then(function () { window.location.href = "/"; });
    });
  }

  // -- compare page ----------------------------------------------------------------------
  if (page === "compare") {
    var croot = document.getElementById("ll-root");
    /* Runs never analysed show "…" in the first view; /api/compare analyses them (once,
       kept in the store): fill in their verdicts, findings and the comparison's summary. */
    var fillPending = function (c) {
      var cards = document.querySelectorAll(".ll-compare-run[data-pending]");
      if (!cards.length) return;
      var byId = {};
      c.runs.forEach(function (r) { byId[r.id] = r; });
      cards.forEach(function (card) {
        var r = byId[card.dataset.id];
        if (!r || !r.verdict) return;
        setBadge(card.querySelector(".ll-verdict"), r.verdict);
        card.querySelector(".ll-run-summary").textContent = r.summary || "";
        var ul = card.querySelector(".ll-run-findings");
        ul.textContent = "";
        (r.findings || []).forEach(function (f) {
          var li = document.createElement("li");
          li.appendChild(LL.el("span", "ll-sev ll-sev-" + f.severity, text["sev_" + f.severity] || f.severity));
          li.appendChild(document.createTextNode(" " + f.title));
          ul.appendChild(li);
        });
        delete card.dataset.pending;
      });
      var s = c.comparison && c.comparison.summary;
      var sEl = document.querySelector(".ll-compare-summary");
      if (s && sEl) sEl.textContent = s[cfg.lang] || s.en || sEl.textContent;
      croot.dataset.filled = "1";
    };
    var ids = (cfg.runs || []).join(",");
    var range = function (gid, lo, hi, px) {
      return api("/api/compare/data?" + query({ runs: ids, group: gid, step_min: lo, step_max: hi, width: px, lang: cfg.lang }))
        .then(function (d) { return d.groups[0]; });
    };
    api("/api/compare/data?" + query({ runs: ids, width: chartWidth(), lang: cfg.lang })).then(function (d) {
      var cview = LL.mount(croot, { groups: d.groups, text: text, colors: cfg.colors, clocks: d.clocks },
        { fetchRange: range });
      croot.dataset.ready = "1";
      /* Every run's findings, drawn on the compare charts. */
      return api("/api/compare?" + query({ runs: ids, lang: cfg.lang })).then(function (c) {
        fillPending(c);
        var all = [];
        c.runs.forEach(function (r, i) {
          (r.findings || []).forEach(function (f) {
            var g = {};
            Object.keys(f).forEach(function (k) { g[k] = f[k]; });
            g.id = i * 1000 + f.id;
            g.run = i;
            all.push(g);
          });
        });
        cview.setFindings(all);
        croot.dataset.findings = String(all.length);
      });
    }).catch(function (e) { croot.dataset.error = String(e); });
  }
})();
