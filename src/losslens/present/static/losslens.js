/* losslens charts: draws the chart groups of a run (or of several runs) with uPlot, the
 * findings behind the data (a band for a sustained range, one thin mark per spike, a small
 * triangle at the onset), links findings and charts both ways, and offers a choice of x axis
 * (step / epoch / wall time / relative time, kept per user), smoothing for noisy series and
 * a log scale per chart. Used by the dashboard and inlined into the self-contained report.
 * Every piece of data reaches the page through textContent, never innerHTML. */
(function () {
  "use strict";

  /* Same list and order as losslens/present/style.py. */
  var PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
    "#65a30d", "#9333ea", "#0f766e", "#b45309", "#4f46e5", "#be123c", "#15803d",
    "#c2410c", "#0369a1", "#a21caf", "#4d7c0f", "#1d4ed8", "#b91c1c"];
  var SEVERITY_RGB = { error: "220,38,38", warning: "217,119,6", info: "37,99,235" };
  var X_KEY = "losslens.xaxis";
  var X_MODES = ["step", "epoch", "wall", "relative"];
  /* Above this smoothing the average is the bold line; at or below it the data is. */
  var HEAVY = 0.6;
  var HEIGHT = 240;
  /* Tick steps: whole steps only, and round durations (no "12.5" step, no 0:37 tick). */
  var STEP_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4,
    2.5e4, 5e4, 1e5, 2e5, 2.5e5, 5e5, 1e6, 2e6, 2.5e6, 5e6, 1e7, 2e7, 5e7, 1e8, 1e9, 1e10, 1e12];
  var TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400, 172800, 604800];

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
    if (v === null || v === undefined) return "";
    if (typeof v !== "number") return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2).replace("e+", "e");
    return String(+v.toPrecision(5));
  }

  function fmtSeconds(v) {
    if (v === null || v === undefined) return "";
    var s = Math.round(v), neg = s < 0;
    s = Math.abs(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var out = h ? h + ":" + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0")
      : m + ":" + String(r).padStart(2, "0");
    return (neg ? "-" : "") + out;
  }

  function fmtClock(v) {
    if (v === null || v === undefined) return "";
    var d = new Date(v * 1000);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0") +
      ":" + String(d.getSeconds()).padStart(2, "0");
  }

  /* Linear interpolation of v in (xs -> ys), xs ascending; straight lines past the ends. */
  function interp(xs, ys, v) {
    var n = xs.length;
    if (!n) return null;
    if (n === 1) return ys[0] + (v - xs[0]);
    var lo = 0, hi = n - 1;
    if (v <= xs[0]) { hi = 1; }
    else if (v >= xs[n - 1]) { lo = n - 2; }
    else {
      while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xs[mid] <= v) lo = mid; else hi = mid; }
    }
    var dx = xs[hi] - xs[lo];
    if (dx === 0) return ys[lo];
    return ys[lo] + (ys[hi] - ys[lo]) * (v - xs[lo]) / dx;
  }

  function isEvalKey(key) { return /(^|[\/_])(eval|val|valid|validation|test)([\/_]|$)/i.test(key); }

  var measureCtx = null;
  function textWidth(s, font) {
    if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
    measureCtx.font = font || "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
    return measureCtx.measureText(s).width;
  }

  /* -- one chart ---------------------------------------------------------------------------- */

  function Chart(view, group, holder) {
    this.view = view;
    this.full = group;
    this.group = group;
    this.zoom = null;
    this.log = false;
    this.u = null;
    this.ySize = 48;
    this.meta = [];
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
    lab.appendChild(document.createTextNode(" " + (view.text.log_scale || "log")));
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

  /* The x unit this chart is drawn in. */
  Chart.prototype.mode = function () {
    var m = this.view.mode();
    if (this.group.x === "time") return m === "wall" ? "wall" : "relative";
    return m;
  };

  Chart.prototype.xLabel = function () {
    var t = this.view.text, m = this.mode();
    if (m === "epoch") return t.x_epoch || "epoch";
    if (m === "wall") return t.x_wall || "wall time";
    if (m === "relative") return (t.x_relative || "relative time") + " (h:m:s)";
    return t.x_step || "step";
  };

  /* The y axis title: the chart's title without its parenthesis ("Loss", "학습률"). */
  Chart.prototype.yLabel = function () {
    var t = String(this.group.title || "").replace(/\s*\(.*\)\s*$/, "");
    return t.length > 28 ? t.slice(0, 27) + "…" : t;
  };

  Chart.prototype.build = function () {
    var self = this, view = this.view, g = this.group, smooth = view.smoothing;
    var mode = this.mode(), heavy = smooth > HEAVY;
    var lists = [], series = [{ label: this.xLabel(), value: function (u, v) { return self.fmtX(v); } }];
    var meta = [];
    var drawn = 0, total = 0;
    g.series.forEach(function (s, i) {
      var run = s.run || 0;
      var color = view.colorFor(run, i);
      var xs = view.toX(s, g, mode);
      var ys = s.y.map(function (v) { return self.log && v !== null && v <= 0 ? null : v; });
      lists.push({ x: xs, y: ys });
      ys.forEach(function (v) { if (v !== null) drawn++; });
      drawn += s.nonfinite.length;
      total += s.n_total;
      var dash = isEvalKey(s.key) ? [6, 4] : undefined;
      var smoothOn = smooth > 0 && !!s.smooth;
      var bold = !(smoothOn && heavy);
      var few = s.x.length < 60 || isEvalKey(s.key) && s.x.length < 300;
      series.push({
        label: s.label, stroke: bold ? color : rgba(color, 0.3), width: bold ? 1.75 : 1,
        dash: dash, spanGaps: true, points: { show: few, size: 5, fill: color },
        value: self.hoverValue(lists.length)
      });
      meta.push({ key: s.key, run: run, role: "data", bold: bold });
      if (smoothOn) {
        var src = s.mean || { x: s.x, y: s.y, n: null };
        var sm = ema(src.y, src.n, smooth);
        if (self.log) sm = sm.map(function (v) { return v !== null && v <= 0 ? null : v; });
        lists.push({ x: view.toX({ x: src.x, run: run, key: s.key }, g, mode), y: sm });
        series.push({
          label: s.label + " (EMA)", stroke: heavy ? color : rgba(color, 0.75),
          width: heavy ? 2.25 : 1.1, dash: dash, spanGaps: true, points: { show: false },
          value: self.hoverValue(lists.length)
        });
        meta.push({ key: s.key, run: run, role: "ema", bold: heavy });
      }
    });
    this.meta = meta;
    var data = align(lists);
    var hasPositive = data.slice(1).some(function (c) {
      return c.some(function (v) { return v !== null && v > 0; });
    });
    var logOn = this.log && hasPositive;
    this.box.dataset.points = String(drawn);
    this.box.dataset.total = String(total);
    this.box.dataset.log = logOn ? "1" : "0";
    this.box.dataset.xmode = mode;
    var width = Math.max(200, this.plot.clientWidth || 600);
    /* Wide enough for the widest label in the axis's own font, plus ticks and gap; it
     * only grows, so live updates never shift the plot sideways. */
    var ySize = function (u, vals, ai) {
      if (!vals) return self.ySize;
      var ax = u.axes[ai === undefined ? 1 : ai], font = ax && ax.font ? ax.font[0] : null;
      var w = 0;
      vals.forEach(function (v) { if (v) w = Math.max(w, textWidth(String(v), font)); });
      self.ySize = Math.max(self.ySize, Math.ceil(w) + 26);
      return self.ySize;
    };
    var opts = {
      width: width, height: HEIGHT,
      padding: [14 + 6 * this.findings().filter(function (f) { return f.band; }).length, 14, 0, 4],
      scales: {
        x: { time: mode === "wall" },
        y: logOn ? { distr: 3, log: 10 } : { distr: 1 }
      },
      series: series,
      axes: [{
        label: this.xLabel(), labelSize: 22, size: 34,
        incrs: mode === "step" ? STEP_INCRS : (mode === "relative" ? TIME_INCRS : undefined),
        values: mode === "wall" ? function (u, vals) { return vals.map(fmtClock); }
          : function (u, vals) { return vals.map(function (v) { return self.fmtX(v); }); }
      }, {
        label: this.yLabel(), labelSize: 18,
        values: function (u, vals) { return vals.map(function (v) { return v === null ? "" : fmtNum(v); }); },
        size: ySize
      }],
      legend: { show: true, live: true },
      cursor: {
        drag: { x: true, y: false, setScale: true },
        bind: {
          dblclick: function () { return function () { self.cancelClick(); self.resetZoom(); return null; }; }
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
      if (e.detail > 1) { self.cancelClick(); return; }
      var x = e.offsetX;
      self.cancelClick();
      /* Wait for a possible second click: a double click resets the zoom and selects nothing. */
      self.clickTimer = setTimeout(function () { self.clickTimer = null; self.clickAt(x); }, 260);
    });
  };

  Chart.prototype.cancelClick = function () {
    if (this.clickTimer) { clearTimeout(this.clickTimer); this.clickTimer = null; }
  };

  Chart.prototype.fmtX = function (v) {
    if (v === null || v === undefined) return "";
    var m = this.mode();
    if (m === "wall") return fmtClock(v);
    if (m === "relative") return fmtSeconds(v);
    if (m === "epoch") return String(+v.toPrecision(4));
    return String(Math.round(v));
  };

  /* The legend shows, for each series, its value nearest the cursor (sparse eval points too). */
  Chart.prototype.hoverValue = function (col) {
    var self = this;
    return function (u, v, si, idx) {
      if (idx === null || idx === undefined) return "";
      var ys = u.data[col], xs = u.data[0];
      if (!ys) return "";
      if (ys[idx] !== null && ys[idx] !== undefined) return fmtNum(ys[idx]);
      var x = xs[idx], best = -1, bestD = Infinity;
      for (var k = 0; k < ys.length; k++) {
        if (ys[k] === null || ys[k] === undefined) continue;
        var d = Math.abs(xs[k] - x);
        if (d < bestD) { bestD = d; best = k; }
      }
      if (best < 0) return "";
      return fmtNum(ys[best]) + " (" + self.fmtX(xs[best]) + ")";
    };
  };

  /* Behind the data (drawClear): bands for sustained ranges, one thin line per spike.
   * On top (draw): a small triangle at each onset on the top edge, and NaN/Inf marks. */
  Chart.prototype.decorate = function (u, under) {
    var ctx = u.ctx, b = u.bbox, dpr = window.devicePixelRatio || 1, active = this.view.active;
    var view = this.view, mode = this.mode(), g = this.group;
    var pos = function (run, step) {
      var x = view.stepToX(run, step, g, mode);
      return x === null ? null : u.valToPos(x, "x", true);
    };
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.left, 0, b.width, b.top + b.height);
    ctx.clip();
    var lane = 0;
    this.findings().forEach(function (f) {
      var rgb = SEVERITY_RGB[f.severity] || SEVERITY_RGB.info, on = f.id === active;
      var run = f.run || 0;
      if (under) {
        /* A sustained range: a strip (one lane per finding, so ranges never
         * muddy each other) above the plot, in its own margin; the whole height is shaded
         * only for the selected finding. */
        if (f.band) {
          var x0 = pos(run, f.step_start), x1 = pos(run, f.step_end);
          if (x0 !== null && x1 !== null) {
            var w = Math.max(x1 - x0, dpr), h = 4 * dpr, y = b.top - (12 + 6 * lane) * dpr;
            lane++;
            if (on) {
              ctx.fillStyle = "rgba(" + rgb + ",0.12)";
              ctx.fillRect(x0, b.top, w, b.height);
              ctx.strokeStyle = "rgba(" + rgb + ",0.8)";
              ctx.lineWidth = 1.5 * dpr;
              ctx.strokeRect(x0, b.top + dpr, w, b.height - 2 * dpr);
            }
            ctx.fillStyle = "rgba(" + rgb + "," + (on ? 0.9 : 0.55) + ")";
            ctx.fillRect(x0, y, w, h);
          }
        }
        var marks = f.marks && f.marks.length ? f.marks : (!f.band && f.step_start !== null && f.step_start !== undefined ? [f.step_start] : []);
        ctx.strokeStyle = "rgba(" + rgb + "," + (on ? 0.85 : 0.35) + ")";
        ctx.lineWidth = (on ? 2 : 1) * dpr;
        marks.forEach(function (m) {
          var xm = pos(run, m);
          if (xm === null) return;
          ctx.beginPath();
          ctx.moveTo(xm, b.top);
          ctx.lineTo(xm, b.top + b.height);
          ctx.stroke();
        });
      } else {
        var onset = f.onset_step !== null && f.onset_step !== undefined ? f.onset_step : f.step_start;
        if (onset === null || onset === undefined) return;
        var xo = pos(run, onset);
        if (xo === null) return;
        var s = (on ? 5.5 : 4.5) * dpr;
        ctx.fillStyle = "rgba(" + rgb + ",1)";
        ctx.beginPath();
        ctx.moveTo(xo - s, b.top - 1.5 * s);
        ctx.lineTo(xo + s, b.top - 1.5 * s);
        ctx.lineTo(xo, b.top);
        ctx.closePath();
        ctx.fill();
      }
    });
    if (under) { ctx.restore(); return; }
    ctx.fillStyle = "#b91c1c";
    ctx.font = (11 * dpr) + "px sans-serif";
    ctx.textAlign = "center";
    g.series.forEach(function (s) {
      s.nonfinite.forEach(function (p) {
        var x = g.x === "time" ? (mode === "wall" ? p[0] + (view.startTime || 0) : p[0])
          : view.stepToX(s.run || 0, p[0], g, mode);
        if (x === null) return;
        x = u.valToPos(x, "x", true);
        ctx.fillText(nonfiniteLabel(p[1]), x, b.top + 12 * dpr);
        ctx.fillRect(x - dpr, b.top + 16 * dpr, 2 * dpr, b.height - 16 * dpr);
      });
    });
    ctx.restore();
  };

  Chart.prototype.clickAt = function (offsetX) {
    var u = this.u, view = this.view, g = this.group, mode = this.mode();
    var best = null, bestDist = Infinity, tolPx = 6;
    this.findings().forEach(function (f) {
      var run = f.run || 0;
      var px = function (step) {
        var x = view.stepToX(run, step, g, mode);
        return x === null ? null : u.valToPos(x, "x");
      };
      if (f.band) {
        var a = px(f.step_start), b = px(f.step_end);
        if (a !== null && b !== null && offsetX >= a - tolPx && offsetX <= b + tolPx) {
          var d = (b - a) / 2;
          if (d < bestDist) { best = f; bestDist = d; }
        }
      }
      var marks = (f.marks && f.marks.length ? f.marks : []).concat(
        [f.onset_step, f.step_start].filter(function (v) { return v !== null && v !== undefined; }));
      marks.forEach(function (m) {
        var x = px(m);
        if (x !== null && Math.abs(x - offsetX) <= tolPx && Math.abs(x - offsetX) < bestDist) {
          best = f; bestDist = Math.abs(x - offsetX);
        }
      });
    });
    if (best) this.view.select(best.id, "chart");
  };

  Chart.prototype.extent = function () {
    var lo = Infinity, hi = -Infinity, data = this.u ? this.u.data[0] : [];
    if (data.length) { lo = data[0]; hi = data[data.length - 1]; }
    return lo <= hi ? [lo, hi] : null;
  };

  Chart.prototype.onScale = function (u) {
    if (this.building || this.applying) return;
    var min = u.scales.x.min, max = u.scales.x.max;
    var ext = this.fullExtent || this.extent();
    if (!ext || min === null || max === null) return;
    var zoomed = min > ext[0] + 1e-9 || max < ext[1] - 1e-9;
    if (!this.zoom) this.fullExtent = ext;
    this.zoom = zoomed ? [min, max] : null;
    this.box.dataset.zoom = zoomed ? min + ":" + max : "";
    var fetchRange = this.view.opts.fetchRange, self = this;
    if (!fetchRange || !zoomed || this.group.x !== "step") return;
    clearTimeout(this.timer);
    var run = 0, mode = this.mode(), view = this.view;
    this.timer = setTimeout(function () {
      var px = Math.round(u.bbox.width / (window.devicePixelRatio || 1));
      var lo = view.xToStep(run, min, mode), hi = view.xToStep(run, max, mode);
      if (lo === null || hi === null) return;
      fetchRange(self.full.id, Math.floor(lo), Math.ceil(hi), px).then(function (g) {
        if (!g || !self.zoom) return;
        self.group = g;
        self.box.dataset.detail = "1";
        self.build();
      });
    }, 200);
  };

  Chart.prototype.resetZoom = function () {
    this.zoom = null;
    this.fullExtent = null;
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
    var view = this.view, mode = this.mode();
    var a = view.stepToX(0, lo, this.group, mode), b = view.stepToX(0, hi === null || hi === undefined ? lo : hi, this.group, mode);
    if (a === null || b === null || a < this.zoom[0] || b > this.zoom[1]) this.resetZoom();
    else this.u.redraw();
  };

  /* -- a page of charts ----------------------------------------------------------------------- */

  function View(root, payload, opts) {
    this.root = root;
    this.opts = opts || {};
    this.text = payload.text || {};
    this.colors = payload.colors || this.opts.colors || null;
    this.startTime = payload.start_time || this.opts.startTime || 0;
    this.clocks = payload.clocks || (payload.clock ? [payload.clock] : []);
    this.findings = [];
    this.active = null;
    this.smoothing = 0;
    this.charts = {};
    this.maps = {};
    this.xmode = "step";
    try { this.xmode = window.localStorage.getItem(X_KEY) || "step"; } catch (e) { this.xmode = "step"; }
    if (X_MODES.indexOf(this.xmode) < 0) this.xmode = "step";
    var self = this;
    this.chartsEl = root.querySelector(".ll-charts");
    this.findingsEl = root.querySelector(".ll-findings");
    this.xSelect = root.querySelector(".ll-xaxis select");
    if (this.xSelect) {
      this.xSelect.addEventListener("change", function () { self.setXMode(self.xSelect.value, true); });
    }
    var slider = root.querySelector(".ll-smoothing input");
    if (slider) {
      var out = root.querySelector(".ll-smoothing output");
      slider.addEventListener("input", function () {
        self.smoothing = parseFloat(slider.value);
        if (out) out.textContent = self.smoothing.toFixed(2);
        self.rebuild();
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
          c.u.setSize({ width: Math.max(200, c.plot.clientWidth), height: HEIGHT });
        });
      }, 150);
    });
  }

  View.prototype.rebuild = function () {
    var self = this;
    Object.keys(this.charts).forEach(function (k) { self.charts[k].build(); });
  };

  View.prototype.colorFor = function (run, i) {
    if (this.colors && this.colors.length > 1) return this.colors[run % this.colors.length];
    return PALETTE[i % PALETTE.length];
  };

  /* Per run: step -> epoch (when the logged epoch never goes down) and step -> seconds. */
  View.prototype.buildMaps = function (groups) {
    var maps = {};
    var get = function (run) { return maps[run] || (maps[run] = { epoch: null, time: null }); };
    groups.forEach(function (g) {
      if (g.x !== "step") return;
      g.series.forEach(function (s) {
        var m = get(s.run || 0);
        if (g.id === "epoch" && s.x.length >= 2) {
          var xs = [], ys = [], ok = true;
          for (var i = 0; i < s.x.length; i++) {
            if (s.y[i] === null) continue;
            if (ys.length && (s.y[i] < ys[ys.length - 1] || s.x[i] < xs[xs.length - 1])) { ok = false; break; }
            xs.push(s.x[i]); ys.push(s.y[i]);
          }
          if (ok && ys.length >= 2 && ys[ys.length - 1] > ys[0]) m.epoch = { s: xs, v: ys };
        }
        if (s.t && s.t.length >= 2 && (!m.time || s.t.length > m.time.s.length)) {
          m.time = { s: s.x, v: s.t };
        }
      });
    });
    /* The server's step -> seconds map of each run (when its series come without times). */
    (this.clocks || []).forEach(function (c, run) {
      if (!c || !c.x || c.x.length < 2) return;
      var m = get(run);
      if (!m.time || c.x.length > m.time.s.length) m.time = { s: c.x, v: c.t };
    });
    this.maps = maps;
  };

  View.prototype.available = function (mode) {
    var self = this, runs = Object.keys(this.maps);
    if (mode === "step") return true;
    if (!runs.length) return false;
    return runs.every(function (r) {
      var m = self.maps[r];
      return mode === "epoch" ? !!m.epoch : !!m.time;
    });
  };

  View.prototype.effectiveMode = function () {
    return this.available(this.xmode) ? this.xmode : "step";
  };

  View.prototype.stepToX = function (run, step, g, mode) {
    if (step === null || step === undefined) return null;
    if (g && g.x === "time") return null;
    var m = this.maps[run] || this.maps[0];
    if (mode === "step" || !m) return step;
    if (mode === "epoch") return m.epoch ? interp(m.epoch.s, m.epoch.v, step) : null;
    if (!m.time) return null;
    var t = interp(m.time.s, m.time.v, step);
    return mode === "wall" ? t + this.startTime : t;
  };

  View.prototype.xToStep = function (run, x, mode) {
    var m = this.maps[run] || this.maps[0];
    if (mode === "step" || !m) return x;
    if (mode === "epoch") return m.epoch ? interp(m.epoch.v, m.epoch.s, x) : null;
    if (!m.time) return null;
    return interp(m.time.v, m.time.s, mode === "wall" ? x - this.startTime : x);
  };

  /* The x values of a series in the chosen unit (ascending, as uPlot needs). */
  View.prototype.toX = function (s, g, mode) {
    var self = this, run = s.run || 0;
    if (g.x === "time") {
      var off = mode === "wall" ? this.startTime : 0;
      return off ? s.x.map(function (v) { return v + off; }) : s.x;
    }
    if (mode === "step") return s.x;
    if (mode !== "epoch" && s.t && s.t.length === s.x.length) {
      return mode === "wall" ? s.t.map(function (v) { return v + self.startTime; }) : s.t;
    }
    var out = s.x.map(function (v) { return self.stepToX(run, v, g, mode); });
    for (var i = 1; i < out.length; i++) if (out[i] < out[i - 1]) out[i] = out[i - 1];
    return out;
  };

  View.prototype.setXMode = function (mode, save) {
    if (X_MODES.indexOf(mode) < 0) mode = "step";
    if (save) { try { window.localStorage.setItem(X_KEY, mode); } catch (e) { /* private mode */ } }
    this.xmode = mode;
    var eff = this.effectiveMode();
    if (this.xSelect) this.xSelect.value = eff;
    this.root.dataset.xmode = eff;
    var self = this;
    Object.keys(this.charts).forEach(function (k) {
      var c = self.charts[k];
      c.zoom = null; c.fullExtent = null; c.group = c.full; c.box.dataset.zoom = ""; c.box.dataset.detail = "";
    });
    this.xmodeEff = eff;
    this.rebuild();
  };

  View.prototype.setGroups = function (groups, clocks) {
    var self = this, seen = {};
    if (clocks !== undefined) this.clocks = clocks;
    this.buildMaps(groups);
    var wanted = this.xmode;
    this.xmodeEff = this.effectiveMode();
    if (this.xSelect) {
      Array.prototype.forEach.call(this.xSelect.options, function (o) { o.disabled = !self.available(o.value); });
      this.xSelect.value = this.xmodeEff;
    }
    this.root.dataset.xmode = this.xmodeEff;
    var epochAxis = this.available("epoch");
    this.root.dataset.epochAxis = epochAxis ? "1" : "0";
    groups.forEach(function (g) {
      /* A monotone epoch is an x axis, not a chart of its own. */
      if (g.id === "epoch" && epochAxis) return;
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
    this.xmode = wanted;
  };

  View.prototype.mode = function () { return this.xmodeEff || "step"; };

  View.prototype.setFindings = function (findings) {
    this.findings = findings || [];
    this.rebuild();  /* the top margin holds one lane per range */
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
    if (!initial) this.rebuild();  /* the top margin holds one lane per range */
  };

  View.prototype.renderFindings = function (report) {
    var list = this.findingsEl, self = this, t = this.text;
    if (!list) return;
    list.textContent = "";
    list.dataset.count = String(this.findings.length);
    if (!this.findings.length) {
      list.appendChild(el("p", "ll-empty", report.verdict ? t.no_findings : t.not_analysed));
      return;
    }
    this.findings.forEach(function (f) {
      var item = el("article", "ll-finding ll-sev-" + f.severity);
      item.dataset.findingId = String(f.id);
      item.tabIndex = 0;
      var head = el("div", "ll-finding-head");
      head.appendChild(el("span", "ll-sev", t["sev_" + f.severity] || f.severity));
      head.appendChild(el("strong", "ll-finding-title", f.title));
      var where = [];
      if (f.step_start !== null && f.step_start !== undefined) {
        where.push((t.steps || "steps") + " " + f.step_start +
          (f.step_end !== null && f.step_end !== undefined && f.step_end !== f.step_start ? "–" + f.step_end : ""));
      }
      if (f.metric) where.push(f.metric);
      head.appendChild(el("span", "ll-finding-where", where.join(" · ")));
      item.appendChild(head);
      if (f.explanation) item.appendChild(el("p", "ll-finding-expl", f.explanation));
      if (f.evidence) item.appendChild(el("p", "ll-finding-evidence", f.evidence));
      if (f.suggestion) {
        var p = el("p", "ll-finding-sugg");
        p.appendChild(el("b", null, (t.suggestion || "What to do") + ": "));
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

  /* The mark drawn for a non-finite point; the API spells them as losslens.numeric does. */
  function nonfiniteLabel(token) {
    return token === "NaN" ? "NaN" : (token === "Infinity" ? "+Inf" : "-Inf");
  }

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  /* Printing shows everything: folded config blocks open, charts at the paper's width. */
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });

  window.LL = {
    View: View,
    ema: ema,
    align: align,
    interp: interp,
    fmtNum: fmtNum,
    fmtSeconds: fmtSeconds,
    el: el,
    readJSON: readJSON,
    nonfiniteLabel: nonfiniteLabel,
    PALETTE: PALETTE,
    mount: function (root, payload, opts) { var v = new View(root, payload, opts); window.LL.view = v; return v; }
  };
})();
