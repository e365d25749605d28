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
      c.addEventListener("change", function () { cmp.disabled = picked().length < 2; });
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
    var setStatus = function (s) {
      status = s;
      var n = document.getElementById("ll-status");
      n.textContent = s;
      n.className = "ll-status ll-s-" + s;
      root.dataset.status = s;
    };
    var schedule = function () {
      if (status === "running") setTimeout(poll, cfg.poll_ms || 1500);
    };
    var poll = function () {
      api(base + "/poll").then(function (p) {
        setStatus(p.status);
        if (p.version === version) return null;
        version = p.version;
        return Promise.all([
          loadData().then(function (d) { view.setGroups(d.groups); }),
          loadReport().then(function (r) { view.setReport(r); })
        ]);
      }).catch(function () {}).then(function () {
        root.dataset.polls = String((parseInt(root.dataset.polls || "0", 10)) + 1);
        schedule();
      });
    };
    loadData().then(function (d) {
      version = d.version;
      view = LL.mount(root, { groups: d.groups, text: text, report: null }, { fetchRange: fetchRange });
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
    var ids = (cfg.runs || []).join(",");
    var range = function (gid, lo, hi, px) {
      return api("/api/compare/data?" + query({ runs: ids, group: gid, step_min: lo, step_max: hi, width: px, lang: cfg.lang }))
        .then(function (d) { return d.groups[0]; });
    };
    api("/api/compare/data?" + query({ runs: ids, width: chartWidth(), lang: cfg.lang })).then(function (d) {
      LL.mount(croot, { groups: d.groups, text: text }, { fetchRange: range });
      croot.dataset.ready = "1";
    }).catch(function (e) { croot.dataset.error = String(e); });
  }
})();
