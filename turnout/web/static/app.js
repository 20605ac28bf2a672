// turnout dashboard: a hash-routed page that polls the JSON routes every 2 s and draws SVG.
// The cluster token arrives in the URL fragment (#token=...), moves to sessionStorage and is sent
// only as an Authorization header on promote/abort; the fragment is never sent to a server.
"use strict";

const POLL_MS = 2000;
const TOKEN_KEY = "turnout-token";
const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777"];

const S = {since: localStorage.getItem("turnout-since") || "1h", timer: null, busy: false,
           page: null, params: null, seq: 0};

// ---------------------------------------------------------------- helpers
const $ = (sel, el) => (el || document).querySelector(sel);
function esc(s) {
  return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, c => (
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function num(x) { return x === null || x === undefined || Number.isNaN(x); }
function fmtMs(x) { return num(x) ? "–" : x.toFixed(1) + " ms"; }
function fmtRps(x) { return num(x) ? "–" : x.toFixed(2) + "/s"; }
function fmtPct(x) { return num(x) ? "–" : (x * 100).toFixed(2) + "%"; }
function fmtChange(x) { return num(x) ? "–" : (x > 0 ? "+" : "") + x.toFixed(1) + "%"; }
function fmtTime(ts) {
  if (num(ts)) return "–";
  const d = new Date(ts * 1000);
  return d.toLocaleTimeString([], {hour12: false});
}
function fmtDateTime(ts) {
  if (num(ts)) return "–";
  const d = new Date(ts * 1000);
  return d.toLocaleDateString() + " " + d.toLocaleTimeString([], {hour12: false});
}
function cell(value, text, cls) {
  const v = num(value) ? "" : value;
  return `<td class="num ${cls || ""}" data-value="${esc(v)}">${esc(text)}</td>`;
}
function colour(versions, v) {
  const i = versions.indexOf(v);
  return PALETTE[(i < 0 ? versions.length : i) % PALETTE.length];
}
function svc(ns, name) { return encodeURIComponent(ns) + "/" + encodeURIComponent(name); }
function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function getJSON(path) {
  const r = await fetch(path, {headers: {"Accept": "application/json"}, cache: "no-store"});
  const body = await r.json().catch(() => ({message: r.statusText}));
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}
function tel(path, params) {
  const q = new URLSearchParams(Object.assign({since: S.since}, params || {}));
  return getJSON("/api/telemetry/" + path + "?" + q.toString());
}
function toast(text, bad) {
  const t = $("#toast");
  t.textContent = text;
  t.className = "toast" + (bad ? " bad" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

// ---------------------------------------------------------------- charts (SVG strings)
// A round step (1, 2, 2.5 or 5 × 10^k) giving at most 4 intervals up to v.
function niceStep(v) {
  if (!(v > 0)) return 0.25;
  const raw = v / 4, p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
function tickText(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return String(Math.round(v * 10) / 10);
  return String(Math.round(v * 1000) / 1000);
}

// series: [{name, colour, points: [[x, y], ...]}]; opts: {unit, title, xFmt, xTicks, bars}
function chart(series, opts) {
  const W = opts.width || 560, H = opts.height || 200;
  const L = 56, R = 12, T = 26, B = 30;
  const all = series.flatMap(s => s.points);
  let x0 = opts.xMin !== undefined ? opts.xMin : Math.min(...all.map(p => p[0]));
  let x1 = opts.xMax !== undefined ? opts.xMax : Math.max(...all.map(p => p[0]));
  if (!all.length) { x0 = 0; x1 = 1; }
  if (x1 <= x0) x1 = x0 + 1;
  const step = niceStep(Math.max(0, ...all.map(p => p[1] || 0)));
  const yMax = Math.max(1, Math.ceil(Math.max(0, ...all.map(p => p[1] || 0)) / step)) * step;
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = y => H - B - (y / yMax) * (H - T - B);
  let out = `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img"` +
    ` aria-label="${esc(opts.title)}">`;
  out += `<text class="title" x="${L}" y="14">${esc(opts.title)}</text>`;
  for (let i = 0; i * step <= yMax + step / 1e6; i++) {
    const v = i * step, y = sy(v);
    out += `<line class="grid" x1="${L}" x2="${W - R}" y1="${y}" y2="${y}"/>`;
    out += `<text class="tick" x="${L - 6}" y="${y + 4}" text-anchor="end">${tickText(v)}</text>`;
  }
  out += `<text class="unit" x="4" y="${T - 8}">${esc(opts.unit)}</text>`;
  const xt = opts.xTicks || [0, 1, 2, 3, 4].map(i => x0 + (x1 - x0) * i / 4);
  for (const x of xt) {
    const anchor = sx(x) > W - R - 30 ? "end" : sx(x) < L + 30 ? "start" : "middle";
    out += `<line class="axis" x1="${sx(x)}" x2="${sx(x)}" y1="${H - B}" y2="${H - B + 4}"/>`;
    out += `<text class="tick" x="${sx(x)}" y="${H - B + 16}" text-anchor="${anchor}">` +
      `${esc((opts.xFmt || fmtTime)(x))}</text>`;
  }
  out += `<line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>`;
  out += `<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/>`;
  if (!all.length) {
    out += `<text class="tick" x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`;
  }
  series.forEach((s, k) => {
    if (opts.bars) {
      const bw = (W - L - R) / Math.max(1, s.points.length) / series.length;
      for (const [x, y] of s.points) {
        const px = sx(x) + k * bw;
        out += `<rect x="${px}" y="${sy(y)}" width="${Math.max(1, bw - 1)}" ` +
          `height="${H - B - sy(y)}" fill="${s.colour}" opacity="0.75"/>`;
      }
      return;
    }
    const pts = s.points.filter(p => !num(p[1]));
    if (!pts.length) return;
    const d = pts.map(p => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    out += `<polyline fill="none" stroke="${s.colour}" stroke-width="2" ` +
      `${s.dashed ? 'stroke-dasharray="5 3"' : ""} points="${d}"/>`;
    if (pts.length < 12) {
      for (const p of pts) {
        out += `<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="3" fill="${s.colour}"/>`;
      }
    }
  });
  let lx = L + 8;
  for (const s of series) {
    out += `<rect x="${lx}" y="${T - 4}" width="10" height="3" fill="${s.colour}"/>`;
    out += `<text class="legend" x="${lx + 14}" y="${T}">${esc(s.name)}</text>`;
    lx += 24 + 7 * String(s.name).length;
  }
  return out + "</svg>";
}

function sparkline(points) {
  const W = 120, H = 28;
  if (!points.length) return `<svg class="spark" width="${W}" height="${H}"></svg>`;
  const x0 = points[0][0], x1 = Math.max(points[points.length - 1][0], x0 + 1);
  const yMax = Math.max(...points.map(p => p[1]), 1e-9);
  const d = points.map(p => `${((p[0] - x0) / (x1 - x0) * (W - 2) + 1).toFixed(1)},` +
    `${(H - 2 - p[1] / yMax * (H - 4)).toFixed(1)}`).join(" ");
  return `<svg class="spark" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
    `<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="${d}"/></svg>`;
}

// ---------------------------------------------------------------- pages
const pages = {};

pages.services = {
  nav: "services",
  mount: () => `<h1>Services</h1><div id="svc-table"></div>`,
  async update() {
    const list = await tel("services");
    const sparks = await Promise.all(list.items.map(s =>
      tel(`services/${svc(s.namespace, s.service)}/timeseries`).catch(() => null)));
    let rows = "";
    list.items.forEach((s, i) => {
      const ts = sparks[i];
      const total = {};
      if (ts) for (const pts of [...Object.values(ts.series), ts.no_upstream || []]) {
        for (const p of pts) total[p.t] = (total[p.t] || 0) + (p.rps || 0);
      }
      const pts = Object.keys(total).map(Number).sort((a, b) => a - b).map(t => [t, total[t]]);
      rows += `<tr data-service="${esc(s.namespace + "/" + s.service)}">` +
        `<td><a href="#/service/${svc(s.namespace, s.service)}">${esc(s.service)}</a></td>` +
        `<td>${esc(s.namespace)}</td><td class="versions">${s.versions.map(esc).join(", ")}</td>` +
        cell(s.rps, fmtRps(s.rps), "rps") + cell(s.error_rate, fmtPct(s.error_rate), "err") +
        cell(s.p50, fmtMs(s.p50), "p50") + cell(s.p99, fmtMs(s.p99), "p99") +
        `<td>${sparkline(pts)}</td></tr>`;
    });
    $("#svc-table").innerHTML = list.items.length ? `<table class="grid"><thead><tr>
      <th>Service</th><th>Namespace</th><th>Versions</th><th>Req/s</th><th>Error rate</th>
      <th>p50</th><th>p99</th><th>Requests</th></tr></thead><tbody>${rows}</tbody></table>` :
      `<p class="muted">No requests recorded in this window yet.</p>`;
  },
};

pages.service = {
  nav: "services",
  mount: p => `<h1>${esc(p[1])} <span class="sub">${esc(p[0])}</span></h1>
    <div id="charts" class="charts"></div>
    <h2>Versions</h2><div id="versions"></div>
    <h2>Endpoints <select id="ep-version"></select></h2><div id="endpoints"></div>`,
  async update(p) {
    const base = `services/${svc(p[0], p[1])}`;
    const [ts, vs] = await Promise.all([tel(base + "/timeseries"), tel(base + "/versions")]);
    const order = vs.items.map(v => v.version);
    const names = Object.keys(ts.series).sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const mk = key => names.map(v => ({name: v, colour: colour(order, v),
      points: ts.series[v].map(pt => [pt.t, pt[key]])}));
    const xr = {xMin: ts.start, xMax: Date.now() / 1000};
    const lat = names.flatMap(v => [
      {name: v + " p50", colour: colour(order, v), points: ts.series[v].map(pt => [pt.t, pt.p50])},
      {name: v + " p99", colour: colour(order, v), dashed: true,
       points: ts.series[v].map(pt => [pt.t, pt.p99])}]);
    $("#charts").innerHTML =
      chart(mk("rps"), Object.assign({title: "Requests by version", unit: "req/s"}, xr)) +
      chart(mk("errors"), Object.assign({title: `Errors by version (per ${ts.step_seconds} s)`,
        unit: "errors"}, xr)) +
      chart(lat, Object.assign({title: "Latency by version (p50 solid, p99 dashed)",
        unit: "ms"}, xr));
    let rows = "";
    for (const v of vs.items.slice().reverse()) {
      const nt = v.new_error_types.map(t => `${t.type} (${t.count})`).join("; ");
      const cmp = v.previous ? `<a href="#/compare/${svc(p[0], p[1])}?baseline=` +
        `${encodeURIComponent(v.previous)}&candidate=${encodeURIComponent(v.version)}">` +
        `compare with ${esc(v.previous)}</a>` : "";
      rows += `<tr data-version="${esc(v.version)}"><td><span class="dot" ` +
        `data-c="${esc(colour(order, v.version))}"></span>${esc(v.version)}</td>` +
        `<td>${fmtDateTime(v.first_seen)}</td><td>${fmtDateTime(v.last_seen)}</td>` +
        `<td class="${nt ? "bad" : ""}">${esc(nt || "none")}</td>` +
        cell(v.requests, String(v.requests), "requests") + cell(v.rps, fmtRps(v.rps), "rps") +
        cell(v.error_rate, fmtPct(v.error_rate), "err") +
        ["p50", "p75", "p90", "p95", "p99", "max"].map(q => cell(v[q], fmtMs(v[q]), q)).join("") +
        `<td>${cmp}</td></tr>`;
    }
    $("#versions").innerHTML = `<table class="grid"><thead><tr><th>Version</th>
      <th>First seen</th><th>Last seen</th><th>New error types</th><th>Requests</th>
      <th>Req/s</th><th>Error rate</th><th>p50</th><th>p75</th><th>p90</th><th>p95</th>
      <th>p99</th><th>max</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
    const nu = vs.no_upstream;  // requests no pod answered: the service's errors, not a version
    if (nu) $("#versions").innerHTML += `<p class="bad" id="no-upstream">No upstream: ` +
      `${nu.requests} requests no pod answered (` +
      `${esc(nu.error_types.map(t => `${t.type} \u00d7${t.count}`).join(", ") || "none")})</p>`;
    paintDots();
    const sel = $("#ep-version");
    const want = sel.value || order[order.length - 1] || "";
    if (sel.options.length !== order.length) {
      sel.innerHTML = order.map(v => `<option>${esc(v)}</option>`).join("");
      sel.onchange = () => refresh();
    }
    sel.value = want;
    if (!want) { $("#endpoints").innerHTML = ""; return; }
    const eps = await tel(base + "/endpoints", {version: want});
    $("#endpoints").innerHTML = `<table class="grid"><thead><tr><th>Method</th><th>Endpoint</th>
      <th>Requests</th><th>Req/s</th><th>Error rate</th><th>p50</th><th>p99</th><th>max</th>
      </tr></thead><tbody>${eps.items.map(e => `<tr><td>${esc(e.method)}</td>
      <td class="mono">${esc(e.endpoint)}</td>${cell(e.requests, String(e.requests))}
      ${cell(e.rps, fmtRps(e.rps))}${cell(e.error_rate, fmtPct(e.error_rate))}
      ${cell(e.p50, fmtMs(e.p50))}${cell(e.p99, fmtMs(e.p99))}${cell(e.max, fmtMs(e.max))}</tr>`
      ).join("")}</tbody></table>`;
  },
};

function paintDots() {
  // CSP forbids inline styles in markup; colour through the CSSOM instead.
  document.querySelectorAll(".dot[data-c]").forEach(d => { d.style.background = d.dataset.c; });
}

pages.compare = {
  nav: "services",
  mount: (p, q) => `<h1>Compare versions of ${esc(p[1])} <span class="sub">${esc(p[0])}</span>
    </h1><div class="controls">baseline <select id="cmp-b"></select> candidate
    <select id="cmp-c"></select> <a href="#/service/${svc(p[0], p[1])}">back to service</a></div>
    <div id="statements"></div><div id="cmp-charts" class="charts"></div>
    <h2>Summary</h2><div id="changes"></div><h2>Error types</h2><div id="errtypes"></div>
    <h2>Endpoints, by latency change</h2><div id="cmp-endpoints"></div>`,
  async update(p, q) {
    const base = `services/${svc(p[0], p[1])}`;
    const vs = await tel(base + "/versions");
    const order = vs.items.map(v => v.version);
    const sb = $("#cmp-b"), sc = $("#cmp-c");
    if (sb.options.length !== order.length) {
      const opts = order.map(v => `<option>${esc(v)}</option>`).join("");
      sb.innerHTML = opts;
      sc.innerHTML = opts;
      // picking the version the other side shows swaps the two sides
      const go = (mine, other, was) => () => {
        if (mine.value === other.value) other.value = S.cmp[was];
        location.hash = `#/compare/${svc(p[0], p[1])}?baseline=` +
          `${encodeURIComponent(sb.value)}&candidate=${encodeURIComponent(sc.value)}`;
      };
      sb.onchange = go(sb, sc, "b");
      sc.onchange = go(sc, sb, "k");
    }
    const args = {};
    if (q.get("baseline")) args.baseline = q.get("baseline");
    if (q.get("candidate")) args.candidate = q.get("candidate");
    const c = await tel(base + "/compare", args);
    const b = c.baseline.version, k = c.candidate.version;
    sb.value = b;
    sc.value = k;
    S.cmp = {b: b, k: k};
    const cb = colour(order, b), ck = colour(order, k);
    $("#statements").innerHTML = c.statements.map(s => `<p class="statement">${esc(s)}</p>`)
      .join("") || `<p class="muted">Not enough requests for a statistical statement.</p>`;
    const hist = await getJSON(`/api/histogram/${svc(p[0], p[1])}?since=${S.since}&version=` +
      `${encodeURIComponent(b)}&version=${encodeURIComponent(k)}`);
    const idx = hist.edges.slice(0, -1).map((e, i) => i);
    const hs = [b, k].map(v => ({name: `${v} (n=${hist.sample[v]})`, colour: colour(order, v),
      points: (hist.versions[v] || []).map((f, i) => [i, f * 100])}));
    const qs = ["p50", "p75", "p90", "p95", "p99", "max"];
    const curve = (v, col) => ({name: v.version, colour: col,
      points: qs.map((n, i) => [i, v[n]])});
    $("#cmp-charts").innerHTML =
      chart(hs, {title: "Latency distribution (% of requests per bin)", unit: "%", bars: true,
        xMin: 0, xMax: Math.max(1, idx.length),
        xTicks: idx.filter(i => i % 6 === 0), xFmt: i => tickText(hist.edges[i]) + " ms"}) +
      chart([curve(c.baseline, cb), curve(c.candidate, ck)], {title: "Percentiles",
        unit: "ms", xMin: 0, xMax: 5, xTicks: [0, 1, 2, 3, 4, 5], xFmt: i => qs[i]});
    const rows = ["requests", "rps", "error_rate", ...qs].map(m => {
      const ch = c.changes[m];
      const f = m === "rps" ? fmtRps : m === "error_rate" ? fmtPct :
        m === "requests" ? String : fmtMs;
      const worse = m === "error_rate" ? ch.change > 0 :
        !num(ch.change_pct) && m !== "requests" && m !== "rps" && ch.change_pct > 10;
      // an error rate from 0 has no % change: show the change in percentage points
      const text = m === "error_rate" && num(ch.change_pct) && !num(ch.change) ?
        (ch.change > 0 ? "+" : "") + (ch.change * 100).toFixed(2) + " pts" :
        fmtChange(ch.change_pct);
      return `<tr data-metric="${m}"><td>${m}</td>${cell(ch.baseline, f(ch.baseline))}` +
        `${cell(ch.candidate, f(ch.candidate))}` +
        `${cell(ch.change_pct, text, worse ? "bad" : "")}</tr>`;
    }).join("");
    let ci = "";
    if (c.latency) {
      ci += `<p>Latency shift ${esc(k)} − ${esc(b)}: ${fmtMs(c.latency.shift.estimate)} ` +
        `(${Math.round(c.level * 100)}% CI ${fmtMs(c.latency.shift.ci[0])} … ` +
        `${fmtMs(c.latency.shift.ci[1])}), samples ${c.latency.sample.join(" / ")}</p>`;
    }
    if (c.errors) {
      ci += `<p>Error rate ${fmtPct(c.errors.baseline)} → ${fmtPct(c.errors.candidate)}, ` +
        `difference ${fmtPct(c.errors.difference)} (${Math.round(c.level * 100)}% CI ` +
        `${fmtPct(c.errors.ci[0])} … ${fmtPct(c.errors.ci[1])})</p>`;
    }
    $("#changes").innerHTML = `<table class="grid narrow"><thead><tr><th>Metric</th>
      <th>${esc(b)} (baseline)</th><th>${esc(k)} (candidate)</th><th>Change</th></tr></thead>
      <tbody>${rows}</tbody></table>${ci}`;
    const et = c.error_types;
    const list = (items, f) => items.length ? `<ul>${items.map(f).join("")}</ul>` :
      `<p class="muted">none</p>`;
    $("#errtypes").innerHTML = `<div class="cols">
      <div><h3>Only in ${esc(b)}</h3>${list(et.only_baseline,
        t => `<li>${esc(t.type)} <b>${t.count}</b></li>`)}</div>
      <div><h3>Only in ${esc(k)}</h3>${list(et.only_candidate,
        t => `<li class="bad">${esc(t.type)} <b>${t.count}</b></li>`)}</div>
      <div><h3>In both</h3>${list(et.both,
        t => `<li>${esc(t.type)} <b>${t.baseline}</b> / <b>${t.candidate}</b></li>`)}</div></div>`;
    $("#cmp-endpoints").innerHTML = `<table class="grid"><thead><tr><th>Method</th>
      <th>Endpoint</th><th>Requests ${esc(b)} / ${esc(k)}</th><th>p50 ${esc(b)}</th>
      <th>p50 ${esc(k)}</th><th>p50 change</th><th>Error rate ${esc(b)}</th>
      <th>Error rate ${esc(k)}</th></tr></thead><tbody>${c.endpoints.map(e => `<tr>
      <td>${esc(e.method)}</td><td class="mono">${esc(e.endpoint)}</td>
      <td class="num">${e.baseline ? e.baseline.requests : 0} / ${e.candidate ?
        e.candidate.requests : 0}</td>${cell(e.p50.baseline, fmtMs(e.p50.baseline))}
      ${cell(e.p50.candidate, fmtMs(e.p50.candidate))}
      ${cell(e.p50.change_pct, fmtChange(e.p50.change_pct), e.p50.change_pct > 10 ? "bad" : "")}
      ${cell(e.error_rate.baseline, fmtPct(e.error_rate.baseline))}
      ${cell(e.error_rate.candidate, fmtPct(e.error_rate.candidate))}</tr>`).join("")}
      </tbody></table>`;
  },
};

pages.traffic = {
  nav: "traffic",
  mount: () => `<h1>Traffic map</h1><div id="mesh-ns" class="controls"></div>
    <div id="map" class="map"></div><h2>Edges</h2><div id="edges"></div>`,
  async update() {
    const m = await getJSON("/api/traffic?since=" + encodeURIComponent(S.since));
    $("#mesh-ns").innerHTML = "Namespaces: " + m.namespaces.map(n =>
      `<span class="pill ${n.in_mesh ? "mesh" : ""}" data-ns="${esc(n.name)}">${esc(n.name)}` +
      `${n.in_mesh ? " · mesh" : ""}</span>`).join(" ");
    const byId = Object.fromEntries(m.nodes.map(n => [n.id, n]));
    let svg = `<svg class="traffic" viewBox="0 0 ${m.width} ${m.height}" width="${m.width}" ` +
      `height="${m.height}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" ` +
      `markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
      `<path d="M0,0 L10,5 L0,10 z" fill="#64748b"/></marker></defs>`;
    for (const e of m.edges) {
      const a = byId[e.source], b = byId[e.target];
      const x1 = a.x + a.width, y1 = a.y + a.height / 2, x2 = b.x, y2 = b.y + b.height / 2;
      const dx = Math.max(40, Math.abs(x2 - x1) / 2);
      const bad = e.error_rate > 0.01;
      svg += `<path class="edge ${bad ? "bad" : ""}" d="M${x1},${y1} C${x1 + dx},${y1} ` +
        `${x2 - dx},${y2} ${x2},${y2}" marker-end="url(#arrow)"/>`;
      const mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
      const split = e.split.map(s => `${s.version} ${(s.share * 100).toFixed(0)}%`).join(" · ");
      svg += `<text class="elabel" x="${mx}" y="${my - 19}" text-anchor="middle">` +
        `${fmtRps(e.rps)} · ${fmtPct(e.error_rate)} err</text>` +
        `<text class="elabel split" x="${mx}" y="${my - 6}" text-anchor="middle">` +
        `${esc(split)}</text>`;
    }
    for (const n of m.nodes) {
      const st = n.stats;
      svg += `<g class="node ${n.in_mesh ? "mesh" : ""}" data-node="${esc(n.id)}">` +
        `<rect x="${n.x}" y="${n.y}" width="${n.width}" height="${n.height}" rx="8"/>` +
        `<text class="nname" x="${n.x + 8}" y="${n.y + 18}">${esc(clip(n.service, 22))}` +
        `<title>${esc(n.id)}</title></text>` +
        `<text class="nsub" x="${n.x + 8}" y="${n.y + 33}">${esc(n.namespace)}` +
        `${n.versions.length ? " · v " + esc(n.versions.join(", ")) : ""}</text>` +
        `<text class="nsub" x="${n.x + 8}" y="${n.y + 48}">${st ? fmtRps(st.rps) + " · p99 " +
          fmtMs(st.p99) : esc(n.workloads.join(", "))}</text></g>`;
    }
    $("#map").innerHTML = m.nodes.length ? svg + "</svg>" :
      `<p class="muted">No requests recorded in this window yet.</p>`;
    $("#edges").innerHTML = m.edges.length ? `<table class="grid"><thead><tr><th>From</th>
      <th>To</th><th>Req/s</th><th>Error rate</th><th>p50</th><th>p99</th>
      <th>Observed split</th><th>Configured split</th></tr></thead><tbody>${m.edges.map(e =>
      `<tr data-edge="${esc(e.id)}"><td>${esc(e.source)}</td><td>${esc(e.target)}</td>
      ${cell(e.rps, fmtRps(e.rps), "rps")}${cell(e.error_rate, fmtPct(e.error_rate), "err")}
      ${cell(e.p50, fmtMs(e.p50))}${cell(e.p99, fmtMs(e.p99))}
      <td class="split">${e.split.map(s => `<span data-version="${esc(s.version)}" ` +
        `data-share="${s.share}">${esc(s.version)}${s.subset ? " (" + esc(s.subset) + ")" : ""}` +
        ` ${(s.share * 100).toFixed(1)}%</span>`).join("")}</td>
      <td class="configured">${e.configured.map(r => `<div>vs/${esc(r.virtual_service)} ` +
        `${esc(r.route)}${r.match ? " (match)" : ""}: ${r.destinations.map(d =>
          `${esc(d.subset || d.host)}${d.version ? " [" + esc(d.version) + "]" : ""} ` +
          `${d.weight}%`).join(", ")}</div>`).join("")}${e.configured_note ?
        `<div class="muted">${esc(e.configured_note)}</div>` : ""}</td></tr>`).join("")}
      </tbody></table>` : "";
  },
};

function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

function phaseClass(p) {
  return {Healthy: "ok", Succeeded: "ok", Initialized: "ok", Degraded: "bad", Failed: "bad",
          Paused: "warn", Waiting: "warn"}[p] || "info";
}

pages.rollouts = {
  nav: "rollouts",
  mount: () => `<h1>Rollouts</h1><div id="ro-list"></div>`,
  async update() {
    const l = await getJSON("/api/rollouts");
    $("#ro-list").innerHTML = l.items.length ? `<table class="grid"><thead><tr><th>Name</th>
      <th>Kind</th><th>Namespace</th><th>Phase</th><th>Step</th><th>Canary weight</th>
      <th>Stable</th><th>Canary</th><th>Message</th></tr></thead><tbody>${l.items.map(r => `
      <tr data-rollout="${esc(r.namespace + "/" + r.name)}"><td><a href="#/rollout/${r.slug}/` +
      `${svc(r.namespace, r.name)}">${esc(r.name)}</a></td><td>${esc(r.kind)}</td>
      <td>${esc(r.namespace)}</td><td><span class="badge ${phaseClass(r.phase)}">` +
      `${esc(r.phase)}</span></td><td>${r.step}/${r.steps}</td>${cell(r.weight, r.weight + "%")}
      <td class="mono">${esc(r.stable)}</td><td class="mono">${esc(r.canary)}</td>
      <td>${esc(r.message)}</td></tr>`).join("")}</tbody></table>` :
      `<p class="muted">No Argo Rollouts or Flagger Canaries.</p>`;
  },
};

pages.rollout = {
  nav: "rollouts",
  mount: p => `<h1>${esc(p[2])} <span class="sub">${esc(p[1])}</span></h1>
    <div id="ro-head"></div><div class="actions" id="ro-actions">
    <button data-cmd="promote">Promote</button>
    <button data-cmd="promote-full">Promote full</button>
    <button data-cmd="abort" class="danger">Abort</button>
    <button data-cmd="retry">Retry</button></div>
    <div class="cols"><div><h2>Steps</h2><ol id="ro-steps" start="0"></ol></div>
    <div><h2>Conditions</h2><div id="ro-conds"></div></div></div>
    <h2>Verdict history</h2><div id="ro-hist"></div><h2>Events</h2><div id="ro-events"></div>`,
  async update(p) {
    const r = await getJSON(`/api/rollouts/${encodeURIComponent(p[0])}/${svc(p[1], p[2])}`);
    const bar = `<div class="wbar"><div class="stable" data-w="${r.stable_weight}">stable ` +
      `${r.stable_weight}%</div><div class="canary" data-w="${r.weight}">canary ${r.weight}%` +
      `</div></div>`;
    $("#ro-head").innerHTML = `<table class="kv"><tr><th>Kind</th><td>${esc(r.kind)}</td></tr>
      <tr><th>Phase</th><td><span id="ro-phase" class="badge ${phaseClass(r.phase)}">` +
      `${esc(r.phase)}</span> ${r.pause_reason ? esc(r.pause_reason) : ""}</td></tr>
      <tr><th>Message</th><td id="ro-message">${esc(r.message) || "–"}</td></tr>
      <tr><th>Stable</th><td class="mono">${esc(r.stable) || "–"}</td></tr>
      <tr><th>Canary</th><td class="mono">${esc(r.canary) || "–"}</td></tr>
      <tr><th>Weight</th><td id="ro-weight" data-value="${r.weight}">${bar}` +
      `${r.header.length ? " header " + r.header.map(h => esc(h.name + "=" + h.value))
        .join(", ") : ""}${r.mirror ? " mirror " + r.mirror + "%" : ""}</td></tr>
      <tr><th>Checks</th><td>${r.checks.run} run, ${r.checks.failed} failed (threshold ` +
      `${r.checks.threshold}), ${r.checks.inconclusive} inconclusive</td></tr></table>`;
    document.querySelectorAll(".wbar [data-w]").forEach(d => {
      d.style.width = d.dataset.w + "%";
      d.hidden = d.dataset.w === "0";
    });
    document.querySelectorAll("#ro-actions button").forEach(b => {
      b.disabled = !r.commands.includes(b.dataset.cmd);
      b.onclick = () => command(p, b.dataset.cmd);
    });
    $("#ro-steps").innerHTML = r.step_list.map(s => `<li class="step ${s.state}">` +
      `${esc(s.text)}${s.state === "current" ? " ◀ current" : ""}</li>`).join("") ||
      "<li class='muted'>no steps</li>";
    $("#ro-conds").innerHTML = r.conditions.map(c => `<div><b>${esc(c.type)}</b> ` +
      `${esc(c.status)} <span class="muted">${esc(c.reason)}</span> ${esc(c.message)}</div>`)
      .join("") || "<p class='muted'>none</p>";
    $("#ro-hist").innerHTML = r.history.length ? `<table class="grid"><thead><tr><th>Time</th>
      <th>Step</th><th>Outcome</th><th>Reason</th><th>Metrics</th></tr></thead><tbody>
      ${r.history.map(h => `<tr><td>${h.at > 1e6 ? fmtDateTime(h.at) : h.at}</td>
      <td class="num">${h.step}</td><td><span class="badge ${h.outcome === "Failed" ? "bad" :
        h.outcome === "Successful" ? "ok" : "warn"}">${esc(h.outcome)}</span></td>
      <td>${esc(h.reason)}</td><td class="mono small">${h.metrics.map(m =>
        esc(Object.entries(m).map(([k, v]) => k + "=" + (typeof v === "object" ?
          JSON.stringify(v) : v)).join(" "))).join("<br>")}</td></tr>`).join("")}
      </tbody></table>` : `<p class="muted">No verdicts yet.</p>`;
    $("#ro-events").innerHTML = r.events.length ? `<table class="grid"><thead><tr><th>Last</th>
      <th>Type</th><th>Reason</th><th>Message</th><th>Count</th></tr></thead><tbody>
      ${r.events.map(e => `<tr class="${e.type === "Warning" ? "bad" : ""}"><td>${esc(e.last)}
      </td><td>${esc(e.type)}</td><td>${esc(e.reason)}</td><td>${esc(e.message)}</td>
      <td class="num">${e.count}</td></tr>`).join("")}</tbody></table>` :
      `<p class="muted">No events.</p>`;
  },
};

async function command(p, cmd) {
  const t = token();
  if (!t) {
    toast("No token: open the dashboard with the link `turnout dashboard` prints.", true);
    return;
  }
  const r = await fetch(`/api/rollouts/${encodeURIComponent(p[0])}/${svc(p[1], p[2])}/` +
    encodeURIComponent(cmd), {method: "POST", headers: {"Authorization": "Bearer " + t}});
  const body = await r.json().catch(() => ({message: r.statusText}));
  toast(body.message || r.statusText, !r.ok);
  refresh();
}

// ---------------------------------------------------------------- router and polling
function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, query] = h.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] || "services";
  return {page: pages[name] ? name : "services", params: parts.slice(1),
          query: new URLSearchParams(query || "")};
}

async function refresh() {
  if (S.busy) return;
  S.busy = true;
  const seq = S.seq;
  const r = route();
  try {
    await pages[r.page].update(r.params, r.query);
    if (seq === S.seq) {
      $("#live").className = "live ok";
      $("#live").title = "updated " + new Date().toLocaleTimeString([], {hour12: false});
    }
  } catch (e) {
    if (seq === S.seq) {
      $("#live").className = "live bad";
      $("#live").title = String(e.message || e);
      const err = $("#error") || document.createElement("p");
      err.id = "error";
      err.className = "error";
      err.textContent = String(e.message || e);
      if (!err.parentNode) $("#main").prepend(err);
    }
  } finally {
    S.busy = false;
  }
  const err = $("#error");
  if (err && $("#live").classList.contains("ok")) err.remove();
}

function mount() {
  S.seq += 1;
  const r = route();
  const page = pages[r.page];
  document.querySelectorAll("nav a").forEach(a =>
    a.classList.toggle("active", a.dataset.nav === page.nav));
  $("#main").innerHTML = page.mount(r.params, r.query);
  S.busy = false;
  refresh();
}

function takeToken() {
  const m = location.hash.match(/^#(?:.*[&?])?token=([^&]*)/);
  if (!m) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + "#/services");
}

function start() {
  takeToken();
  $("#auth").textContent = token() ? "token ✓" : "read-only (no token)";
  const since = $("#since");
  since.value = S.since;
  since.onchange = () => {
    S.since = since.value;
    localStorage.setItem("turnout-since", S.since);
    mount();
  };
  window.addEventListener("hashchange", mount);
  mount();
  S.timer = setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
