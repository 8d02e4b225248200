// A small time-series line chart on <canvas>: one series, a fixed time
// window ending now, a y axis from zero with round ticks, the latest value
// marked. Gaps longer than gapMs (missed samples) break the line.

const MINUTE = 60_000;

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** The smallest "round" number (1, 2, 2.5 or 5 × 10^n) >= x. */
function niceStep(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export class LineChart {
  /**
   * canvas: the <canvas> to draw on (sized by CSS)
   * options: { color, format (value → short label), windowMs, gapMs,
   *            minStep (smallest y tick step, 1 for counts), emptyText }
   */
  constructor(canvas, { color = "#2563eb", format = String, windowMs = 5 * MINUTE, gapMs = 10_000, minStep = 0, emptyText = "Waiting for data…" } = {}) {
    this.canvas = canvas;
    this.minStep = minStep;
    this.color = color;
    this.format = format;
    this.windowMs = windowMs;
    this.gapMs = gapMs;
    this.emptyText = emptyText;
    this.points = [];
    this.resizeObserver = typeof ResizeObserver === "function" ? new ResizeObserver(() => this.draw()) : null;
    this.resizeObserver?.observe(canvas);
  }

  /** points: [{ t: epoch ms, v: number }], oldest first. */
  setData(points, now = Date.now()) {
    this.points = points;
    this.now = now;
    const last = points.at(-1);
    // What the chart shows, for tests and assistive technology.
    this.canvas.dataset.points = String(points.length);
    this.canvas.dataset.last = last ? String(last.v) : "";
    this.draw();
  }

  destroy() {
    this.resizeObserver?.disconnect();
  }

  draw() {
    const c = this.canvas;
    const dpr = globalThis.devicePixelRatio || 1;
    const cssW = c.clientWidth, cssH = c.clientHeight;
    if (cssW === 0 || cssH === 0) return;
    if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
      c.width = Math.round(cssW * dpr);
      c.height = Math.round(cssH * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);

    const font = cssVar("--font-sans", "system-ui, sans-serif");
    const muted = cssVar("--muted", "#6b7280");
    const grid = cssVar("--chart-grid", "#e5e7eb");
    const now = this.now ?? Date.now();
    const t0 = now - this.windowMs;
    const visible = this.points.filter((p) => p.t >= t0 - this.gapMs);

    // Y scale: 0 .. a round maximum above the largest visible value, with
    // at least four steps.
    const maxV = Math.max(0, ...visible.map((p) => p.v));
    const step = Math.max(niceStep(maxV / 4), this.minStep);
    const top = Math.max(step * Math.ceil((maxV * 1.05) / step), step * 4);
    const ticks = [];
    for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);

    g.font = `11px ${font}`;
    const labelW = Math.max(...ticks.map((v) => g.measureText(this.format(v)).width));
    const left = Math.ceil(labelW) + 10, right = 12, topPad = 10, bottom = 22;
    const w = cssW - left - right, h = cssH - topPad - bottom;
    if (w <= 10 || h <= 10) return;
    const x = (t) => left + ((t - t0) / this.windowMs) * w;
    const y = (v) => topPad + h - (v / top) * h;

    // Grid and axis labels.
    g.lineWidth = 1;
    g.strokeStyle = grid;
    g.fillStyle = muted;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (const v of ticks) {
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath();
      g.moveTo(left, yy);
      g.lineTo(left + w, yy);
      g.stroke();
      g.fillText(this.format(v), left - 6, yy);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    const minutes = Math.round(this.windowMs / MINUTE);
    for (let m = minutes; m >= 0; m--) {
      const xx = Math.round(x(now - m * MINUTE)) + 0.5;
      g.beginPath();
      g.setLineDash([2, 3]);
      g.moveTo(xx, topPad);
      g.lineTo(xx, topPad + h);
      g.stroke();
      g.setLineDash([]);
      const label = m === 0 ? "now" : `−${m} min`;
      g.textAlign = m === minutes ? "left" : m === 0 ? "right" : "center";
      g.fillText(label, xx, topPad + h + 6);
    }

    if (visible.length === 0) {
      g.fillStyle = muted;
      g.textAlign = "center";
      g.textBaseline = "middle";
      g.font = `13px ${font}`;
      g.fillText(this.emptyText, left + w / 2, topPad + h / 2);
      return;
    }

    // Segments split at gaps.
    const segments = [];
    let cur = [];
    for (const p of visible) {
      if (cur.length && p.t - cur.at(-1).t > this.gapMs) {
        segments.push(cur);
        cur = [];
      }
      cur.push(p);
    }
    segments.push(cur);

    g.save();
    g.beginPath();
    g.rect(left, topPad - 2, w + 2, h + 4);
    g.clip();
    const fill = g.createLinearGradient(0, topPad, 0, topPad + h);
    fill.addColorStop(0, withAlpha(this.color, 0.22));
    fill.addColorStop(1, withAlpha(this.color, 0.02));
    for (const seg of segments) {
      g.beginPath();
      seg.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p.v)) : g.moveTo(x(p.t), y(p.v))));
      g.lineTo(x(seg.at(-1).t), y(0));
      g.lineTo(x(seg[0].t), y(0));
      g.closePath();
      g.fillStyle = fill;
      g.fill();
      g.beginPath();
      seg.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p.v)) : g.moveTo(x(p.t), y(p.v))));
      g.strokeStyle = this.color;
      g.lineWidth = 2;
      g.lineJoin = "round";
      g.stroke();
    }
    g.restore();

    const last = visible.at(-1);
    g.beginPath();
    g.arc(x(last.t), y(last.v), 3.5, 0, 2 * Math.PI);
    g.fillStyle = "#fff";
    g.fill();
    g.lineWidth = 2;
    g.strokeStyle = this.color;
    g.stroke();
  }
}

function withAlpha(hex, a) {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) return hex;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}
