// paperatlas: the map page. A canvas scatter plot in plain JavaScript (no build step).
// The first view is a uniform sample of the map (/api/map/points, typed arrays); a zoomed
// or panned view, once it settles, fetches the points of its part at the same density;
// titles come from /api/map/paper on hover. Points are drawn straight into an ImageData
// buffer and found under the pointer through a uniform grid per layer.
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

  // Points of the first view (a uniform sample of the map) and of a zoomed view, fetched
  // when it settles; /map?budget=N sets both (a slow device wants fewer).
  const BASE_BUDGET = Number(box.dataset.budget) || 150000;
  const DETAIL_BUDGET = BASE_BUDGET;
  const SETTLE_MS = 180; // a view still this long after a zoom or a pan gets its detail

  let meta = null; // the first window's header: topics, bounds, points, papers, tree
  let layers = []; // [base, detail?]: {n, x, y, paper, topic, grid, box, complete}
  let colours = []; // per legend index, then [none]: packed ABGR for ImageData
  let dimmed = [];
  let focus = -2; // a legend index whose points stand out (-1: those without a topic)
  let view = {scale: 1, ox: 0, oy: 0, fit: 1};
  let width = 0, height = 0, dpr = 1;
  let hovered = null; // {layer, i}
  let frame = 0;
  const papers = new Map(); // paper id -> {key, title, year}, fetched on hover
  let detailTimer = 0, detailAbort = null;
  let drawMs = 0; // how long the last frame took to draw
  let image = null; // the frame's pixels, reused while the canvas keeps its size
  let anchors = []; // per labelled topic: {i, label, x, y} (map units), from the first view

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
    if (!meta.tree) return PLAIN;
    if (topic && topic.kind === "unsorted") return NONE;
    return i < PALETTE.length ? PALETTE[i] : hsl((i * 137.5) % 360, 0.55, 0.5);
  }

  // -- data ---------------------------------------------------------------------------
  // A window of /api/map/points: "PAM1", a uint32 header length, the JSON header, then
  // float32 x, float32 y, uint32 paper ids and int16 topic indexes (little-endian).
  function parse(buf) {
    const head = new Uint8Array(buf, 0, 8);
    if (String.fromCharCode(head[0], head[1], head[2], head[3]) !== "PAM1") {
      throw new Error("not a map window");
    }
    const size = new DataView(buf).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, size)));
    const n = header.count;
    let at = 8 + size;
    const x = new Float32Array(buf, at, n); at += 4 * n;
    const y = new Float32Array(buf, at, n); at += 4 * n;
    const paper = new Uint32Array(buf, at, n); at += 4 * n;
    const topic = new Int16Array(buf, at, n);
    const layer = {n, x, y, paper, topic, box: header.box, complete: header.complete};
    layer.grid = buildGrid(layer);
    return {header, layer};
  }

  function fetchWindow(budget, area, signal) {
    let url = `${box.dataset.points}&budget=${budget}`;
    if (area) url += `&x0=${area[0]}&y0=${area[1]}&x1=${area[2]}&y1=${area[3]}`;
    return fetch(url, {signal}).then((r) => {
      if (!r.ok) {
        return r.json().then((doc) => {
          throw new Error(doc.error ? doc.error.message : r.statusText);
        });
      }
      return r.arrayBuffer().then(parse);
    });
  }

  function start(header, layer) {
    meta = header;
    layers = [layer];
    const rgb = meta.topics.map(topicColour).concat([meta.tree ? NONE : PLAIN]);
    colours = rgb.map(pack);
    dimmed = rgb.map((c) => pack(fade(c)));
    legend(rgb);
    anchors = labelAnchors(layer);
  }

  // Where each first-level topic's name goes: the median of its points in the first view
  // (a uniform sample of the map), for topics of at least 1% of the points.
  function labelAnchors(layer) {
    if (!meta.tree) return [];
    const xs = meta.topics.map(() => []), ys = meta.topics.map(() => []);
    for (let i = 0; i < layer.n; i++) {
      const t = layer.topic[i];
      if (t >= 0 && t < xs.length) { xs[t].push(layer.x[i]); ys[t].push(layer.y[i]); }
    }
    const median = (a) => a.sort((p, q) => p - q)[a.length >> 1];
    const out = [];
    meta.topics.forEach((topic, i) => {
      if (topic.kind === "unsorted" || xs[i].length < Math.max(3, layer.n * 0.01)) return;
      out.push({i, label: topic.label, x: median(xs[i]), y: median(ys[i])});
    });
    canvas.dataset.labels = String(out.length);
    return out;
  }

  function drawLabels(s, ox, oy) {
    g.font = `600 ${Math.round(12 * dpr)}px system-ui, sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.lineJoin = "round";
    g.lineWidth = 4 * dpr;
    for (const a of anchors) {
      if (focus !== -2 && a.i !== focus) continue;
      const px = a.x * s + ox, py = a.y * s + oy;
      if (px < 0 || py < 0 || px > canvas.width || py > canvas.height) continue;
      const text = a.label.length > 32 ? a.label.slice(0, 31) + "…" : a.label;
      g.strokeStyle = "rgba(255, 255, 255, 0.9)";
      g.strokeText(text, px, py);
      g.fillStyle = "#111827";
      g.fillText(text, px, py);
    }
  }

  function buildGrid(layer) {
    const {n, x, y} = layer;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      if (x[i] < minX) minX = x[i];
      if (x[i] > maxX) maxX = x[i];
      if (y[i] < minY) minY = y[i];
      if (y[i] > maxY) maxY = y[i];
    }
    if (!n) { minX = minY = 0; maxX = maxY = 1; }
    const size = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(n / 3))));
    const cell = Math.max(maxX - minX, maxY - minY, 1e-9) / size * 1.000001;
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

  // The point nearest to a screen position (CSS pixels), or null when none is near enough.
  function pick(sx, sy) {
    const wx = (sx - view.ox) / view.scale, wy = (sy - view.oy) / view.scale;
    const r = HOVER_PX / view.scale;
    let best = null, bestD = r * r;
    for (const layer of layers) {
      const {size, minX, minY, cell, start, items} = layer.grid;
      const c0 = Math.max(0, Math.floor((wx - r - minX) / cell));
      const c1 = Math.min(size - 1, Math.floor((wx + r - minX) / cell));
      const r0 = Math.max(0, Math.floor((wy - r - minY) / cell));
      const r1 = Math.min(size - 1, Math.floor((wy + r - minY) / cell));
      for (let row = r0; row <= r1; row++) {
        for (let col = c0; col <= c1; col++) {
          const c = row * size + col;
          for (let k = start[c]; k < start[c + 1]; k++) {
            const i = items[k];
            if (focus !== -2 && layer.topic[i] !== focus) continue;
            const dx = layer.x[i] - wx, dy = layer.y[i] - wy, d = dx * dx + dy * dy;
            if (d <= bestD) { bestD = d; best = {layer, i}; }
          }
        }
      }
    }
    return best;
  }

  // A zoomed view gets the points of its part of the map (with a margin), once it settles.
  function scheduleDetail() {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(refreshDetail, SETTLE_MS);
  }

  function refreshDetail() {
    if (!meta || layers[0].complete || !width) return;
    const [bx0, by0, bx1, by1] = meta.bounds;
    const vx0 = -view.ox / view.scale, vy0 = -view.oy / view.scale;
    const vx1 = (width - view.ox) / view.scale, vy1 = (height - view.oy) / view.scale;
    const area = (a) => Math.max(0, a[2] - a[0]) * Math.max(0, a[3] - a[1]);
    const seen = [Math.max(bx0, vx0), Math.max(by0, vy0), Math.min(bx1, vx1), Math.min(by1, vy1)];
    if (area(seen) >= 0.5 * Math.max(area(meta.bounds), 1e-12)) { // the base sample will do
      if (layers.length > 1) { layers = [layers[0]]; redraw(); }
      return;
    }
    const detail = layers[1];
    if (detail && detail.box[0] <= seen[0] && detail.box[1] <= seen[1] &&
        detail.box[2] >= seen[2] && detail.box[3] >= seen[3] &&
        (detail.complete || area(detail.box) <= 4 * area(seen))) return; // still fine enough
    const mx = (seen[2] - seen[0]) * 0.25, my = (seen[3] - seen[1]) * 0.25;
    const want = [seen[0] - mx, seen[1] - my, seen[2] + mx, seen[3] + my];
    if (detailAbort) detailAbort.abort();
    detailAbort = new AbortController();
    fetchWindow(DETAIL_BUDGET, want, detailAbort.signal)
      .then(({layer}) => { layers = [layers[0], layer]; redraw(); status.textContent = summary(); })
      .catch((err) => { if (err.name !== "AbortError") status.textContent = err.message; });
  }

  function shown() { return layers.reduce((k, l) => k + l.n, 0); }

  function summary() {
    return `${meta.points.toLocaleString()} of ${meta.papers.toLocaleString()} papers · ` +
      `${shown().toLocaleString()} drawn`;
  }

  // -- drawing ------------------------------------------------------------------------
  function fit() {
    const pad = 24;
    const [minX, minY, maxX, maxY] = meta.bounds;
    const spanX = Math.max(maxX - minX, 1e-9), spanY = Math.max(maxY - minY, 1e-9);
    const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
    view = {scale, fit: scale,
            ox: (width - spanX * scale) / 2 - minX * scale,
            oy: (height - spanY * scale) / 2 - minY * scale};
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
    if (!meta || !width) return;
    const began = performance.now();
    const W = canvas.width, H = canvas.height;
    if (!image || image.width !== W || image.height !== H) image = g.createImageData(W, H);
    const buf = new Uint32Array(image.data.buffer); // (one buffer for every frame)
    buf.fill(pack(BACKGROUND));
    // Points grow as the map zooms in; sparse maps get bigger points to begin with.
    const total = meta.points;
    const base = total <= 2000 ? 2.6 : total <= 20000 ? 1.8 : 1.2;
    const r = Math.max(1, Math.min(8, Math.round(dpr * base * Math.pow(view.scale / view.fit, 0.3))));
    const shape = disc(r - 1);
    const s = view.scale * dpr, ox = view.ox * dpr, oy = view.oy * dpr;
    const none = colours.length - 1;
    const plot = (x, y, i, colour) => {
      const px = Math.round(x[i] * s + ox), py = Math.round(y[i] * s + oy);
      if (px < -r || py < -r || px >= W + r || py >= H + r) return;
      for (const [dx, dy] of shape) {
        const qx = px + dx, qy = py + dy;
        if (qx >= 0 && qy >= 0 && qx < W && qy < H) buf[qy * W + qx] = colour;
      }
    };
    // A detail layer that covers the view holds every base point in it: draw it alone.
    const vx0 = -view.ox / view.scale, vy0 = -view.oy / view.scale;
    const vx1 = (width - view.ox) / view.scale, vy1 = (height - view.oy) / view.scale;
    const d = layers[1];
    const drawn = d && d.box[0] <= vx0 && d.box[1] <= vy0 && d.box[2] >= vx1 &&
      d.box[3] >= vy1 ? [d] : layers;
    for (const {n, x, y, topic} of drawn) { // everything, the focused topic's points on top
      for (let i = 0; i < n; i++) {
        const t = topic[i] < 0 ? none : topic[i];
        if (focus === -2) plot(x, y, i, colours[t]);
        else if (topic[i] !== focus) plot(x, y, i, dimmed[t]);
      }
    }
    if (focus !== -2) {
      const t = focus < 0 ? none : focus;
      for (const {n, x, y, topic} of drawn) {
        for (let i = 0; i < n; i++) if (topic[i] === focus) plot(x, y, i, colours[t]);
      }
    }
    g.putImageData(image, 0, 0);
    drawLabels(s, ox, oy);
    if (hovered) {
      const {layer, i} = hovered;
      g.beginPath();
      g.arc(layer.x[i] * s + ox, layer.y[i] * s + oy, r + 3 * dpr, 0, 2 * Math.PI);
      g.lineWidth = 2 * dpr;
      g.strokeStyle = "#111827";
      g.stroke();
    }
    drawMs = performance.now() - began;
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
    if (meta && first) fit();
    redraw();
    scheduleDetail();
  }

  // -- the legend and the tooltip -----------------------------------------------------
  function legend(rgb) {
    if (!legendList) return;
    legendList.textContent = "";
    const entries = meta.topics.map((t, i) => ({i, label: t.label, size: t.size, id: t.id}));
    const without = meta.points - meta.topics.reduce((k, t) => k + t.size, 0);
    if (meta.tree && without) entries.push({i: -1, label: "No topic in this tree", size: without});
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
        hovered = null;
        tip.hidden = true;
        redraw();
      });
      li.append(button);
      if (e.id !== undefined) {
        const open = document.createElement("a");
        // as present.tree_url: "/", "%" and "~" (in old names) as ~2F, ~25, ~7E
        const name = meta.tree.replace(/[%/~]/g, (c) => "~" + c.charCodeAt(0).toString(16).toUpperCase());
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
      li.textContent = meta.tree ? "No topics." : "Pick a tree to colour the papers by topic.";
      legendList.append(li);
    }
  }

  // The paper of a point (key, title, year), fetched once, when first hovered or clicked.
  function paperOf(id) {
    if (!papers.has(id)) {
      papers.set(id, fetch(`${box.dataset.paperApi}?id=${id}`).then((r) => {
        if (!r.ok) throw new Error(r.statusText);
        return r.json();
      }).catch((err) => { papers.delete(id); throw err; }));
    }
    return papers.get(id);
  }

  function showTip(hit, sx, sy) {
    if (!hit) { tip.hidden = true; return; }
    const {layer, i} = hit;
    paperOf(layer.paper[i]).then((p) => {
      if (!hovered || hovered.layer.paper[hovered.i] !== layer.paper[i]) return;
      tip.textContent = "";
      const title = document.createElement("strong");
      title.textContent = p.title; // text, never markup
      tip.append(title);
      const t = layer.topic[i];
      const line = [p.year, meta.tree ? (t >= 0 ? meta.topics[t].label : "No topic in this tree")
                                      : null].filter((v) => v !== null && v !== undefined);
      if (line.length) {
        const more = document.createElement("span");
        more.textContent = line.join(" · ");
        tip.append(more);
      }
      tip.hidden = false;
      const w = tip.offsetWidth, h = tip.offsetHeight;
      tip.style.left = Math.min(sx + 14, width - w - 4) + "px";
      tip.style.top = (sy + 14 + h > height ? sy - h - 10 : sy + 14) + "px";
    }).catch(() => { tip.hidden = true; });
  }

  const same = (a, b) => (a === b) || (a && b && a.layer.paper[a.i] === b.layer.paper[b.i]);

  function hover(sx, sy) {
    const hit = pick(sx, sy);
    canvas.style.cursor = hit ? "pointer" : "grab";
    if (!same(hit, hovered)) { hovered = hit; redraw(); }
    showTip(hit, sx, sy);
  }

  function open(hit, newTab) {
    paperOf(hit.layer.paper[hit.i]).then((p) => {
      const url = box.dataset.paperBase + encodeURIComponent(p.key);
      if (newTab) window.open(url, "_blank", "noopener");
      else window.location.href = url;
    });
  }

  // -- zoom and pan ---------------------------------------------------------------------
  function zoomAt(sx, sy, factor) {
    const scale = Math.max(view.fit * 0.5, Math.min(view.fit * 2000, view.scale * factor));
    const f = scale / view.scale;
    view.ox = sx - (sx - view.ox) * f;
    view.oy = sy - (sy - view.oy) * f;
    view.scale = scale;
    redraw();
    scheduleDetail();
  }

  const local = (e) => {
    const rect = canvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  };

  canvas.addEventListener("wheel", (e) => {
    if (!meta) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? height : 1;
    const [sx, sy] = local(e);
    zoomAt(sx, sy, Math.exp(-e.deltaY * unit * 0.0015));
    hover(sx, sy);
  }, {passive: false});

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    if (!meta || e.button !== 0) return;
    const [sx, sy] = local(e);
    drag = {sx, sy, ox: view.ox, oy: view.oy, moved: false, id: e.pointerId};
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!meta) return;
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
        scheduleDetail();
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
      const hit = pick(sx, sy);
      if (hit) open(hit, e.ctrlKey || e.metaKey);
    }
    hover(sx, sy);
  });
  canvas.addEventListener("pointerleave", () => {
    if (drag) return;
    tip.hidden = true;
    if (hovered) { hovered = null; redraw(); }
  });
  canvas.addEventListener("keydown", (e) => {
    if (!meta) return;
    const step = 60, moves = {ArrowLeft: [step, 0], ArrowRight: [-step, 0],
                              ArrowUp: [0, step], ArrowDown: [0, -step]};
    if (e.key === "+" || e.key === "=") zoomAt(width / 2, height / 2, 1.5);
    else if (e.key === "-") zoomAt(width / 2, height / 2, 1 / 1.5);
    else if (e.key === "0") { fit(); redraw(); scheduleDetail(); }
    else if (moves[e.key]) {
      view.ox += moves[e.key][0]; view.oy += moves[e.key][1]; redraw(); scheduleDetail();
    }
    else return;
    e.preventDefault();
  });
  document.querySelectorAll("[data-map-reset]").forEach((b) => b.addEventListener("click", () => {
    if (meta) { fit(); redraw(); scheduleDetail(); }
  }));
  // Picking another collection or tree reloads the page with it (a URL that can be shared).
  document.querySelectorAll("[data-map-form] select").forEach((s) =>
    s.addEventListener("change", () => s.form.submit()));

  // -- start ----------------------------------------------------------------------------
  new ResizeObserver(resize).observe(box);
  const started = performance.now();
  fetchWindow(BASE_BUDGET, null)
    .then(({header, layer}) => {
      start(header, layer);
      resize();
      if (width) fit();
      draw();
      const ms = Math.round(performance.now() - started);
      status.textContent = `${summary()} · loaded in ${ms} ms`;
      box.dataset.readyMs = String(Math.round(performance.now())); // since navigation
      box.dataset.state = "ready";
    })
    .catch((err) => {
      status.textContent = `The map could not be loaded: ${err.message}`;
      box.dataset.state = "error";
    });

  // For end-to-end tests: the first view's points, and where one is drawn in the page.
  window.paperatlasMap = {
    count: () => (layers.length ? layers[0].n : 0),
    drawn: () => shown(),
    drawMs: () => drawMs,
    complete: () => (layers.length ? layers[0].complete : false),
    paper: (i) => layers[0].paper[i],
    pageXY: (i) => {
      const rect = canvas.getBoundingClientRect();
      return [rect.left + layers[0].x[i] * view.scale + view.ox,
              rect.top + layers[0].y[i] * view.scale + view.oy];
    },
  };
})();
