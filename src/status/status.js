// SPDX-License-Identifier: MIT
// The status page's script: it polls the admin API's JSON (/summary,
// /firmwares, one page of /devices) and redraws the tables and charts.
// Names and ids are any bytes a directory or a device sent: every one is
// put in the page with textContent or as an attribute value, never parsed
// as markup (there is no innerHTML in this file).
"use strict";

const POLL_MS = 1500;
const FETCH_MS = 5000;
const PAGE = 50;
const SVG = "http://www.w3.org/2000/svg";
const STATES = ["checking", "downloading", "downloaded", "stalled", "up-to-date"];
const view = { firmware: "", state: "", sort: "id", offset: 0 };
const last = { ok: 0 };

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

function bytes(n) {
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + " " + u[i];
}

function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

function ago(ms, now) {
  return ms ? duration((now - ms) / 1000) + " ago" : "never";
}

function clock(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// Replaces the rows of @table's body with @rows, or one row saying @none.
function fill(table, rows, none) {
  const body = table.tBodies[0];
  if (rows.length === 0) {
    const td = el("td", none, "empty");
    td.colSpan = table.tHead.rows[0].cells.length;
    const tr = el("tr");
    tr.append(td);
    rows = [tr];
  }
  body.replaceChildren(...rows);
}

// A row of @table whose cells carry their column's name (data-label), which
// the narrow layout shows before each value.
function row(table) {
  const tr = el("tr");
  const labels = Array.from(table.tHead.rows[0].cells, (c) => c.textContent);
  tr.cell = (text, cls) => {
    const td = el("td", text, cls);
    td.dataset.label = labels[tr.children.length] || "";
    tr.append(td);
    return td;
  };
  return tr;
}

// --- firmwares ----------------------------------------------------------

function firmwareRow(table, f) {
  const tr = row(table);
  tr.dataset.name = f.name;
  tr.cell(f.name, "name");
  const v = tr.cell(f.version, "num");
  v.append(el("span", f.version_source === "file" ? "from " + f.version_file : "default", "sub"));
  tr.cell(bytes(f.size), "num").append(el("span", f.size + " bytes, " + f.blocks + " blocks", "sub"));
  tr.cell(f.crc32_hex, "mono");
  tr.cell(f.signed ? (f.key_id ? "yes, key " + f.key_id : "yes, not verified") : "no",
       f.signed ? "mono" : "");
  tr.cell(f.loaded.replace("T", " "), "num");
  tr.cell(f.retained === 0 ? "none" : f.retained + " older generation" + (f.retained === 1 ? "" : "s"),
    "num");
  return tr;
}

function drawFirmwares(list) {
  const t = $("firmwares");
  fill(t, list.map((f) => firmwareRow(t, f)), "No firmware is being served.");
}

// --- roll-out: counts by state and a chart per firmware -----------------

// Downloads completed over time, cumulative, as an area: the timeline's
// buckets from the first completion up to now.
function chart(tl, now, title) {
  const w = 300, h = 56, pad = 13;
  const s = svg("svg", { class: "chart", viewBox: "0 0 " + w + " " + h, role: "img" });
  const t = svg("title", {});
  t.textContent = title;
  s.append(t);
  s.append(svg("line", { class: "axis", x1: 0, y1: h - pad, x2: w, y2: h - pad }));
  let used = 0;
  tl.counts.forEach((c, i) => { if (c) used = i + 1; });
  const span = Math.max(tl.bucket_ms * used, now - tl.start_ms, 1000);
  const total = tl.counts.reduce((a, b) => a + b, 0);
  const x = (ms) => (Math.min(ms, span) / span) * w;
  const y = (n) => h - pad - (n / total) * (h - pad - 4);
  let d = "M0 " + y(0), sum = 0;
  tl.counts.slice(0, used).forEach((c, i) => {
    sum += c;
    d += " L" + x((i + 1) * tl.bucket_ms).toFixed(1) + " " + y(sum).toFixed(1);
  });
  d += " L" + x(span).toFixed(1) + " " + y(sum).toFixed(1) + " L" + w + " " + (h - pad) + " L0 " + (h - pad) + " Z";
  s.append(svg("path", { class: "area", d: d }));
  const label = (x0, text, anchor) => {
    const e = svg("text", { x: x0, y: h - 2, "text-anchor": anchor });
    e.textContent = text;
    s.append(e);
  };
  label(0, clock(tl.start_ms).slice(11, 19), "start");
  label(w, "now", "end");
  const top = svg("text", { x: 2, y: 10 });
  top.textContent = total + " completed";
  s.append(top);
  return s;
}

function rolloutCard(f, now) {
  const card = el("article", null, "card");
  card.dataset.name = f.name;
  card.append(el("h3", f.name));
  const ul = el("ul", null, "counts");
  for (const st of STATES) {
    const li = el("li", null, "state s-" + st + (f.devices[st] ? "" : " zero"));
    li.append(el("b", f.devices[st]), " " + st);
    ul.append(li);
  }
  card.append(ul);
  const title = f.completed + (f.completed === 1 ? " download" : " downloads") + " completed";
  if (f.timeline) card.append(chart(f.timeline, now, title + " of " + f.name));
  card.append(el("p", f.timeline
    ? title + " since " + clock(f.timeline.start_ms) + " (in steps of " +
      duration(f.timeline.bucket_ms / 1000) + ")"
    : "No download completed yet.", "caption"));
  return card;
}

function drawRollout(summary) {
  const cards = summary.firmwares.map((f) => rolloutCard(f, summary.now_ms));
  $("rollout").replaceChildren(...(cards.length ? cards : [el("p", "No device has asked yet.", "empty")]));
  const sel = $("f-firmware");
  const names = summary.firmwares.map((f) => f.url_name).join("/");
  if (sel.dataset.names === names) return; // an open list is left alone
  sel.dataset.names = names;
  const keep = sel.value;
  const opts = [el("option", "all")];
  opts[0].value = "";
  for (const f of summary.firmwares) {
    const o = el("option", f.name);
    o.value = f.url_name;
    opts.push(o);
  }
  sel.replaceChildren(...opts);
  sel.value = keep;
  if (sel.value !== keep) sel.value = "";
}

// --- devices ------------------------------------------------------------

function timeLeft(d) {
  if (d.state !== "downloading" || !d.rate || d.download_size <= d.download_done) return "—";
  return duration((d.download_size - d.download_done) / d.rate);
}

function needsLook(d) {
  const r = d.last_report && d.last_report.status;
  return d.state === "stalled" || r === "failed" || r === "reverted";
}

function deviceRow(table, d, now) {
  const tr = row(table);
  tr.dataset.id = d.id;
  if (needsLook(d)) tr.className = "attention";
  const id = tr.cell(d.id, "name");
  if (!d.by_address) id.append(el("span", d.address, "sub"));
  else id.append(el("span", "known by its address", "sub"));
  tr.cell(d.firmware, "name");
  tr.cell(d.installed === null ? "unknown" : d.installed, "num");
  tr.cell(d.offered, "num");
  tr.cell("").append(el("span", d.state, "state s-" + d.state));
  const p = tr.cell("", "progress");
  const bar = el("div", null, "bar");
  const prog = el("progress");
  prog.max = 100;
  prog.value = d.percent;
  prog.setAttribute("aria-label", "progress of " + d.id);
  bar.append(prog, el("span", d.percent + " %"));
  p.append(bar);
  if (d.blocks_total) p.append(el("span", d.blocks_served + " of " + d.blocks_total + " blocks", "sub"));
  tr.cell(d.rate ? bytes(d.rate) + "/s" : "—", "num rate");
  tr.cell(timeLeft(d), "num left");
  tr.cell(ago(d.last_seen_ms, now), "num");
  const r = d.last_report;
  const rep = tr.cell(r ? "" : "none", "report");
  if (r) {
    rep.append(el("span", r.status + (r.reason ? ": " + r.reason : ""), "r-" + r.status));
    rep.append(el("span", "version " + r.version + ", " + ago(r.at_ms, now), "sub"));
  }
  return tr;
}

function drawDevices(list, total, now) {
  const t = $("devices");
  fill(t, list.map((d) => deviceRow(t, d, now)), "No device matches.");
  const from = total ? view.offset + 1 : 0;
  $("page-info").textContent = from + "–" + (view.offset + list.length) + " of " + total;
  $("prev").disabled = view.offset === 0;
  $("next").disabled = view.offset + PAGE >= total;
}

// --- polling ------------------------------------------------------------

// A poll that hangs (otad stopped mid-answer) must not stop the next ones.
async function json(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store",
    signal: AbortSignal.timeout(FETCH_MS) });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return { body: await r.json(), total: Number(r.headers.get("X-Total-Count") || 0) };
}

