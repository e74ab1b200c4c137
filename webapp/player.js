// The player: one timeline in the browser for every view of a run.
//
// Python (webapp/player.py) sends each run once: its history (loss, parameters and
// gradients at every epoch), the model's curve at the drawn epochs, and two Plotly
// figures built by explorer/figures.py. From then on every move of the epoch - Play, the
// scrubber, a button, a key, a click on the loss curve - redraws the fit, the loss
// marker, the step table and the notes here, in the same frame, with no round trip.
// The epoch goes back to Python (for the link) only when it stops moving.
//
// Everything that comes from the user (names, labels) is set as textContent, never HTML.

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  first: "M6 5h2v14H6zM18 5v14l-9-7z",
  back: "M15 5v14l-9-7z",
  play: "M8 5v14l11-7z",
  pause: "M7 5h4v14H7zM13 5h4v14h-4z",
  step: "M9 5v14l9-7z",
  last: "M16 5h2v14h-2zM6 5v14l9-7z",
};
const SPEEDS = [0.25, 0.5, 1, 2, 4];
const REPORT_MS = 300; // the epoch goes back to Python once it has rested this long
const ANIM = { frame: { duration: 0, redraw: false }, transition: { duration: 0 }, mode: "immediate" };
const MINUS = "\u2212";
const DEFER_MS = 60; // between the descent's charts as a new run draws them (drawLater)
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

// ------------------------------------------------------------------ numbers for people

/** A number with `digits` significant digits, no float noise, a real minus sign;
 * `keep` keeps trailing zeros (so that two numbers shown together line up). */
export function fmt(v, digits = 4, keep = false) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : MINUS + "∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s;
  if (a >= 1e-5 && a < 1e5) {
    s = keep ? v.toPrecision(digits) : String(Number(v.toPrecision(digits)));
    if (s.includes("e")) s = String(Number(s)); // toPrecision's own exponent form
  } else {
    s = v.toExponential(Math.max(digits - 1, 1));
    if (!keep) s = s.replace(/\.?0+e/, "e");
    s = s.replace("e+", "e");
  }
  return s.replace(/^-/, MINUS);
}

/** The most significant digits in the step table's value columns. */
const TABLE_DIGITS = 9;

/** How many significant digits show that a and b differ (4 at least). */
export function pairDigits(a, b) {
  let d = 4;
  while (d < 17 && a !== b && fmt(a, d, true) === fmt(b, d, true)) d += 1;
  return d;
}

/** Two numbers with as many digits as it takes to show that they differ (4 at least). */
export function fmtPair(a, b) {
  const d = pairDigits(a, b);
  return [fmt(a, d, true), fmt(b, d, true)];
}

function signed(v, digits = 4) {
  return (v > 0 ? "+" : "") + fmt(v, digits);
}

function decode(packed) {
  const bin = atob(packed.bdata);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const Type = { f8: Float64Array, f4: Float32Array, i4: Int32Array }[packed.dtype];
  return new Type(bytes.buffer);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}

function button(name, label, title, cls = "") {
  const b = el("button", `gx-btn ${cls}`.trim());
  b.type = "button";
  b.title = title;
  b.dataset.action = name;
  b.setAttribute("aria-label", label);
  b.append(icon(name), el("span", "gx-label", label));
  return b;
}

/** Up to `most` round epochs between 0 and `last` for the scrubber's labels. */
export function ticks(last, most = 4) {
  if (last <= 0) return [0];
  const raw = last / (most + 1);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw));
  const out = [0];
  for (let t = step; t < last; t += step) if (t > 0.07 * last && t < 0.93 * last) out.push(t);
  out.push(last);
  return out;
}

/** The notes (Python's `{kind, text, spans}`) that hold at epoch k: those with a
 * `[first, last]` span around k, as `[kind, text]` pairs. */
export function notesAt(notes, k) {
  return (notes || []).filter((n) => n.spans.some(([a, b]) => a <= k && k <= b)).map((n) => [n.kind, n.text]);
}

