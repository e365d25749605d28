/* losslens charts: draws the chart groups of a run (or of several runs) with uPlot,
 * the findings on them (shaded step range, marker at the onset), links findings and
 * charts both ways, and offers EMA smoothing and a log scale per chart.
 * Used by the dashboard and inlined into the self-contained HTML report.
 * Every piece of data reaches the page through textContent, never innerHTML. */
(function () {
  "use strict";

  var PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
    "#65a30d", "#9333ea", "#0f766e"];
  var SEVERITY_RGB = { error: "220,38,38", warning: "217,119,6", info: "37,99,235" };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function rgba(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  /* Debiased EMA that knows how many raw points each value stands for: a value that is
   * the mean of n points moves the average as much as those n points would have. */
  function ema(ys, ns, s) {
    var out = new Array(ys.length), avg = 0, w = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (y === null || !isFinite(y)) { out[i] = null; continue; }
      var a = Math.pow(s, ns ? ns[i] : 1);
      avg = a * avg + (1 - a) * y;
      w = a * w + (1 - a);
      out[i] = w > 0 ? avg / w : y;
    }
    return out;
  }

  /* uPlot wants one x array for all series: merge sorted x lists, keeping repeated x. */
  function align(lists) {
    var xs = [], cols = lists.map(function () { return []; });
    var pos = lists.map(function () { return 0; });
    for (;;) {
      var min = Infinity;
      for (var k = 0; k < lists.length; k++) {
        if (pos[k] < lists[k].x.length && lists[k].x[pos[k]] < min) min = lists[k].x[pos[k]];
      }
      if (min === Infinity) break;
      xs.push(min);
      for (var j = 0; j < lists.length; j++) {
        if (pos[j] < lists[j].x.length && lists[j].x[pos[j]] === min) {
          cols[j].push(lists[j].y[pos[j]]);
          pos[j]++;
        } else {
          cols[j].push(null);
        }
      }
    }
    return [xs].concat(cols);
  }

  function fmtNum(v) {
    if (v === null || v === undefined) return "-";
    if (typeof v !== "number") return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
    return String(+v.toPrecision(5));
  }

  function Chart(view, group, holder) {
    this.view = view;
    this.full = group;
    this.group = group;
    this.zoom = null;
    this.log = false;
    this.u = null;
    this.box = el("section", "ll-chart");
    this.box.dataset.group = group.id;
    var head = el("div", "ll-chart-head");
    this.titleEl = el("h3", "ll-chart-title", group.title);
    head.appendChild(this.titleEl);
    var lab = el("label", "ll-log");
    var cb = el("input");
    cb.type = "checkbox";
    var self = this;
    cb.addEventListener("change", function () { self.log = cb.checked; self.build(); });
    lab.appendChild(cb);
    lab.appendChild(document.createTextNode(" " + view.text.log_scale));
    head.appendChild(lab);
    this.box.appendChild(head);
    this.plot = el("div", "ll-plot");
    this.box.appendChild(this.plot);
    holder.appendChild(this.box);
  }

  Chart.prototype.findings = function () {
    var id = this.group.id;
    if (this.group.x !== "step") return [];
    return this.view.findings.filter(function (f) { return f.group === id; });
  };

  Chart.prototype.build = function () {
    var self = this, view = this.view, g = this.group, smooth = view.smoothing;
    var lists = [], series = [{ label: g.x === "time" ? "seconds since start" : "step" }];
    var drawn = 0, total = 0;
    g.series.forEach(function (s, i) {
      var color = PALETTE[(view.colorOffset + i) % PALETTE.length];
      var ys = s.y.map(function (v) { return self.log && v !== null && v <= 0 ? null : v; });
      lists.push({ x: s.x, y: ys });
      ys.forEach(function (v) { if (v !== null) drawn++; });
      drawn += s.nonfinite.length;
      total += s.n_total;
      var few = s.x.length < 60;
      series.push({
        label: s.label, stroke: smooth > 0 ? rgba(color, 0.28) : color, width: 1.25,
        spanGaps: true, points: { show: few, size: 5 }, value: function (u, v) { return fmtNum(v); }
      });
      if (smooth > 0) {
        var src = s.mean || { x: s.x, y: s.y, n: null };
        var sm = ema(src.y, src.n, smooth);
        if (self.log) sm = sm.map(function (v) { return v !== null && v <= 0 ? null : v; });
        lists.push({ x: src.x, y: sm });
        series.push({
          label: s.label + " (EMA)", stroke: color, width: 2, spanGaps: true,
          points: { show: false }, value: function (u, v) { return fmtNum(v); }
        });
      }
    });
    var data = align(lists);
    var hasPositive = data.slice(1).some(function (c) {
      return c.some(function (v) { return v !== null && v > 0; });
    });
    var logOn = this.log && hasPositive;
    this.box.dataset.points = String(drawn);
    this.box.dataset.total = String(total);
    this.box.dataset.log = logOn ? "1" : "0";
    var width = Math.max(280, this.plot.clientWidth || 600);
    var opts = {
      width: width, height: 240,
      scales: { x: { time: false }, y: logOn ? { distr: 3, log: 10 } : { distr: 1 } },
      series: series,
      axes: [{}, {
        values: function (u, vals) { return vals.map(fmtNum); },
        size: function (u, vals) {
          var n = vals ? Math.max.apply(null, vals.map(function (v) { return String(v).length; })) : 4;
          return Math.max(40, 12 + 7 * n);
        }
      }],
      legend: { show: true, live: true },
      cursor: {
        drag: { x: true, y: false, setScale: true },
        bind: {
          dblclick: function () { return function () { self.resetZoom(); return null; }; }
        }
      },
      hooks: {
        drawClear: [function (u) { self.decorate(u, true); }],
        draw: [function (u) { self.decorate(u, false); }],
        setScale: [function (u, key) { if (key === "x") self.onScale(u); }]
      }
    };
    if (this.u) this.u.destroy();
    this.plot.textContent = "";
    this.building = true;
    this.u = new uPlot(opts, data, this.plot);
    if (this.zoom) this.u.setScale("x", { min: this.zoom[0], max: this.zoom[1] });
    this.building = false;
    var over = this.u.over, downX = null;
    over.addEventListener("mousedown", function (e) { downX = e.clientX; });
    over.addEventListener("click", function (e) {
      if (downX !== null && Math.abs(e.clientX - downX) > 3) return;
      self.clickAt(e.offsetX);
    });
  };

  /* Bands go under the grid and the lines (drawClear); onset marks and NaN marks on top. */
  Chart.prototype.decorate = function (u, under) {
    var ctx = u.ctx, b = u.bbox, dpr = window.devicePixelRatio || 1, active = this.view.active;
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.left, b.top, b.width, b.height);
    ctx.clip();
    this.findings().forEach(function (f) {
      var rgb = SEVERITY_RGB[f.severity] || SEVERITY_RGB.info, on = f.id === active;
      if (under && f.step_start !== null && f.step_start !== undefined) {
        var end = f.step_end === null || f.step_end === undefined ? f.step_start : f.step_end;
        var x0 = u.valToPos(f.step_start, "x", true), x1 = u.valToPos(end, "x", true);
        if (x1 - x0 < 4 * dpr) { var c = (x0 + x1) / 2; x0 = c - 2 * dpr; x1 = c + 2 * dpr; }
        ctx.fillStyle = "rgba(" + rgb + "," + (on ? 0.22 : 0.09) + ")";
        ctx.fillRect(x0, b.top, x1 - x0, b.height);
        if (on) {
          ctx.strokeStyle = "rgba(" + rgb + ",0.9)";
          ctx.lineWidth = 2 * dpr;
          ctx.strokeRect(x0, b.top + dpr, x1 - x0, b.height - 2 * dpr);
        }
      }
      if (!under && f.onset_step !== null && f.onset_step !== undefined) {
        var xo = u.valToPos(f.onset_step, "x", true);
        ctx.strokeStyle = "rgba(" + rgb + ",0.9)";
        ctx.lineWidth = (on ? 2 : 1) * dpr;
        ctx.setLineDash([4 * dpr, 3 * dpr]);
        ctx.beginPath();
        ctx.moveTo(xo, b.top);
        ctx.lineTo(xo, b.top + b.height);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "rgba(" + rgb + ",1)";
        ctx.beginPath();
        ctx.moveTo(xo - 6 * dpr, b.top);
        ctx.lineTo(xo + 6 * dpr, b.top);
        ctx.lineTo(xo, b.top + 9 * dpr);
        ctx.closePath();
        ctx.fill();
      }
    });
    if (under) { ctx.restore(); return; }
    ctx.fillStyle = "#b91c1c";
    ctx.font = (11 * dpr) + "px sans-serif";
    ctx.textAlign = "center";
    this.group.series.forEach(function (s) {
      s.nonfinite.forEach(function (p) {
        var x = u.valToPos(p[0], "x", true);
        ctx.fillText(p[1] === "nan" ? "NaN" : (p[1] === "inf" ? "+Inf" : "-Inf"), x, b.top + 12 * dpr);
        ctx.fillRect(x - dpr, b.top + 16 * dpr, 2 * dpr, b.height - 16 * dpr);
      });
    });
    ctx.restore();
  };

  Chart.prototype.clickAt = function (offsetX) {
    var u = this.u, step = u.posToVal(offsetX, "x"), tol = Math.abs(u.posToVal(offsetX + 6, "x") - step);
    var best = null, bestWidth = Infinity;
    this.findings().forEach(function (f) {
      var lo = f.step_start, hi = f.step_end === null || f.step_end === undefined ? lo : f.step_end;
      if (lo === null || lo === undefined) { lo = f.onset_step; hi = f.onset_step; }
      if (lo === null || lo === undefined) return;
      if (step >= lo - tol && step <= hi + tol && hi - lo < bestWidth) { best = f; bestWidth = hi - lo; }
    });
    if (best) this.view.select(best.id, "chart");
  };

  Chart.prototype.extent = function () {
    var lo = Infinity, hi = -Infinity;
    this.full.series.forEach(function (s) {
      if (s.x.length) { lo = Math.min(lo, s.x[0]); hi = Math.max(hi, s.x[s.x.length - 1]); }
    });
    return lo <= hi ? [lo, hi] : null;
  };

  Chart.prototype.onScale = function (u) {
    if (this.building || this.applying) return;
    var ext = this.extent(), min = u.scales.x.min, max = u.scales.x.max;
    if (!ext || min === null || max === null) return;
    var zoomed = min > ext[0] + 1e-9 || max < ext[1] - 1e-9;
    this.zoom = zoomed ? [min, max] : null;
    this.box.dataset.zoom = zoomed ? min + ":" + max : "";
    var fetchRange = this.view.opts.fetchRange, self = this;
    if (!fetchRange || !zoomed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () {
      var px = Math.round(u.bbox.width / (window.devicePixelRatio || 1));
      fetchRange(self.full.id, Math.floor(min), Math.ceil(max), px).then(function (g) {
        if (!g || !self.zoom) return;
        self.group = g;
        self.box.dataset.detail = "1";
        self.build();
      });
    }, 200);
  };

  Chart.prototype.resetZoom = function () {
    this.zoom = null;
    this.group = this.full;
    this.box.dataset.zoom = "";
    this.box.dataset.detail = "";
    this.build();
  };

  Chart.prototype.update = function (group) {
    this.full = group;
    if (!this.zoom) this.group = group;
    this.titleEl.textContent = group.title;
    this.build();
  };

  Chart.prototype.showRange = function (lo, hi) {
    if (!this.zoom || lo === null || lo === undefined) { this.u.redraw(); return; }
    if (lo < this.zoom[0] || hi > this.zoom[1]) this.resetZoom();
    else this.u.redraw();
  };

  function View(root, payload, opts) {
    this.root = root;
    this.opts = opts || {};
    this.text = payload.text || {};
    this.findings = [];
    this.active = null;
    this.smoothing = 0;
    this.colorOffset = 0;
    this.charts = {};
    var self = this;
    this.chartsEl = root.querySelector(".ll-charts");
    this.findingsEl = root.querySelector(".ll-findings");
    var slider = root.querySelector(".ll-smoothing input");
    if (slider) {
      var out = root.querySelector(".ll-smoothing output");
      slider.addEventListener("input", function () {
        self.smoothing = parseFloat(slider.value);
        if (out) out.textContent = self.smoothing.toFixed(2);
        Object.keys(self.charts).forEach(function (k) { self.charts[k].build(); });
      });
      this.smoothing = parseFloat(slider.value) || 0;
    }
    if (payload.report) this.setReport(payload.report, true);
    this.setGroups(payload.groups || []);
    window.addEventListener("resize", function () {
      clearTimeout(self.resizeTimer);
      self.resizeTimer = setTimeout(function () {
        Object.keys(self.charts).forEach(function (k) {
          var c = self.charts[k];
          c.u.setSize({ width: Math.max(280, c.plot.clientWidth), height: 240 });
        });
      }, 150);
    });
  }

  View.prototype.setGroups = function (groups) {
    var self = this, seen = {};
    groups.forEach(function (g) {
      seen[g.id] = true;
      var c = self.charts[g.id];
      if (c) c.update(g);
      else {
        c = new Chart(self, g, self.chartsEl);
        self.charts[g.id] = c;
        c.build();
      }
    });
    Object.keys(this.charts).forEach(function (k) {
      if (!seen[k]) { self.charts[k].u.destroy(); self.charts[k].box.remove(); delete self.charts[k]; }
    });
    this.root.dataset.charts = String(Object.keys(this.charts).length);
  };

  View.prototype.setReport = function (report, initial) {
    this.findings = report.findings || [];
    var badge = this.root.querySelector(".ll-verdict");
    if (badge && report.verdict) {
      badge.textContent = this.text[report.verdict] || report.verdict;
      badge.className = "ll-verdict ll-v-" + report.verdict;
      badge.dataset.verdict = report.verdict;
    }
    var summary = this.root.querySelector(".ll-verdict-summary");
    if (summary) summary.textContent = report.summary || "";
    this.renderFindings(report);
    if (!initial) {
      var self = this;
      Object.keys(this.charts).forEach(function (k) { self.charts[k].u.redraw(); });
    }
  };

  View.prototype.renderFindings = function (report) {
    var list = this.findingsEl, self = this;
    if (!list) return;
    list.textContent = "";
    list.dataset.count = String(this.findings.length);
    if (!this.findings.length) {
      list.appendChild(el("p", "ll-empty", report.verdict ? this.text.no_findings : this.text.not_analysed));
      return;
    }
    this.findings.forEach(function (f) {
      var item = el("article", "ll-finding ll-sev-" + f.severity);
      item.dataset.findingId = String(f.id);
      item.tabIndex = 0;
      var head = el("div", "ll-finding-head");
      head.appendChild(el("span", "ll-sev", f.severity));
      head.appendChild(el("strong", "ll-finding-title", f.title));
      var where = [];
      if (f.step_start !== null && f.step_start !== undefined) {
        where.push(self.text.steps + " " + f.step_start + (f.step_end !== null && f.step_end !== f.step_start ? "–" + f.step_end : ""));
      }
      if (f.metric) where.push(f.metric);
      head.appendChild(el("span", "ll-finding-where", where.join(" · ")));
      item.appendChild(head);
      if (f.explanation) item.appendChild(el("p", "ll-finding-expl", f.explanation));
      if (f.evidence) item.appendChild(el("p", "ll-finding-evidence", f.evidence));
      if (f.suggestion) {
        var p = el("p", "ll-finding-sugg");
        p.appendChild(el("b", null, self.text.suggestion + ": "));
        p.appendChild(document.createTextNode(f.suggestion));
        item.appendChild(p);
      }
      item.addEventListener("click", function () { self.select(f.id, "list"); });
      item.addEventListener("keydown", function (e) { if (e.key === "Enter") self.select(f.id, "list"); });
      list.appendChild(item);
      if (f.id === self.active) item.classList.add("ll-active");
    });
  };

  View.prototype.select = function (id, from) {
    this.active = id;
    var f = this.findings.filter(function (x) { return x.id === id; })[0];
    var self = this;
    this.root.querySelectorAll(".ll-finding").forEach(function (n) {
      n.classList.toggle("ll-active", String(id) === n.dataset.findingId);
      if (from === "chart" && String(id) === n.dataset.findingId) n.scrollIntoView({ block: "nearest" });
    });
    Object.keys(this.charts).forEach(function (k) {
      var c = self.charts[k], mine = f && f.group === k;
      c.box.classList.toggle("ll-active", !!mine);
      c.box.dataset.active = mine ? String(id) : "";
      c.box.dataset.highlight = mine && f.step_start !== null && f.step_start !== undefined
        ? f.step_start + ":" + (f.step_end === null || f.step_end === undefined ? f.step_start : f.step_end) : "";
      if (mine) {
        c.showRange(f.step_start, f.step_end);
        if (from === "list") c.box.scrollIntoView({ block: "nearest" });
      } else c.u.redraw();
    });
    this.root.dataset.activeFinding = String(id);
  };

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  window.LL = {
    View: View,
    ema: ema,
    align: align,
    fmtNum: fmtNum,
    el: el,
    readJSON: readJSON,
    mount: function (root, payload, opts) { var v = new View(root, payload, opts); window.LL.view = v; return v; }
  };
})();