function devicesUrl() {
  let q = "/devices?format=json&limit=" + PAGE + "&offset=" + view.offset +
    "&sort=" + encodeURIComponent(view.sort);
  if (view.firmware) q += "&firmware=" + view.firmware; // url_name: already encoded
  if (view.state) q += "&state=" + encodeURIComponent(view.state);
  return q;
}

async function poll() {
  try {
    const [s, f, d] = await Promise.all([json("/summary"), json("/firmwares?format=json"),
      json(devicesUrl())]);
    drawRollout(s.body);
    drawFirmwares(f.body);
    if (view.offset > 0 && view.offset >= d.total) {
      // The devices of the page shown are gone (evicted, or a filter
      // narrowed): the last page is shown at the next poll.
      view.offset = Math.max(0, Math.ceil(d.total / PAGE) - 1) * PAGE;
      ticker.again = true;
    }
    drawDevices(d.body, d.total, s.body.now_ms);
    last.ok = Date.now();
    $("updated").textContent = "Updated " + clock(s.body.now_ms) + ", every " + POLL_MS / 1000 + " s";
    $("updated").classList.remove("stale");
  } catch (e) {
    $("updated").textContent = "Not updated since " + (last.ok ? clock(last.ok) : "loading") + ": " + e.message;
    $("updated").classList.add("stale");
  }
}

// One poll at a time: one asked for while another runs follows it at once
// (a change of filter or page shows without waiting), then every POLL_MS.
const ticker = { timer: 0, running: false, again: false };

async function tick() {
  clearTimeout(ticker.timer);
  if (ticker.running) {
    ticker.again = true;
    return;
  }
  ticker.running = true;
  await poll();
  ticker.running = false;
  if (ticker.again) {
    ticker.again = false;
    tick();
  } else {
    ticker.timer = setTimeout(tick, POLL_MS);
  }
}

function changed() {
  view.firmware = $("f-firmware").value;
  view.state = $("f-state").value;
  view.sort = $("f-sort").value;
  view.offset = 0;
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("change", changed);
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("prev").addEventListener("click", () => { view.offset = Math.max(0, view.offset - PAGE); tick(); });
  $("next").addEventListener("click", () => { view.offset += PAGE; tick(); });
  tick();
});