/** Index of the last entry of the ascending `epochs` at or before k (0 if none). */
export function floorIndex(epochs, k) {
  let lo = 0;
  let hi = epochs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (epochs[mid] <= k) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// ------------------------------------------------------------------ drawn over a chart

function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** Plain SVG over a Plotly chart, placed in the chart's own data coordinates: what moves
 * at every epoch is a few attributes set here, not a Plotly redraw (each Plotly.animate
 * costs several milliseconds; six charts of them would take a step past the player's
 * budget). The chart under it, drawn once per run, gives the axes; when it is drawn again
 * (a new size), `onPlaced` draws the epoch again. */
class Overlay {
  constructor(box, chart, onPlaced) {
    this.chart = chart;
    this.svg = svgEl("svg", { class: "gx-overlay", "aria-hidden": "true" });
    box.appendChild(this.svg);
    this.layers = [];
    this.onPlaced = onPlaced;
  }
  /** After each Plotly drawing of the chart: the subplots' clip boxes follow its axes. */
  attach() {
    if (this.chart.gxOverlay) return;
    this.chart.gxOverlay = true;
    this.chart.on("plotly_afterplot", () => this.onPlaced());
  }
  /** The subplot s's axes (0: xaxis/yaxis, 1: xaxis2/yaxis2, ...) and its layer (a <g>
   * clipped to its plot area), made on first use. */
  sub(s) {
    const L = this.chart._fullLayout;
    const n = s === 0 ? "" : String(s + 1);
    const xa = L[`xaxis${n}`];
    const ya = L[`yaxis${n}`];
    if (!this.layers[s]) {
      const id = `gx-clip-${Math.random().toString(36).slice(2)}`;
      const clip = svgEl("clipPath", { id });
      const rect = svgEl("rect");
      clip.appendChild(rect);
      const g = svgEl("g", { "clip-path": `url(#${id})` });
      const top = svgEl("g"); // markers and arrows: whole even at the plot's edge
      this.svg.append(clip, g, top);
      this.layers[s] = { g, top, rect, items: {} };
    }
    const layer = this.layers[s];
    layer.rect.setAttribute("x", xa._offset);
    layer.rect.setAttribute("y", ya._offset);
    layer.rect.setAttribute("width", xa._length);
    layer.rect.setAttribute("height", ya._length);
    return { xa, ya, layer, px: (x) => xa._offset + xa.l2p(x), py: (y) => ya._offset + ya.l2p(y) };
  }
  /** The layer's element `name` (made once with `attrs`), clipped to the plot area or
   * not (markers stay whole at its edge). */
  item(layer, name, tag, attrs, clipped = true) {
    if (!layer.items[name]) {
      layer.items[name] = svgEl(tag, attrs);
      (clipped ? layer.g : layer.top).appendChild(layer.items[name]);
    }
    return layer.items[name];
  }
  clear() {
    this.svg.replaceChildren();
    this.layers = [];
  }
}

/** Points "x,y x,y ..." of a polyline in pixels, leaving out what is not finite. */
function polyline(sub, xs, ys) {
  const out = [];
  for (let j = 0; j < xs.length; j++) {
    const x = sub.px(xs[j]);
    const y = sub.py(ys[j]);
    if (Number.isFinite(x) && Number.isFinite(y)) out.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  return out.join(" ");
}

/** An arrow from (x0, y0) to (x1, y1) in data coordinates, starting `gap` pixels out
 * (beyond a dot drawn there): "full" when drawn to scale; "short" when too short to
 * see, drawn dashed at a fixed length to show its direction only; "none" for no step. */
function arrow(sub, line, head, x0, y0, x1, y1, gap = 0) {
  const a = [sub.px(x0), sub.py(y0)];
  const b = [sub.px(x1), sub.py(y1)];
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  let len = Math.hypot(dx, dy);
  if (!Number.isFinite(len) || len === 0) {
    line.style.display = "none";
    head.style.display = "none";
    return "none";
  }
  line.style.display = "";
  head.style.display = "";
  const ux = dx / len;
  const uy = dy / len;
  const size = 10;
  const full = len - gap >= size + 4;
  if (!full) {
    len = gap + size + 12; // direction only
    b[0] = a[0] + ux * len;
    b[1] = a[1] + uy * len;
  }
  line.style.strokeDasharray = full ? "" : "3 3";
  const start = [a[0] + ux * gap, a[1] + uy * gap];
  const base = [b[0] - ux * size, b[1] - uy * size];
  line.setAttribute("x1", start[0]);
  line.setAttribute("y1", start[1]);
  line.setAttribute("x2", base[0]);
  line.setAttribute("y2", base[1]);
  const w = 0.55 * size;
  head.setAttribute(
    "points",
    `${b[0]},${b[1]} ${base[0] - uy * w},${base[1] + ux * w} ${base[0] + uy * w},${base[1] - ux * w}`,
  );
  return full ? "full" : "short";
}

/** A five-pointed star's points around (cx, cy), outer radius r (pixels). */
function starPoints(cx, cy, r) {
  const out = [];
  for (let j = 0; j < 10; j++) {
    const rad = j % 2 ? 0.45 * r : r;
    const ang = -Math.PI / 2 + (j * Math.PI) / 5;
    out.push(`${(cx + rad * Math.cos(ang)).toFixed(1)},${(cy + rad * Math.sin(ang)).toFixed(1)}`);
  }
  return out.join(" ");
}

// ------------------------------------------------------------------------- one run

class Run {
  constructor(r) {
    Object.assign(this, r);
    this.loss = decode(r.loss);
    this.params = decode(r.params);
    this.grads = decode(r.grads);
    this.frameEpochs = decode(r.frame_epochs);
    this.framePreds = decode(r.frame_preds);
    this.P = r.names.length;
    // Epochs at which a gradient is rounding noise around 0, by parameter: [[first, last], ...].
    this.noiseSpans = Array.from({ length: this.P }, () => []);
    for (const [i, a, b] of r.noise || []) this.noiseSpans[i].push([a, b]);
    // Values per frame: G predictions, or G (x, y) pairs for an outline's curve.
    this.G = this.framePreds.length / Math.max(this.frameEpochs.length, 1) / (this.outline ? 2 : 1);
  }
  p(k, i) {
    return this.params[k * this.P + i];
  }
  g(k, i) {
    return this.grads[k * this.P + i];
  }
  /** The gradient of parameter i at epoch k is rounding noise around 0 (Python decides). */
  isNoise(k, i) {
    return this.noiseSpans[i].some(([a, b]) => a <= k && k <= b);
  }
  /** The loss rose from epoch k - 1 to k by more than rounding (Python decides). */
  rose(k) {
    return (this.rise_spans || []).some(([a, b]) => a <= k && k <= b);
  }
  /** A gradient entry as people read it: ≈ 0 where it is rounding noise. */
  gradText(k, i, scale = 1) {
    return this.isNoise(k, i) ? "≈ 0" : fmt(scale * this.g(k, i));
  }
  /** Index of the drawn curve for epoch k: the last drawn epoch at or before k. */
  frameAt(k) {
    return floorIndex(this.frameEpochs, k);
  }
  curve(f) {
    return this.framePreds.subarray(f * this.G, (f + 1) * this.G);
  }
  /** An outline's curve at frame f: its x(t) and y(t). */
  curveXY(f) {
    const xs = new Float64Array(this.G);
    const ys = new Float64Array(this.G);
    const base = 2 * f * this.G;
    for (let j = 0; j < this.G; j++) {
      xs[j] = this.framePreds[base + 2 * j];
      ys[j] = this.framePreds[base + 2 * j + 1];
    }
    return { x: xs, y: ys };
  }
}

// ------------------------------------------------------------------------- the player

class Player {
  constructor(root) {
    this.root = root;
    this.epoch = 0;
    this.playing = false;
    this.speed = 1;
    this.reported = null;
    this.pending = {}; // charts waiting to be drawn (drawLater), by name
    this.pullS = 0; // which of the pull's parameters is shown
    this.build();
    this.onKey = (e) => this.key(e);
    document.addEventListener("keydown", this.onKey);
  }

  build() {
    const r = el("div", "gx");
    r.tabIndex = -1;
    const bar = el("div", "gx-bar");
    const buttons = el("div", "gx-buttons");
    this.btn = {
      first: button("first", "First", "The start, epoch 0 (Home)"),
      back: button("back", "Back", "One epoch back (←)"),
      play: button("play", "Play", "Play or pause (space)", "gx-play"),
      step: button("step", "Step", "One epoch forward (→)", "gx-step"),
      last: button("last", "Last", "The last epoch (End)"),
    };
    buttons.append(...Object.values(this.btn));
    buttons.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (b && !b.disabled) this.act(b.dataset.action);
    });
    const where = el("label", "gx-where");
    where.append(el("span", "gx-where-label", "epoch"));
    this.box = el("input", "gx-epoch");
    this.box.type = "number";
    this.box.min = "0";
    this.box.step = "1";
    this.box.setAttribute("aria-label", "Epoch shown");
    this.box.addEventListener("change", () => this.go(Number(this.box.value)));
    this.of = el("span", "gx-of");
    where.append(this.box, this.of);
    const speed = el("label", "gx-speed");
    speed.append(el("span", "gx-speed-label", "speed"));
    this.speedSel = el("select");
    this.speedSel.setAttribute("aria-label", "Playing speed");
    for (const s of SPEEDS) {
      const o = el("option", "", `${s}×`);
      o.value = String(s);
      if (s === 1) o.selected = true;
      this.speedSel.appendChild(o);
    }
    this.speedOptions = [...this.speedSel.options];
    this.speedSel.addEventListener("change", () => {
      this.speed = Number(this.speedSel.value);
      this.showRate();
      if (this.playing) this.startClock();
    });
    this.speedSel.title = "Playing speed";
    speed.append(this.speedSel);
    bar.append(buttons, where, speed);

    const scrub = el("div", "gx-scrub");
    this.range = el("input", "gx-range");
    this.range.type = "range";
    this.range.min = "0";
    this.range.step = "1";
    this.range.setAttribute("aria-label", "Epoch scrubber");
    this.range.addEventListener("input", () => {
      this.pause();
      this.go(Number(this.range.value));
    });
    this.tickRow = el("div", "gx-ticks");
    scrub.append(this.range, this.tickRow);

    this.title = el("div", "gx-title");
    const charts = el("div", "gx-charts");
    const fitBox = el("div", "gx-fitbox");
    this.fitDiv = el("div", "gx-chart gx-fit");
    this.offNote = el("div", "gx-off");
    this.frameNote = el("div", "gx-small");
    this.errNote = el("div", "gx-small");
    fitBox.append(this.fitDiv, this.offNote, this.errNote, this.frameNote);
    const lossBox = el("div", "gx-lossbox");
    const lossHead = el("div", "gx-losshead");
    this.lossTitle = el("div", "gx-subtitle");
    const logLabel = el("label", "gx-log");
    this.logBox = el("input");
    this.logBox.type = "checkbox";
    this.logBox.addEventListener("change", () => this.setLog(this.logBox.checked, true));
    logLabel.append(this.logBox, el("span", "", "log scale"));
    lossHead.append(this.lossTitle, logLabel);
    this.lossDiv = el("div", "gx-chart gx-loss");
    this.runNote = el("div", "gx-small");
    lossBox.append(lossHead, this.lossDiv, this.runNote);
    charts.append(fitBox, lossBox);

    const numbers = el("div", "gx-numbers");
    this.table = el("div", "gx-table");
    const text = el("div", "gx-text");
    this.lossLine = el("div", "gx-lossline");
    this.worked = el("div", "gx-small");
    this.notes = el("div", "gx-notes");
    text.append(this.lossLine, this.worked, this.notes);
    numbers.append(this.table, text);

    // The descent (a single run): every parameter against the epoch, the landscape over
    // two parameters, the slope along each, and each point's pull; all at this epoch.
    this.descent = el("div", "gx-descent");
    const paramsBox = el("div", "gx-paramsbox");
    this.paramsBox = paramsBox;
    this.paramsTitle = el("div", "gx-subtitle", "Parameters by epoch");
    this.paramsDiv = el("div", "gx-chart gx-params");
    this.paramsNote = el("div", "gx-small");
    paramsBox.append(this.paramsTitle, this.paramsDiv, this.paramsNote);

    const landBox = el("div", "gx-landbox");
    const landHead = el("div", "gx-losshead");
    landHead.append(el("div", "gx-subtitle", "The loss landscape"));
    const pair = el("div", "gx-pair");
    this.pairSel = [el("select"), el("select")];
    ["across", "up"].forEach((word, a) => {
      const lab = el("label", "gx-pairlabel");
      this.pairSel[a].setAttribute("aria-label", a === 0 ? "Parameter across the map" : "Parameter up the map");
      this.pairSel[a].addEventListener("change", () => this.choosePair(a));
      lab.append(el("span", "", word), this.pairSel[a]);
      pair.append(lab);
    });
    landHead.append(pair);
    // The map is drawn once per run (Plotly's animate would drop a contour from a chart it
    // animates); the path, the step and the point are drawn over it (Overlay).
    this.landDiv = el("div", "gx-chart gx-land gx-layered");
    this.mapDiv = el("div", "gx-land-map");
    this.landDiv.append(this.mapDiv);
    this.landOver = new Overlay(this.landDiv, this.mapDiv, () => this.renderLandscape(this.epoch));
    this.landNote = el("div", "gx-small");
    landBox.append(landHead, this.landDiv, this.landNote);
    this.landBox = landBox;
    landBox.hidden = true;

    const slopeBox = el("div", "gx-slopebox");
    this.slopeBox = slopeBox;
    this.slopeTitle = el("div", "gx-subtitle", "The slope: the loss along each parameter");
    this.slopeWrap = el("div", "gx-chart gx-slopes gx-layered");
    this.slopeDiv = el("div", "gx-layer-chart");
    this.slopeWrap.append(this.slopeDiv);
    this.slopeOver = new Overlay(this.slopeWrap, this.slopeDiv, () => this.renderSlopes(this.epoch));
    this.slopeNote = el("div", "gx-small");
    slopeBox.append(this.slopeTitle, this.slopeWrap, this.slopeNote);

    const pullBox = el("div", "gx-pullbox");
    const pullHead = el("div", "gx-losshead");
    this.pullTitle = el("div", "gx-subtitle", "Each point's pull");
    this.pullPick = el("div", "gx-chips");
    this.pullPick.setAttribute("role", "group");
    this.pullPick.setAttribute("aria-label", "Parameter whose pull is shown");
    this.pullPick.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (b) this.choosePull(Number(b.dataset.s));
    });
    pullHead.append(this.pullTitle, this.pullPick);
    const pullWrap = el("div", "gx-chart gx-pull gx-layered");
    this.pullDiv = el("div", "gx-layer-chart");
    pullWrap.append(this.pullDiv);
    this.pullOver = new Overlay(pullWrap, this.pullDiv, () => this.renderPull(this.epoch, true));
    this.pullNote = el("div", "gx-small");
    pullBox.append(pullHead, pullWrap, this.pullNote);
    this.pullBox = pullBox;

    this.descent.append(paramsBox, landBox, slopeBox, pullBox);
    this.descent.hidden = true;

    r.append(bar, scrub, this.title, charts, numbers, this.descent);
    this.rootEl = r;
    this.root.appendChild(r); // beside the <style> Streamlit put there
  }

  /** New data from Python: a new run is drawn once; the same run keeps its epoch. */
  load(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.rootEl.classList.toggle("gx-present", Boolean(data.present));
    this.rootEl.classList.toggle("gx-compare", data.runs.length > 1);
    if (data.key !== this.runKey) {
      this.received = performance.now();
      this.runKey = data.key;
      this.data = data;
      this.runs = data.runs.map((r) => new Run(r));
      this.last = Math.max(...this.runs.map((r) => r.last));
      this.range.max = String(this.last);
      this.box.max = String(this.last);
      this.of.textContent = `of ${this.last}`;
      this.tickRow.replaceChildren(
        ...ticks(this.last).map((t) => {
          const s = el("span", "", String(t));
          s.style.left = `${this.last ? (100 * t) / this.last : 0}%`;
          return s;
        }),
      );
      this.showRate();
      this.lossTitle.textContent = data.loss_title;
      this.drawing = true;
      this.drawn = this.draw(data).finally(() => {
        this.drawing = false;
      });
      this.epoch = Math.min(this.epoch, this.last);
      this.runNote.textContent = this.runSummary();
    }
    this.drawPoints = data.draw ? data.draw.points.map((p) => p.slice()) : null;
    this.drawMax = data.draw ? data.draw.max : 0;
    this.fitDiv.classList.toggle("gx-drawing", Boolean(data.draw));
    if (data.draw) this.enableDrawing();
    this.landBox.hidden = !data.landscape;
    if (data.landscape && data.landscape.key !== this.landKey) {
      this.landKey = data.landscape.key;
      this.drawn.then(() => this.loadLandscape(data.landscape));
    } else if (!data.landscape) {
      this.landKey = null;
      this.land = null;
    }
    if (data.nonce !== this.nonce) {
      this.nonce = data.nonce;
      this.epoch = Math.max(0, Math.min(data.epoch, this.last));
      this.reported = data.epoch;
    }
    if (data.log !== this.dataLog) {
      this.dataLog = data.log;
      this.setLog(Boolean(data.log), false);
    }
    this.drawn.then(() => {
      this.render();
      if (this.rootEl.dataset.drawn !== this.runKey) {
        // For benchmarks/bench_browser.py: which run is on screen, and how long it took.
        this.rootEl.dataset.drawn = this.runKey;
        this.rootEl.dataset.drawMs = String(Math.round(performance.now() - this.received - this.plotlyWait));
        this.rootEl.dataset.plotlyWaitMs = String(Math.round(this.plotlyWait));
        this.rootEl.dataset.receivedAt = String(this.received);
      }
    });
  }

  /** Drawing your own points: a click in the fit chart's plot area adds a point there; a
   * click within 10 px of a point removes it. The points go back to Python, which makes
   * them the data (a new run). */
  enableDrawing() {
    if (this.fitDiv.gxDrawing) return;
    this.fitDiv.gxDrawing = true;
    this.fitDiv.addEventListener("click", (ev) => {
      const L = this.fitDiv._fullLayout;
      if (!this.drawPoints || !L || !this.setStateValue) return;
      const xa = L.xaxis;
      const ya = L.yaxis;
      const box = this.fitDiv.getBoundingClientRect();
      const px = ev.clientX - box.left - xa._offset;
      const py = ev.clientY - box.top - ya._offset;
      if (px < 0 || py < 0 || px > xa._length || py > ya._length) return;
      let hit = -1;
      let near = 10;
      this.drawPoints.forEach(([x, y], i) => {
        const d = Math.hypot(xa.l2p(x) - px, ya.l2p(y) - py);
        if (d <= near) {
          near = d;
          hit = i;
        }
      });
      if (hit >= 0) {
        this.drawPoints.splice(hit, 1);
      } else if (this.drawPoints.length >= this.drawMax) {
        this.errNote.textContent = `At most ${this.drawMax} points can be drawn: click one to remove it first.`;
        return;
      } else {
        this.drawPoints.push([xa.p2l(px), ya.p2l(py)]);
      }
      this.pause();
      this.setStateValue("drawn", this.drawPoints);
    });
  }

  async draw(data) {
    while (!globalThis.Plotly) await new Promise((ok) => setTimeout(ok, 20));
    // Plotly.js arrives once per page; what follows is this run's own drawing.
    this.plotlyWait = Math.max(0, performance.now() - this.received);
    const config = CONFIG;
    const big = (layout) => this.big(layout);
    // A new run on the same data and layout (a new learning rate, say) only moves curves:
    // the fit's curves follow in render(), the loss chart's lines are restyled.
    if (data.fit_key !== this.fitKey) {
      await Plotly.react(this.fitDiv, data.fit.data, big(data.fit.layout), config);
      this.fitKey = data.fit_key;
    }
    if (data.loss_key !== this.lossKey) {
      await Plotly.react(this.lossDiv, data.loss_fig.data, big(data.loss_fig.layout), config);
      this.lossKey = data.loss_key;
      this.applyLog();
    } else {
      // Same panels: the lines and the axes move to the new run in the same animation
      // frame as the marker (renderCharts); a restyle would redraw the whole chart (~25 ms).
      const traces = [];
      const lines = [];
      data.loss_fig.data.forEach((t, i) => {
        if (i < 3 * this.runs.length && i % 3 !== 2) {
          traces.push(i);
          lines.push({ x: decode(t.x), y: decode(t.y) });
        }
      });
      this.pendingLoss = { data: lines, traces, layout: this.axisRanges() };
    }
    // A comparison of runs with one loss over the same parameters shows their paths on
    // one landscape, without the single run's other views.
    this.descent.hidden = !data.descent && !data.landscape;
    this.paramsBox.hidden = !data.descent;
    this.slopeBox.hidden = !data.descent;
    if (!data.descent) this.pullBox.hidden = true;
    if (data.descent) {
      const d = data.descent;
      const r = this.runs[0];
      // Drawn a few frames after the run's fit and loss, which a person is waiting for (a
      // Plotly.react of each takes tens of milliseconds), one chart at a time; their
      // markers follow from then.
      this.drawLater("params", this.paramsDiv, d.params_fig, 1, () => this.renderParams(this.epoch));
      const n = d.shown.length;
      const why = r.plain_sgd
        ? `Each epoch moves every parameter by ${MINUS}lr × its gradient. A flat line is a parameter whose gradient is near 0: at its best value given the others, or with a learning rate too small for it.`
        : r.minibatch
          ? "Each epoch takes one step per batch, each on that batch's gradient: a flat line is a parameter those gradients barely move."
          : `${r.optimizer_label} shapes each step from the gradients so far: a flat line is a parameter whose gradients stay near 0.`;
      this.paramsNote.textContent = (n < r.P ? `The ${n} parameters (of ${r.P}) that moved most. ` : "") + why;
      const sl = d.slopes;
      const G = sl.fig.data[0] ? decode(sl.values).length / (decode(sl.epochs).length * sl.along.length) : 0;
      this.slope = {
        along: sl.along,
        epochs: decode(sl.epochs),
        values: decode(sl.values),
        grids: sl.spans.map(([lo, hi]) => Array.from({ length: G }, (_, j) => lo + ((hi - lo) * j) / (G - 1))),
        spans: sl.spans,
        G,
        bottoms: sl.along.map((_, s) => sl.fig.layout[`yaxis${s === 0 ? "" : s + 1}`].range),
      };
      this.slopeWrap.classList.toggle("gx-slopes-tall", sl.along.length > 2);
      this.slopeOver.clear();
      this.drawLater("slopes", this.slopeDiv, sl.fig, 3, () => {
        this.slopeOver.attach();
        this.renderSlopes(this.epoch);
      });
      this.pullBox.hidden = !d.pull;
      if (d.pull) {
        const pl = d.pull;
        this.pull = {
          along: pl.along,
          words: pl.words,
          epochs: decode(pl.epochs),
          shares: decode(pl.shares),
          preds: decode(pl.preds),
          outliers: new Set(pl.outliers),
          colors: pl.colors,
          outline: Boolean(pl.outline),
        };
        this.pull.n = this.pull.preds.length / this.pull.epochs.length / (pl.outline ? 2 : 1);
        this.pull.x = decode(pl.x);
        if (!(this.pullS < pl.along.length)) this.pullS = 0;
        this.pullPick.replaceChildren(
          ...pl.along.map((i, s) => {
            const b = el("button", "gx-chip", r.names[i]);
            b.type = "button";
            b.dataset.s = String(s);
            b.setAttribute("aria-pressed", String(s === this.pullS));
            return b;
          }),
        );
        this.pullOver.clear();
        this.pull.range = pl.fig.layout.yaxis.range[1];
        this.errNote.textContent = "The grey lines are the errors: from each point to the model's prediction there.";
        this.drawLater("pull", this.pullDiv, pl.fig, 4, () => {
          this.pullOver.attach();
          this.renderPull(this.epoch);
        });
        // The error lines on the fit: (x, y) then (x, prediction), a gap after each.
        this.errorTrace = d.error_trace;
        const n = this.pull.n;
        this.errX = new Float64Array(3 * n);
        this.errY = new Float64Array(3 * n);
        const ty = decode(data.fit.data[0].y);
        // An outline's targets are points of the plane, not (x, y) of a function of x.
        const tx = this.pull.outline ? decode(data.fit.data[0].x) : this.pull.x;
        for (let i = 0; i < n; i++) {
          this.errX.set([tx[i], tx[i], NaN], 3 * i);
          this.errY.set([ty[i], ty[i], NaN], 3 * i);
        }
      } else {
        this.pull = null;
        this.errorTrace = null;
        this.errNote.textContent = "";
        if (this.pullDiv.data) Plotly.purge(this.pullDiv);
      }
    } else {
      this.pending = {};
      for (const div of [this.paramsDiv, this.slopeDiv, this.pullDiv, this.mapDiv]) if (div.data) Plotly.purge(div);
      for (const over of [this.landOver, this.slopeOver, this.pullOver]) over.clear();
      this.slope = null;
      this.pull = null;
      this.land = null;
      this.landKey = null;
      this.errorTrace = null;
      this.errNote.textContent = "";
    }
    if (!this.lossDiv.gxClick) {
      this.lossDiv.gxClick = true;
      this.lossDiv.on("plotly_click", (ev) => {
        const pt = ev.points && ev.points[0];
        if (pt && Number.isFinite(pt.x)) {
          this.pause();
          this.go(Math.round(pt.x));
        }
      });
    }
  }

  /** Presenter mode: chart type as large as the player's, for the back of the room. */
  big(layout) {
    return this.data && this.data.present ? { ...layout, font: { ...layout.font, size: 19 } } : layout;
  }

  /** Draw `fig` in `div` once the run's fit, loss and table are on screen: in turn
   * `turn` (1, 2, ...), DEFER_MS apart, each in a frame of its own (a Plotly.react takes
   * tens of milliseconds: together in the frame after a new run they would hold up the
   * page), unless a newer figure for the same chart comes first; `then` runs once it is on
   * screen. Until then the chart's render skips it (see ready). */
  drawLater(name, div, fig, turn, then) {
    this.pending[name] = fig;
    setTimeout(() => {
      requestAnimationFrame(() => {
        if (this.pending[name] !== fig) return; // a newer one has come
        Plotly.react(div, fig.data, this.big(fig.layout), CONFIG).then(() => {
          if (this.pending[name] !== fig) return;
          this.pending[name] = null;
          if (then) then();
        });
      });
    }, turn * DEFER_MS);
  }

  /** The chart `name` is drawn for the current run. */
  ready(name, div) {
    return !this.pending[name] && Boolean(div.data);
  }

  setLog(on, fromUser) {
    this.log = on;
    this.logBox.checked = on;
    if (this.drawn) this.drawn.then(() => this.applyLog());
    if (fromUser && this.setStateValue) this.setStateValue("log", on);
  }

  /** Every loss panel's axis ranges for the scale shown (from Python's loss_ranges). */
  axisRanges() {
    const layout = {};
    this.runs.forEach((r, i) => {
      const ax = i === 0 ? "" : String(i + 1);
      layout[`xaxis${ax}`] = { range: r.ranges.x };
      layout[`yaxis${ax}`] = { range: this.log ? r.ranges.y_log : r.ranges.y };
    });
    return layout;
  }

  applyLog() {
    if (!this.lossDiv.layout || !this.runs) return;
    const update = {};
    for (const [name, axis] of Object.entries(this.axisRanges())) {
      if (name.startsWith("y")) update[`${name}.type`] = this.log ? "log" : "linear";
      update[`${name}.range`] = axis.range;
    }
    Plotly.relayout(this.lossDiv, update);
  }

  showRate() {
    // Each speed says what it means for this run: epochs a second.
    const base = Math.max(2, this.last / 10);
    this.speedOptions.forEach((o) => {
      o.textContent = `${fmt(base * Number(o.value), 2)} epochs/s`;
    });
    this.speedSel.title = `Playing speed: ${fmt(this.epochsPerSecond(), 2)} epochs a second`;
  }

  epochsPerSecond() {
    // A short run plays at 2 epochs a second; a long one takes about 10 s.
    return Math.max(2, this.last / 10) * this.speed;
  }

  // ---------------------------------------------------------------- moving the epoch

  act(action) {
    if (action === "play") return this.playing ? this.pause() : this.play();
    this.pause();
    if (action === "first") this.go(0);
    if (action === "back") this.go(this.epoch - 1);
    if (action === "step") this.go(this.epoch + 1);
    if (action === "last") this.go(this.last);
  }

  go(k) {
    if (!Number.isFinite(k)) k = this.epoch;
    this.epoch = Math.max(0, Math.min(Math.round(k), this.last));
    this.render();
  }

  play() {
    if (this.last === 0) return;
    if (this.epoch >= this.last) this.epoch = 0;
    this.playing = true;
    this.startClock();
    const tick = (now) => {
      if (!this.playing) return;
      const k = Math.min(this.last, this.from + Math.floor(((now - this.t0) / 1000) * this.epochsPerSecond()));
      if (k !== this.epoch) {
        this.epoch = k;
        this.render();
      }
      if (k >= this.last) this.pause();
      else this.raf = requestAnimationFrame(tick);
    };
    this.render();
    this.raf = requestAnimationFrame(tick);
  }

  startClock() {
    this.t0 = performance.now();
    this.from = this.epoch;
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.render();
  }

  key(e) {
    if (!this.rootEl.isConnected || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target instanceof Element ? e.target : document.body;
    const inside = this.rootEl.contains(t);
    // Keys belong to whatever takes them: a text box, a slider, the sidebar's widgets.
    const typing = t.closest("input:not([type=checkbox]), textarea, select, [contenteditable], [role=slider], [role=combobox], [role=listbox]");
    if (typing) return;
    if (!inside && t.closest("button, a, input, [role], [tabindex]:not([tabindex='-1'])")) return;
    const actions = { ArrowLeft: "back", ArrowRight: "step", Home: "first", End: "last", " ": "play" };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    this.act(action);
  }

  // ---------------------------------------------------------------------- drawing

  render() {
    const k = this.epoch;
    const atStart = k <= 0;
    const atEnd = k >= this.last;
    this.btn.first.disabled = atStart;
    this.btn.back.disabled = atStart;
    this.btn.step.disabled = atEnd;
    this.btn.last.disabled = atEnd;
    this.btn.play.disabled = this.last === 0;
    const playIcon = this.playing ? "pause" : "play";
    if (this.btn.play.dataset.icon !== playIcon) {
      this.btn.play.dataset.icon = playIcon;
      this.btn.play.replaceChildren(icon(playIcon), el("span", "gx-label", this.playing ? "Pause" : "Play"));
      this.btn.play.setAttribute("aria-label", this.playing ? "Pause" : "Play");
    }
    this.box.value = String(k);
    this.range.value = String(k);
    this.rootEl.dataset.epoch = String(k);
    this.rootEl.dataset.playing = this.playing ? "1" : "0";

    if (this.runs.length === 1) this.renderSingle(k);
    else this.renderCompare(k);
    this.renderCharts(k);
    this.scheduleReport();
  }

  renderCharts(k) {
    // While a new run's charts are being drawn, their traces may not match this.runs yet.
    if (this.drawing || !this.fitDiv.data || !this.lossDiv.data) return;
    const fitY = [];
    const fitTraces = [];
    const lossPts = [];
    const lossTraces = [];
    const inexact = [];
    let hi = -Infinity;
    let lo = Infinity;
    this.runs.forEach((r, i) => {
      const kk = Math.min(k, r.last);
      if (r.frameEpochs.length && r.outline) {
        const f = r.frameAt(kk);
        fitY.push(r.curveXY(f));
        fitTraces.push(i + 1);
        if (r.frameEpochs[f] !== kk) inexact.push([r, r.frameEpochs[f]]);
      } else if (r.frameEpochs.length) {
        const f = r.frameAt(kk);
        const ys = r.curve(f);
        fitY.push({ y: ys });
        fitTraces.push(i + 1);
        if (r.frameEpochs[f] !== kk) inexact.push([r, r.frameEpochs[f]]);
        for (const v of ys) {
          if (v > hi) hi = v;
          if (v < lo) lo = v;
        }
      }
      lossPts.push({ x: [kk], y: [r.loss[kk]] });
      lossTraces.push(3 * i + 2);
    });
    if (this.pull && this.errorTrace !== null && this.errorTrace < this.fitDiv.data.length) {
      // Each point's error at the epoch of the pull shown (its curve may be a frame apart).
      const p = this.pull;
      const d = floorIndex(p.epochs, Math.min(k, this.runs[0].last));
      if (p.outline) {
        for (let i = 0; i < p.n; i++) {
          this.errX[3 * i + 1] = p.preds[2 * (d * p.n + i)];
          this.errY[3 * i + 1] = p.preds[2 * (d * p.n + i) + 1];
        }
      } else {
        for (let i = 0; i < p.n; i++) this.errY[3 * i + 1] = p.preds[d * p.n + i];
      }
      fitY.push({ x: this.errX, y: this.errY });
      fitTraces.push(this.errorTrace);
    }
    Plotly.animate(this.fitDiv, { data: fitY, traces: fitTraces }, ANIM);
    const loss = { data: lossPts, traces: lossTraces };
    if (this.pendingLoss) {
      loss.data = [...this.pendingLoss.data, ...lossPts];
      loss.traces = [...this.pendingLoss.traces, ...lossTraces];
      loss.layout = this.pendingLoss.layout;
      this.pendingLoss = null;
    }
    Plotly.animate(this.lossDiv, loss, ANIM);
    this.renderParams(k);
    this.renderLandscape(k);
    this.renderSlopes(k);
    this.renderPull(k);
    const [ylo, yhi] = this.data.y_range;
    const slack = 0.05 * (yhi - ylo); // a curve that only grazes the edge is still in view
    const off = [];
    if (hi > yhi + slack) off.push(`up to ${fmt(hi, 2)}`);
    if (lo < ylo - slack) off.push(`down to ${fmt(lo, 2)}`);
    this.offNote.textContent = off.length ? `The model is off the chart here: its curve goes ${off.join(" and ")}.` : "";
    this.offNote.hidden = off.length === 0;
    this.frameNote.textContent = inexact.length
      ? `Curve drawn at epoch ${inexact[0][1]}, the nearest of the ${inexact[0][0].frameEpochs.length} epochs drawn for this long run; the numbers are epoch ${k}'s.`
      : "";
  }

  /** The parameters-by-epoch chart's markers at epoch k (once that run's chart is drawn). */
  renderParams(k) {
    if (!this.data.descent || !this.ready("params", this.paramsDiv)) return;
    const r = this.runs[0];
    const kk = Math.min(k, r.last);
    const shown = this.data.descent.shown;
    const marker = { x: shown.map(() => kk), y: shown.map((i) => r.p(kk, i)) };
    Plotly.animate(this.paramsDiv, { data: [marker], traces: [shown.length] }, ANIM);
  }

  /** The step after epoch k of run r for parameter i: -lr x gradient for plain SGD (the
   * step it takes, or at the last epoch would take), the change to the next epoch
   * otherwise (0 at the last). */
  stepOf(r, k, i) {
    if (r.plain_sgd) return -r.lr * r.g(k, i);
    return k < r.last ? r.p(k + 1, i) - r.p(k, i) : 0;
  }

  /** The slope panels at epoch k: the loss along each parameter over a fixed span, the
   * others held at the nearest detail epoch's values (computed in Python), the tangent
   * whose slope is the gradient, and the step on the axis. Fixed axes: only traces move. */
  renderSlopes(k) {
    if (!this.slope || !this.ready("slopes", this.slopeDiv)) return;
    const r = this.runs[0];
    const { along, epochs, values, grids, spans, G } = this.slope;
    const S = along.length;
    const d = floorIndex(epochs, Math.min(k, r.last));
    const kk = epochs[d];
    const L0 = r.loss[kk];
    const over = this.slopeOver;
    let tiny = 0;
    along.forEach((i, s) => {
      const sub = over.sub(s);
      const { layer } = sub;
      const p = r.p(kk, i);
      const g = r.g(kk, i);
      const h = 0.22 * (spans[s][1] - spans[s][0]);
      const step = this.stepOf(r, kk, i);
      over.item(layer, "curve", "polyline", { class: "gx-o-curve" }).setAttribute(
        "points",
        polyline(sub, grids[s], values.subarray((d * S + s) * G, (d * S + s + 1) * G)),
      );
      const tan = over.item(layer, "tangent", "line", { class: "gx-o-tangent" });
      tan.setAttribute("x1", sub.px(p - h));
      tan.setAttribute("y1", sub.py(L0 - g * h));
      tan.setAttribute("x2", sub.px(p + h));
      tan.setAttribute("y2", sub.py(L0 + g * h));
      const dot = over.item(layer, "point", "circle", { class: "gx-o-point", r: 5 }, false);
      dot.setAttribute("cx", sub.px(p));
      dot.setAttribute("cy", sub.py(L0));
      const line = over.item(layer, "step", "line", { class: "gx-o-step" }, false);
      const head = over.item(layer, "head", "polygon", { class: "gx-o-stephead" }, false);
      // The step along this parameter, from the point: where the descent moves it next.
      if (arrow(sub, line, head, p, L0, p + step, L0, 6) === "short") tiny += 1;
    });
    over.svg.gxDrawn = {
      epoch: kk,
      points: along.map((i) => [r.p(kk, i), L0]),
      slopes: along.map((i) => r.g(kk, i)),
      steps: along.map((i) => this.stepOf(r, kk, i)),
    };
    const what = r.plain_sgd
      ? `The gradient is the slope of this curve: the dashed tangent at epoch ${kk}'s point has the gradient in the table as its slope. The blue arrow from the point is the step, ${MINUS}lr × gradient: downhill, as far as the learning rate says.`
      : `The gradient is the slope of this curve: the dashed tangent at epoch ${kk}'s point has the gradient in the table as its slope. The blue arrow from the point is the step ${r.optimizer_label} took.`;
    const small = tiny
      ? ` ${tiny === 1 ? (S === 1 ? "The step" : "One step") : tiny === S ? "Every step" : "Some steps"} here ${tiny === 1 || tiny === S ? "is" : "are"} too short to see at this scale: the dashed arrow shows the direction only.`
      : "";
    const others = r.P > 1 ? " Every other parameter is held at its value at this epoch, so each curve shifts as they train." : "";
    const drawn = kk !== k ? ` Drawn at epoch ${kk}, the nearest of the ${epochs.length} epochs drawn for this long run.` : "";
    const which = S < r.P ? ` The ${S} parameters with the largest gradients over the run.` : "";
    this.slopeNote.textContent = what + small + others + which + drawn;
  }

  // ------------------------------------------------------------------ the landscape

  loadLandscape(land) {
    const r = this.runs[0];
    if (!r) return;
    const maps = decode(land.maps);
    const R = land.resolution;
    const [i, j] = land.along;
    const path = { x: new Float64Array(r.last + 1), y: new Float64Array(r.last + 1) };
    for (let k = 0; k <= r.last; k++) {
      path.x[k] = r.p(k, i);
      path.y[k] = r.p(k, j);
    }
    this.land = { ...land, maps, R, path, shown: -1 };
    // The pair's menus: every parameter, the two shown chosen.
    this.pairSel.forEach((sel, a) => {
      sel.replaceChildren(
        ...r.names.map((name, b) => {
          const o = el("option", "", name);
          o.value = String(b);
          return o;
        }),
      );
      sel.value = String(land.along[a]);
      sel.disabled = r.P <= 2;
    });
    const map = land.fig.map;
    const contour = { ...map.data[0], x: decode(map.data[0].x), y: decode(map.data[0].y), ...this.mapZ(0) };
    let layout = map.layout;
    // On a phone the colour bar goes under the map, which keeps the whole width.
    const narrow = this.landDiv.clientWidth < 480;
    this.landDiv.classList.toggle("gx-land-narrow", narrow);
    if (narrow) {
      contour.colorbar = { ...contour.colorbar, orientation: "h", x: 0.5, xanchor: "center", y: -0.3, yanchor: "top", len: 1, thickness: 10, title: { text: "loss", side: "top" } };
      layout = { ...layout, margin: { ...layout.margin, r: 12, b: 100 } };
    }
    this.land.shown = 0;
    this.landOver.clear();
    this.drawLater("land", this.mapDiv, { data: [contour, ...map.data.slice(1)], layout }, 2, () => {
      this.landOver.attach();
      this.renderLandscape(this.epoch);
    });
  }

  /** Map m's z (log10 of the loss, for the colour) and customdata (the loss, for hover). */
  mapZ(m) {
    const { maps, R } = this.land;
    const { zmin } = this.land.scales[m];
    const z = [];
    const raw = [];
    for (let a = 0; a < R; a++) {
      const row = maps.subarray((m * R + a) * R, (m * R + a + 1) * R);
      raw.push(Array.from(row, (v) => (Number.isFinite(v) ? v : null)));
      z.push(Array.from(row, (v) => (Number.isFinite(v) ? (v > 0 ? Math.log10(v) : zmin) : null)));
    }
    return { z, customdata: raw };
  }

  renderLandscape(k) {
    const L = this.land;
    if (!L || !this.runs || !this.ready("land", this.mapDiv)) return;
    const r = this.runs[0];
    const kk = Math.min(k, r.last);
    const m = L.exact ? 0 : floorIndex(L.epochs, kk);
    if (m !== L.shown) this.swapMap(m);
    const [i, j] = L.along;
    const px = r.p(kk, i);
    const py = r.p(kk, j);
    const sx = this.stepOf(r, kk, i);
    const sy = this.stepOf(r, kk, j);
    const rose = kk < r.last && r.rose(kk + 1);
    const over = this.landOver;
    const sub = over.sub(0);
    const { layer } = sub;
    const pts = polyline(sub, L.path.x.subarray(0, kk + 1), L.path.y.subarray(0, kk + 1));
    // A dark edge under the white path keeps it in sight on the light (high) ground.
    over.item(layer, "pathEdge", "polyline", { class: "gx-o-pathedge" }).setAttribute("points", pts);
    over.item(layer, "path", "polyline", { class: "gx-o-path" }).setAttribute("points", pts);
    const star = over.item(layer, "bottom", "polygon", { class: "gx-o-star" }, false);
    const bottom = L.bottoms ? L.bottoms[L.shown] : null;
    star.style.display = bottom ? "" : "none";
    if (bottom) star.setAttribute("points", starPoints(sub.px(bottom[0]), sub.py(bottom[1]), 8));
    // The other runs of a comparison: each one's path and point, in its colour.
    this.runs.slice(1).forEach((o, s) => {
      const ok = Math.min(k, o.last);
      const xs = new Float64Array(ok + 1);
      const ys = new Float64Array(ok + 1);
      for (let q = 0; q <= ok; q++) {
        xs[q] = o.p(q, i);
        ys[q] = o.p(q, j);
      }
      const other = over.item(layer, `path${s + 1}`, "polyline", { class: "gx-o-otherpath" });
      other.setAttribute("points", polyline(sub, xs, ys));
      other.style.stroke = o.color;
      // Clipped: the map's range is the first run's, and another run may leave it.
      const od = over.item(layer, `point${s + 1}`, "circle", { class: "gx-o-otherpoint", r: 4 });
      od.setAttribute("cx", sub.px(xs[ok]));
      od.setAttribute("cy", sub.py(ys[ok]));
      od.style.fill = o.color;
    });
    const dot = over.item(layer, "point", "circle", { class: "gx-o-landpoint", r: 5 }, false);
    dot.setAttribute("cx", sub.px(px));
    dot.setAttribute("cy", sub.py(py));
    const line = over.item(layer, "step", "line", { class: "gx-o-landstep" }, false);
    const head = over.item(layer, "head", "polygon", { class: "gx-o-landhead" }, false);
    const colour = L.colors[rose ? "rose" : "fell"];
    line.style.stroke = colour;
    head.style.fill = colour;
    const seen = arrow(sub, line, head, px, py, px + sx, py + sy, 6);
    // What is drawn, in the data's own numbers (for tests/test_browser.py).
    over.svg.gxDrawn = { epoch: kk, map: L.shown, point: [px, py], step: [sx, sy], rose, path: kk + 1, arrow: seen };
    const [xn, yn] = L.names;
    const step = r.plain_sgd
      ? `The arrow is the step about to be taken, ${MINUS}lr × gradient, to scale`
      : `The arrow is the step ${r.optimizer_label} takes next, to scale`;
    const stepText =
      sx === 0 && sy === 0
        ? "No step comes after the last epoch"
        : step +
          (seen === "short" ? " (too short to see at this scale: the arrow shows its direction only, dashed)" : "") +
          (kk < r.last ? (rose ? ": magenta, the loss rose after it (the step overshot)" : ": green, the loss fell after it") : "");
    const shownAt = L.epochs[L.shown];
    const held = L.exact
      ? ` ${xn} and ${yn} are this model's only parameters, so the map is the whole loss.`
      : ` The map is a slice: every other parameter is held at its value at epoch ${shownAt}${shownAt !== kk ? `, the nearest of the ${L.epochs.length} epochs mapped` : ""}, so only the current point is exact on it; as they train, the valley moves.`;
    const best = !L.bottoms
      ? ""
      : L.exact
        ? " The star is the least-squares optimum: the best fit possible."
        : " The white star is the bottom of this slice; the grey hollow star is the best fit possible with every parameter free.";
    const others =
      this.runs.length > 1
        ? ` The white path and arrow are ${r.name}'s; each other run's path is in its colour, on the same loss over the same parameters from the same start.`
        : "";
    this.landNote.textContent = `Colour is the loss on a log scale (its own range for each map), dark where it is low. The white line is the path so far, from the ring where it started. ${stepText}.${others}${best}${held}`;
  }

  /** Show map m (models with more than two parameters: another epoch's map). A restyle
   * of the contour costs tens of milliseconds: it waits until the epoch has rested a
   * moment (or, while playing, comes at most a few times a second). */
  swapMap(m) {
    const L = this.land;
    L.want = m;
    if (L.swapTimer) return;
    L.swapTimer = setTimeout(() => {
      L.swapTimer = null;
      if (this.land !== L || L.want === L.shown) return;
      L.shown = L.want;
      const { z, customdata } = this.mapZ(L.shown);
      // Each map its own colour range: a run's first map may span a fraction of its last's.
      const sc = L.scales[L.shown];
      Plotly.restyle(
        this.mapDiv,
        {
          z: [z],
          customdata: [customdata],
          zmin: sc.zmin,
          zmax: sc.zmax,
          contours: [{ start: sc.zmin, end: sc.zmax, size: (sc.zmax - sc.zmin) / 24, coloring: "heatmap" }],
          "colorbar.tickvals": [sc.tickvals],
          "colorbar.ticktext": [sc.ticktext],
        },
        [0],
      );
      this.renderLandscape(this.epoch);
    }, this.playing ? 250 : 120);
  }

  choosePair(a) {
    if (!this.land || !this.setStateValue) return;
    const r = this.runs[0];
    let x = Number(this.pairSel[0].value);
    let y = Number(this.pairSel[1].value);
    if (x === y) {
      // The same parameter twice: the other menu takes the one this menu left.
      const left = this.land.along[a];
      if (a === 0) y = left;
      else x = left;
      this.pairSel[0].value = String(x);
      this.pairSel[1].value = String(y);
    }
    this.landNote.textContent = `Drawing the map over ${r.names[x]} and ${r.names[y]}…`;
    this.setStateValue("along", `${r.names[x]},${r.names[y]}`);
  }

  // ------------------------------------------------------------------ each point's pull

  choosePull(s) {
    this.pullS = s;
    for (const b of this.pullPick.children) b.setAttribute("aria-pressed", String(Number(b.dataset.s) === s));
    this.renderPull(this.epoch);
  }

  /** Each point's share of the gradient of the chosen parameter, at the nearest epoch with
   * one at or before k: bars that add up to the gradient in the table. The y axis keeps
   * its range until the bars outgrow it or shrink to a quarter of it (then it is set
   * again, once the epoch rests). */
  renderPull(k, placed = false) {
    const P = this.pull;
    if (!P || !this.ready("pull", this.pullDiv)) return;
    const r = this.runs[0];
    const kk = Math.min(k, r.last);
    const d = floorIndex(P.epochs, kk);
    const e = P.epochs[d];
    const S = P.along.length;
    const s = Math.min(this.pullS, S - 1);
    const i = P.along[s];
    let most = 0;
    for (let q = 0; q < P.n; q++) most = Math.max(most, Math.abs(P.shares[(d * P.n + q) * S + s]));
    const want = most > 0 ? 1.15 * most : 1;
    if (!placed && (want > P.range || want < P.range / 4)) {
      clearTimeout(P.rangeTimer);
      P.rangeTimer = setTimeout(() => {
        if (this.pull !== P) return;
        P.range = want;
        Plotly.relayout(this.pullDiv, { "yaxis.range": [-want, want] });
      }, this.playing ? 250 : 60);
    }
    const over = this.pullOver;
    const sub = over.sub(0);
    const { layer } = sub;
    const zero = sub.py(0);
    const half = Math.max(1, Math.min(8, (0.35 * sub.xa._length) / Math.max(P.n, 1)));
    if (!layer.bars || layer.bars.length !== P.n) {
      layer.g.replaceChildren();
      layer.items = {};
      layer.bars = [];
      for (let q = 0; q < P.n; q++) {
        const bar = svgEl("rect", { class: "gx-o-bar" });
        if (P.outliers.has(q)) bar.setAttribute("stroke", P.colors.outlier);
        bar.appendChild(svgEl("title"));
        layer.g.appendChild(bar);
        layer.bars.push(bar);
      }
    }
    const name = r.names[i];
    for (let q = 0; q < P.n; q++) {
      // The pull is minus the point's term of the gradient: the way descent moves the
      // parameter on this point's account (a bar up pulls it up).
      const v = -P.shares[(d * P.n + q) * S + s];
      const y = sub.py(v);
      const bar = layer.bars[q];
      bar.setAttribute("x", sub.px(P.x[q]) - half);
      bar.setAttribute("width", 2 * half);
      bar.setAttribute("y", Math.min(y, zero));
      bar.setAttribute("height", Math.abs(y - zero));
      bar.setAttribute("fill", P.colors[v > 0 ? "up" : "down"]);
      bar.firstChild.textContent = `x = ${fmt(P.x[q])}: pulls ${name} ${v > 0 ? "up" : "down"} by ${fmt(Math.abs(v))}${P.outliers.has(q) ? " (an added outlier)" : ""}`;
    }
    over.svg.gxDrawn = { epoch: e, param: name, shares: Array.from({ length: P.n }, (_, q) => P.shares[(d * P.n + q) * S + s]) };
    this.pullTitle.textContent = `Each point's pull on ${name}`;
    const at = e !== kk ? ` Drawn at epoch ${e}, the nearest of the ${P.epochs.length} epochs drawn for this long run.` : "";
    const g = r.isNoise(e, i) ? "≈ 0 (the pulls cancel: the gradient is rounding noise)" : fmt(-r.g(e, i));
    this.pullNote.textContent =
      `Each bar is one point's pull on ${name}: how hard the loss pulls that point's prediction (dL/dŷᵢ, from its error eᵢ = ŷᵢ ${MINUS} yᵢ, the grey line on the fit) times how much ${name} moves that prediction (∂ŷᵢ/∂${name}), with the sign flipped so that a bar up pulls ${name} up. ` +
      `The bars add up to ${MINUS}gradient, ${g} at epoch ${e}: the way descent moves ${name}. ` +
      (P.words ? `${P.words} ` : "") +
      (P.outliers.size ? "The points the outliers setting added have a black edge here and a red ring on the fit." : "") +
      at;
  }

  renderSingle(k) {
    const r = this.runs[0];
    const hasNext = k < r.last;
    this.title.textContent = `epoch ${k} of ${this.last} · ${r.loss_short} = ${fmt(r.loss[k])}`;
    // Rows: every parameter, or for big models the largest gradients.
    let order = [...Array(r.P).keys()];
    const big = r.P > this.data.table_rows;
    if (big) order = order.sort((a, b) => Math.abs(r.g(k, b)) - Math.abs(r.g(k, a))).slice(0, this.data.table_rows - 2);
    // [long, short] headers: the short ones are for phones.
    const heads = [["parameter", "param."], ["value", "value"], ["gradient", "grad."], ["lr × gradient", "lr×grad."]];
    if (!r.plain_sgd) heads.push(["step taken", "step"]);
    heads.push(["value after step", "after"]);
    const t = el("table", r.plain_sgd ? "" : "gx-has-step");
    const hr = el("tr");
    for (const [long, short] of heads) {
      const th = el("th", long === "lr × gradient" ? "gx-lrgrad" : "");
      th.append(el("span", "gx-long", long), el("span", "gx-short", short));
      hr.appendChild(th);
    }
    t.appendChild(el("thead")).appendChild(hr);
    const tb = t.appendChild(el("tbody"));
    // One number of digits for the whole value column: enough to show every change, up to
    // TABLE_DIGITS (what fits a phone). A smaller change, such as a step on a gradient that
    // is rounding noise (0 in exact arithmetic; its cells say ≈ 0, and a note why), is left
    // out of the value column.
    const digits = hasNext
      ? Math.min(TABLE_DIGITS, Math.max(...order.map((i) => pairDigits(r.p(k, i), r.p(k + 1, i)))))
      : 4;
    for (const i of order) {
      const v = r.p(k, i);
      const after = hasNext ? r.p(k + 1, i) : null;
      const [vs, as] = hasNext ? [fmt(v, digits, true), fmt(after, digits, true)] : [fmt(v), "—"];
      const cells = [r.names[i], vs, r.gradText(k, i), r.gradText(k, i, r.lr)];
      if (!r.plain_sgd) cells.push(hasNext ? fmt(after - v) : "—");
      cells.push(as);
      const tr = el("tr");
      // On a phone, a table with the step taken leaves out lr × gradient (column 3).
      cells.forEach((c, j) => tr.appendChild(el(j === 0 ? "th" : "td", j === 3 ? "gx-lrgrad" : "", c)));
      tb.appendChild(tr);
    }
    this.table.replaceChildren(t);
    if (big) {
      let norm = 0;
      let step = 0;
      for (let i = 0; i < r.P; i++) {
        norm += r.g(k, i) ** 2;
        if (hasNext) step = Math.max(step, Math.abs(r.p(k + 1, i) - r.p(k, i)));
      }
      this.table.appendChild(
        el("div", "gx-small", `The ${order.length} parameters with the largest gradients of ${r.P}; gradient norm ${fmt(Math.sqrt(norm))}, largest step ${fmt(step)}.`),
      );
    }
    const notes = [];
    const noisy = order.filter((i) => r.isNoise(k, i));
    if (noisy.length) {
      const which = noisy.map((i) => `${r.names[i]} (${fmt(r.g(k, i))})`).join(", ");
      notes.push([
        "info",
        `≈ 0: the gradient computed for ${which} is rounding noise. Its per-point terms cancel exactly, so it is 0 up to float64's rounding: this parameter is at the bottom in its own direction, and the step leaves it (almost) where it is.`,
      ]);
    }
    if (hasNext) {
      const [b, a] = fmtPair(r.loss[k], r.loss[k + 1]);
      const change = r.loss[k + 1] - r.loss[k];
      this.lossLine.replaceChildren(
        el("b", "", `${r.loss_label}: `),
        document.createTextNode(`${b} before → ${a} after (${signed(change, 3)})`),
      );
      if (r.plain_sgd) {
        const i = order.find((j) => !r.isNoise(k, j)) ?? order[0]; // a step worth showing
        const [v, after] = fmtPair(r.p(k, i), r.p(k + 1, i));
        this.worked.textContent = `The step, for ${r.names[i]}: ${v} ${MINUS} ${fmt(r.lr)} × (${r.gradText(k, i)}) = ${after}. Every parameter moves against its gradient, scaled by the learning rate.`;
      } else {
        this.worked.textContent = r.minibatch
          ? `With mini-batches of ${r.batch} points, each epoch takes several steps, each on its own batch's gradient: the step taken is not simply lr × this gradient (over all the points).`
          : `With ${r.optimizer_label}, the optimizer reshapes the step: the step taken is not simply lr × gradient.`;
      }
      if (r.rose(k + 1)) {
        notes.push([
          "warn",
          `The loss rose at this step (epoch ${k} → ${k + 1}): the step overshot the bottom of the valley and landed higher on the other side. A smaller learning rate takes shorter steps.`,
        ]);
      }
    } else {
      this.lossLine.replaceChildren(el("b", "", `${r.loss_label} at the last epoch: `), document.createTextNode(fmt(r.loss[k])));
      this.worked.textContent = "";
      if (r.diverged_at !== null) {
        notes.push(["error", `The next step made the loss, a parameter or a gradient infinite or not a number (the run diverged at epoch ${r.diverged_at}): lower the learning rate.`]);
      } else {
        notes.push(["info", "The last epoch: no update after it."]);
      }
    }
    notes.push(...notesAt(r.notes, k));
    this.setNotes(notes);
  }

  renderCompare(k) {
    this.title.textContent = `epoch ${k} of ${this.last}, every run from the same start`;
    const t = el("table");
    const names = this.runs[0].names.slice(0, this.data.compare_params);
    const heads = ["run", "loss", "change", ...names];
    const hr = el("tr");
    for (const h of heads) hr.appendChild(el("th", "", h));
    t.appendChild(el("thead")).appendChild(hr);
    const tb = t.appendChild(el("tbody"));
    const notes = [];
    for (const r of this.runs) {
      const tr = el("tr");
      const name = el("th");
      const dot = el("span", "gx-dot");
      dot.style.background = r.color;
      name.append(dot, document.createTextNode(r.name));
      tr.appendChild(name);
      if (k > r.last) {
        const td = el("td", "", `diverged at epoch ${r.diverged_at}`);
        td.colSpan = heads.length - 1;
        tr.appendChild(td);
      } else {
        tr.appendChild(el("td", "", fmt(r.loss[k])));
        tr.appendChild(el("td", "", k > 0 ? signed(r.loss[k] - r.loss[k - 1], 3) : "—"));
        names.forEach((_, i) => tr.appendChild(el("td", "", fmt(r.p(k, i)))));
        if (k > 0 && r.rose(k)) {
          notes.push(["warn", `${r.name}: the loss rose from epoch ${k - 1} to ${k}: that step overshot the valley.`]);
        }
        for (const [kind, text] of notesAt(r.notes, k)) notes.push([kind, `${r.name}: ${text}`]);
      }
      tb.appendChild(tr);
    }
    this.table.replaceChildren(t);
    this.lossLine.textContent = "";
    const oneLoss = new Set(this.runs.map((r) => r.loss_label)).size === 1;
    this.worked.textContent = oneLoss
      ? `Every run is measured by the same loss, ${this.runs[0].loss_label}: their values compare directly.`
      : "Each loss is in its own units: compare how fast each falls, not their values.";
    this.setNotes(notes);
  }

  setNotes(notes) {
    this.notes.replaceChildren(...notes.map(([kind, text]) => el("div", `gx-note gx-${kind}`, text)));
  }

  runSummary() {
    const parts = [];
    for (const r of this.runs) {
      const up = r.rises; // counted in Python, where the ▲ markers come from
      if (up > 0) {
        const who = this.runs.length > 1 ? `${r.name}: the` : "The";
        parts.push(`${who} loss rose at ${up} of ${r.last} steps (▲ on the curve): those steps overshot the valley; a smaller learning rate would not.`);
      }
    }
    return parts.join(" ");
  }

  scheduleReport() {
    clearTimeout(this.reportTimer);
    if (this.playing) return;
    this.reportTimer = setTimeout(() => {
      if (!this.playing && this.epoch !== this.reported && this.setStateValue) {
        this.reported = this.epoch;
        this.setStateValue("epoch", this.epoch);
      }
    }, REPORT_MS);
  }

  destroy() {
    this.playing = false;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.reportTimer);
    document.removeEventListener("keydown", this.onKey);
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let player = parentElement.gxPlayer;
  if (!player) {
    player = new Player(parentElement);
    parentElement.gxPlayer = player;
  }
  player.load(data, setStateValue);
  return () => {
    // Called before new data too; only a player that left the page stops for good.
    setTimeout(() => {
      if (!parentElement.isConnected) {
        player.destroy();
        delete parentElement.gxPlayer;
      }
    }, 0);
  };
}
