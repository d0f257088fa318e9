// paperatlas: the map page. A canvas scatter plot in plain JavaScript (no build step).
// Points are drawn straight into an ImageData buffer and found under the pointer through a
// uniform grid, so 100,000 of them still zoom, pan and hover smoothly.
(() => {
  "use strict";
  const box = document.getElementById("map");
  if (!box) return;
  const canvas = box.querySelector("canvas");
  const tip = box.querySelector(".map-tip");
  const status = document.querySelector("[data-map-status]");
  const legendList = document.querySelector("[data-map-legend]");
  const g = canvas.getContext("2d");

  const BACKGROUND = [250, 250, 252];
  const NONE = [156, 163, 175]; // grey: Unsorted, or no topic in the tree
  const PLAIN = [79, 70, 229]; // every point, when no tree colours the map
  const HOVER_PX = 8; // how near (CSS pixels) the pointer must be to a point
  const CLICK_SLOP = 4; // pointer travel (CSS pixels) that turns a click into a drag

  let pts = null; // {n, x, y, topic, keys, titles, topics, minX, maxX, minY, maxY}
  let grid = null; // {size, minX, minY, cell, start, items}
  let colours = []; // per legend index, then [none]: packed ABGR for ImageData
  let dimmed = [];
  let focus = -2; // a legend index whose points stand out (-1: those without a topic)
  let view = {scale: 1, ox: 0, oy: 0, fit: 1};
  let width = 0, height = 0, dpr = 1;
  let hovered = -1;
  let frame = 0;

  // -- colours ------------------------------------------------------------------------
  function hsl(h, s, l) {
    const a = s * Math.min(l, 1 - l);
    const f = (n) => {
      const k = (n + h / 30) % 12;
      return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
    };
    return [f(0), f(8), f(4)];
  }
  const pack = ([r, gr, b]) => ((255 << 24) | (b << 16) | (gr << 8) | r) >>> 0;
  const css = ([r, gr, b]) => `rgb(${r},${gr},${b})`;
  const fade = (c) => c.map((v, i) => Math.round(v + (BACKGROUND[i] - v) * 0.82));

  // Ten clearly different colours (a tree has at most --max-children first-level topics,
  // 10 by default), then hues a golden angle apart.
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#edc948",
                   "#76b7b2", "#ff9da7", "#9c755f", "#17becf"].map((h) =>
    [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16)));

  function topicColour(topic, i) {
    if (!pts.tree) return PLAIN;
    if (topic && topic.kind === "unsorted") return NONE;
    return i < PALETTE.length ? PALETTE[i] : hsl((i * 137.5) % 360, 0.55, 0.5);
  }

  // -- data ---------------------------------------------------------------------------
  function load(doc) {
    const n = doc.count;
    const x = Float32Array.from(doc.x), y = Float32Array.from(doc.y);
    const topic = Int16Array.from(doc.topic);
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      if (x[i] < minX) minX = x[i];
      if (x[i] > maxX) maxX = x[i];
      if (y[i] < minY) minY = y[i];
      if (y[i] > maxY) maxY = y[i];
    }
    if (!n) { minX = minY = 0; maxX = maxY = 1; }
    pts = {n, x, y, topic, keys: doc.keys, titles: doc.titles, topics: doc.topics,
           tree: doc.tree, minX, maxX, minY, maxY};
    const rgb = doc.topics.map(topicColour).concat([pts.tree ? NONE : PLAIN]);
    colours = rgb.map(pack);
    dimmed = rgb.map((c) => pack(fade(c)));
    grid = buildGrid();
    legend(rgb);
  }

  function buildGrid() {
    const {n, x, y, minX, minY} = pts;
    const size = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(n / 3))));
    const cell = Math.max(pts.maxX - minX, pts.maxY - minY, 1e-9) / size * 1.000001;
    const cellOf = new Int32Array(n);
    const start = new Int32Array(size * size + 1);
    for (let i = 0; i < n; i++) {
      const cx = Math.min(size - 1, Math.floor((x[i] - minX) / cell));
      const cy = Math.min(size - 1, Math.floor((y[i] - minY) / cell));
      cellOf[i] = cy * size + cx;
      start[cellOf[i] + 1]++;
    }
    for (let c = 0; c < size * size; c++) start[c + 1] += start[c];
    const fill = start.slice(0, size * size);
    const items = new Int32Array(n);
    for (let i = 0; i < n; i++) items[fill[cellOf[i]]++] = i;
    return {size, minX, minY, cell, start, items};
  }

  // The point nearest to a screen position (CSS pixels), or -1 when none is near enough.
  function pick(sx, sy) {
    if (!pts || !pts.n) return -1;
    const wx = (sx - view.ox) / view.scale, wy = (sy - view.oy) / view.scale;
    const r = HOVER_PX / view.scale;
    const {size, minX, minY, cell, start, items} = grid;
    const c0 = Math.max(0, Math.floor((wx - r - minX) / cell));
    const c1 = Math.min(size - 1, Math.floor((wx + r - minX) / cell));
    const r0 = Math.max(0, Math.floor((wy - r - minY) / cell));
    const r1 = Math.min(size - 1, Math.floor((wy + r - minY) / cell));
    let best = -1, bestD = r * r;
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const c = row * size + col;
        for (let k = start[c]; k < start[c + 1]; k++) {
          const i = items[k];
          if (focus !== -2 && pts.topic[i] !== focus) continue;
          const dx = pts.x[i] - wx, dy = pts.y[i] - wy, d = dx * dx + dy * dy;
          if (d <= bestD) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  // -- drawing ------------------------------------------------------------------------
  function fit() {
    const pad = 24;
    const spanX = Math.max(pts.maxX - pts.minX, 1e-9), spanY = Math.max(pts.maxY - pts.minY, 1e-9);
    const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
    view = {scale, fit: scale,
            ox: (width - spanX * scale) / 2 - pts.minX * scale,
            oy: (height - spanY * scale) / 2 - pts.minY * scale};
  }

  function disc(r) { // pixel offsets of a filled disc of radius r
    const out = [];
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        if (dx * dx + dy * dy <= r * r + r) out.push([dx, dy]);
      }
    }
    return out;
  }

  function draw() {
    frame = 0;
    if (!pts || !width) return;
    const W = canvas.width, H = canvas.height;
    const image = g.createImageData(W, H);
    const buf = new Uint32Array(image.data.buffer);
    buf.fill(pack(BACKGROUND));
    // Points grow as the map zooms in; sparse maps get bigger points to begin with.
    const base = pts.n <= 2000 ? 2.6 : pts.n <= 20000 ? 1.8 : 1.2;
    const r = Math.max(1, Math.min(8, Math.round(dpr * base * Math.pow(view.scale / view.fit, 0.3))));
    const shape = disc(r - 1);
    const s = view.scale * dpr, ox = view.ox * dpr, oy = view.oy * dpr;
    const {n, x, y, topic} = pts;
    const none = colours.length - 1;
    const plot = (i, colour) => {
      const px = Math.round(x[i] * s + ox), py = Math.round(y[i] * s + oy);
      if (px < -r || py < -r || px >= W + r || py >= H + r) return;
      for (const [dx, dy] of shape) {
        const qx = px + dx, qy = py + dy;
        if (qx >= 0 && qy >= 0 && qx < W && qy < H) buf[qy * W + qx] = colour;
      }
    };
    for (let i = 0; i < n; i++) { // everything, the focused topic's points on top
      const t = topic[i] < 0 ? none : topic[i];
      if (focus === -2) plot(i, colours[t]);
      else if (topic[i] !== focus) plot(i, dimmed[t]);
    }
    if (focus !== -2) {
      const t = focus < 0 ? none : focus;
      for (let i = 0; i < n; i++) if (topic[i] === focus) plot(i, colours[t]);
    }
    g.putImageData(image, 0, 0);
    if (hovered >= 0) {
      g.beginPath();
      g.arc(x[hovered] * s + ox, y[hovered] * s + oy, r + 3 * dpr, 0, 2 * Math.PI);
      g.lineWidth = 2 * dpr;
      g.strokeStyle = "#111827";
      g.stroke();
    }
  }
  const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };

  function resize() {
    const rect = box.getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    const first = !width;
    dpr = window.devicePixelRatio || 1;
    width = rect.width; height = rect.height;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    if (pts && first) fit();
    redraw();
  }

  // -- the legend and the tooltip -----------------------------------------------------
  function legend(rgb) {
    if (!legendList) return;
    legendList.textContent = "";
    const entries = pts.topics.map((t, i) => ({i, label: t.label, size: t.size, id: t.id}));
    const without = pts.topic.reduce((k, t) => k + (t < 0 ? 1 : 0), 0);
    if (pts.tree && without) entries.push({i: -1, label: "No topic in this tree", size: without});
    for (const e of entries) {
      if (!e.size) continue;
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "legend-item";
      button.dataset.topic = String(e.i);
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = css(rgb[e.i < 0 ? rgb.length - 1 : e.i]);
      const label = document.createElement("span");
      label.className = "legend-label";
      label.textContent = e.label; // text, never markup
      const size = document.createElement("span");
      size.className = "count";
      size.textContent = e.size.toLocaleString();
      button.append(swatch, label, size);
      button.addEventListener("click", () => {
        focus = focus === e.i ? -2 : e.i;
        legendList.querySelectorAll(".legend-item").forEach((b) =>
          b.classList.toggle("active", focus !== -2 && b.dataset.topic === String(focus)));
        hovered = -1;
        tip.hidden = true;
        redraw();
      });
      li.append(button);
      if (e.id !== undefined) {
        const open = document.createElement("a");
        // as present.tree_url: "/", "%" and "~" (in old names) as ~2F, ~25, ~7E
        const name = pts.tree.replace(/[%/~]/g, (c) => "~" + c.charCodeAt(0).toString(16).toUpperCase());
        open.href = `/trees/${encodeURIComponent(name)}/nodes/${e.id}`;
        open.className = "legend-open";
        open.title = "Open this topic";
        open.textContent = "→";
        li.append(open);
      }
      legendList.append(li);
    }
    if (!legendList.children.length) {
      const li = document.createElement("li");
      li.className = "muted small";
      li.textContent = pts.tree ? "No topics." : "Pick a tree to colour the papers by topic.";
      legendList.append(li);
    }
  }

  function showTip(i, sx, sy) {
    if (i < 0) { tip.hidden = true; return; }
    tip.textContent = "";
    const title = document.createElement("strong");
    title.textContent = pts.titles[i];
    tip.append(title);
    const t = pts.topic[i];
    if (pts.tree) {
      const topic = document.createElement("span");
      topic.textContent = t >= 0 ? pts.topics[t].label : "No topic in this tree";
      tip.append(topic);
    }
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(sx + 14, width - w - 4) + "px";
    tip.style.top = (sy + 14 + h > height ? sy - h - 10 : sy + 14) + "px";
  }

  function hover(sx, sy) {
    const i = pick(sx, sy);
    canvas.style.cursor = i >= 0 ? "pointer" : "grab";
    if (i !== hovered) { hovered = i; redraw(); }
    showTip(i, sx, sy);
  }

  function open(i, newTab) {
    const url = box.dataset.paperBase + encodeURIComponent(pts.keys[i]);
    if (newTab) window.open(url, "_blank", "noopener");
    else window.location.href = url;
  }

  // -- zoom and pan ---------------------------------------------------------------------
  function zoomAt(sx, sy, factor) {
    const scale = Math.max(view.fit * 0.5, Math.min(view.fit * 2000, view.scale * factor));
    const f = scale / view.scale;
    view.ox = sx - (sx - view.ox) * f;
    view.oy = sy - (sy - view.oy) * f;
    view.scale = scale;
    redraw();
  }

  const local = (e) => {
    const rect = canvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  };

  canvas.addEventListener("wheel", (e) => {
    if (!pts) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? height : 1;
    const [sx, sy] = local(e);
    zoomAt(sx, sy, Math.exp(-e.deltaY * unit * 0.0015));
    hover(sx, sy);
  }, {passive: false});

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    if (!pts || e.button !== 0) return;
    const [sx, sy] = local(e);
    drag = {sx, sy, ox: view.ox, oy: view.oy, moved: false, id: e.pointerId};
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!pts) return;
    const [sx, sy] = local(e);
    if (drag) {
      const dx = sx - drag.sx, dy = sy - drag.sy;
      if (Math.abs(dx) + Math.abs(dy) > CLICK_SLOP) drag.moved = true;
      if (drag.moved) {
        view.ox = drag.ox + dx;
        view.oy = drag.oy + dy;
        canvas.style.cursor = "grabbing";
        tip.hidden = true;
        redraw();
        return;
      }
    }
    hover(sx, sy);
  });
  canvas.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const wasClick = !drag.moved;
    canvas.releasePointerCapture(drag.id);
    drag = null;
    const [sx, sy] = local(e);
    if (wasClick) {
      const i = pick(sx, sy);
      if (i >= 0) open(i, e.ctrlKey || e.metaKey);
    }
    hover(sx, sy);
  });
  canvas.addEventListener("pointerleave", () => {
    if (drag) return;
    tip.hidden = true;
    if (hovered >= 0) { hovered = -1; redraw(); }
  });
  canvas.addEventListener("keydown", (e) => {
    if (!pts) return;
    const step = 60, moves = {ArrowLeft: [step, 0], ArrowRight: [-step, 0],
                              ArrowUp: [0, step], ArrowDown: [0, -step]};
    if (e.key === "+" || e.key === "=") zoomAt(width / 2, height / 2, 1.5);
    else if (e.key === "-") zoomAt(width / 2, height / 2, 1 / 1.5);
    else if (e.key === "0") { fit(); redraw(); }
    else if (moves[e.key]) { view.ox += moves[e.key][0]; view.oy += moves[e.key][1]; redraw(); }
    else return;
    e.preventDefault();
  });
  document.querySelectorAll("[data-map-reset]").forEach((b) => b.addEventListener("click", () => {
    if (pts) { fit(); redraw(); }
  }));
  // Picking another collection or tree reloads the page with it (a URL that can be shared).
  document.querySelectorAll("[data-map-form] select").forEach((s) =>
    s.addEventListener("change", () => s.form.submit()));

  // -- start ----------------------------------------------------------------------------
  new ResizeObserver(resize).observe(box);
  const started = performance.now();
  fetch(box.dataset.api, {headers: {Accept: "application/json"}})
    .then((r) => r.json().then((doc) => {
      if (!r.ok) throw new Error(doc.error ? doc.error.message : r.statusText);
      return doc;
    }))
    .then((doc) => {
      load(doc);
      resize();
      if (width) fit();
      draw();
      const ms = Math.round(performance.now() - started);
      status.textContent = `${doc.count.toLocaleString()} of ${doc.papers.toLocaleString()} ` +
        `papers · loaded in ${ms} ms`;
      box.dataset.readyMs = String(Math.round(performance.now())); // since navigation
      box.dataset.state = "ready";
    })
    .catch((err) => {
      status.textContent = `The map could not be loaded: ${err.message}`;
      box.dataset.state = "error";
    });

  // For end-to-end tests: where a point is drawn, in page coordinates.
  window.paperatlasMap = {
    count: () => (pts ? pts.n : 0),
    key: (i) => pts.keys[i],
    pageXY: (i) => {
      const rect = canvas.getBoundingClientRect();
      return [rect.left + pts.x[i] * view.scale + view.ox,
              rect.top + pts.y[i] * view.scale + view.oy];
    },
  };
})();
