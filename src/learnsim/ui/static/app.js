// learnsim ui: each page fetches the read-only JSON API and draws with uPlot (shipped beside this file).
// The body's data attributes report what rendered (charts, errors, ready, step) for tests and scripts.
"use strict";

const body = document.body;
const app = document.getElementById("app");
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function countError(message) {
  body.dataset.errors = String(Number(body.dataset.errors) + 1);
  const box = document.getElementById("errors") || app.insertBefore(el("div", { id: "errors", class: "error" }), app.firstChild);
  box.append(el("p", {}, String(message)));
}
window.addEventListener("error", (e) => countError(e.message));
window.addEventListener("unhandledrejection", (e) => countError(e.reason && e.reason.message ? e.reason.message : e.reason));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) node.append(c instanceof Node ? c : document.createTextNode(c === undefined || c === null ? "" : String(c)));
  return node;
}

async function api(path) {
  const response = await fetch(path);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function fmt(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString();
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? value.toExponential(3) : value.toPrecision(4);
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "–";
}

function table(header, rows, attrs = {}) {
  return el("table", attrs, el("thead", {}, el("tr", {}, header.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
}

function link(href, text) {
  return el("a", { href }, text);
}

function section(title, ...children) {
  return el("section", {}, el("h2", {}, title), ...children);
}

function badge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

// A line chart: x values and named series ({label, values}); returns the uPlot instance.
function chart(container, title, x, series, { xLabel = "", yLabel = "", log = false, height = 260, points = false, integerX = false } = {}) {
  // the scale and axis choices are on the element too: what a reader sees in the picture, a test can read
  const box = el("div", { class: "chart", "data-title": title, "data-log": log ? "1" : "0", "data-integer-x": integerX ? "1" : "0" });
  container.append(box);
  const width = Math.max(300, (box.clientWidth || container.clientWidth || 800) - 10);
  const opts = {
    title, width, height,
    scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
    axes: [integerX ? { label: xLabel, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] } : { label: xLabel }, { label: yLabel, size: 70, values: (u, values) => values.map((v) => (v === null ? "" : fmt(v))) }],
    series: [{ label: xLabel || "x" }, ...series.map((s, i) => ({
      label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: 1.5, dash: s.dash,
      points: { show: points },
      spanGaps: true,
    }))],
    cursor: { drag: { x: true, y: false } },
  };
  const plot = new uPlot(opts, [x, ...series.map((s) => s.values)], box);
  body.dataset.charts = String(Number(body.dataset.charts) + 1);
  return plot;
}

// ------------------------------------------------------------------------------------------ overview
async function overview() {
  const graph = await api("/api/lineage");
  app.replaceChildren(el("h1", {}, "Overview"));
  const counts = {};
  for (const n of graph.nodes) counts[n.kind] = (counts[n.kind] || 0) + 1;
  app.append(el("p", { class: "muted" },
    `${counts.dataset || 0} dataset versions · ${graph.runs_total} runs (${graph.runs_shown} most recent shown) · ` +
    `${counts.model || 0} model versions · ${counts.study || 0} studies`));
  app.append(lineageGraph(graph));
  body.dataset.ready = "1";
}

function lineageGraph(graph) {
  const columns = ["dataset", "run", "model", "study"];
  const titles = { dataset: "datasets", run: "runs", model: "models", study: "studies" };
  const byKind = Object.fromEntries(columns.map((k) => [k, graph.nodes.filter((n) => n.kind === k)]));
  const rowH = 30, colW = 360, boxW = 330, top = 30;
  const rows = Math.max(1, ...columns.map((k) => byKind[k].length));
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("width", String(columns.length * colW));
  svg.setAttribute("height", String(top + rows * rowH + 10));
  svg.setAttribute("class", "lineage");
  const where = {};
  columns.forEach((kind, c) => {
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", String(c * colW + 4)); label.setAttribute("y", "16");
    label.setAttribute("class", "column"); label.textContent = titles[kind];
    svg.append(label);
    byKind[kind].forEach((node, r) => { where[node.id] = [c * colW, top + r * rowH]; });
  });
  for (const [from, to] of graph.edges) {
    const a = where[from], b = where[to];
    if (!a || !b) continue;
    const [x1, y1, x2, y2] = a[0] < b[0] ? [a[0] + boxW, a[1] + 12, b[0], b[1] + 12] : [b[0] + boxW, b[1] + 12, a[0], a[1] + 12];
    const path = document.createElementNS(svgNS, "path");
    const mid = (x1 + x2) / 2;
    path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
    path.setAttribute("class", "edge");
    svg.append(path);
  }
  for (const node of graph.nodes) {
    const [x, y] = where[node.id];
    const a = document.createElementNS(svgNS, "a");
    a.setAttribute("href", node.href);
    const rect = document.createElementNS(svgNS, "rect");
    rect.setAttribute("x", String(x)); rect.setAttribute("y", String(y));
    rect.setAttribute("width", String(boxW)); rect.setAttribute("height", "24"); rect.setAttribute("rx", "4");
    rect.setAttribute("class", `node ${node.kind} ${node.status}`);
    const text = document.createElementNS(svgNS, "text");
    text.setAttribute("x", String(x + 6)); text.setAttribute("y", String(y + 16));
    // the status and key figure always show; a long name gives way (its whole form is in the tooltip)
    const tail = `${node.status && node.kind === "run" ? " · " + node.status : ""}${node.detail ? " · " + node.detail : ""}`;
    const room = Math.max(12, 52 - tail.length);
    text.textContent = (node.label.length > room ? node.label.slice(0, room - 1) + "…" : node.label) + tail;
    const tip = document.createElementNS(svgNS, "title");
    tip.textContent = `${node.kind} ${node.label} ${node.status} ${node.detail}`;
    a.append(rect, text, tip);
    svg.append(a);
  }
  return el("div", { class: "graph" }, svg);
}

// ------------------------------------------------------------------------------------------ objects
function objectHref(o) {
  if (o.type === "dataset") return `/datasets/${o.name}/${o.version}`;
  if (o.type === "model") return `/models/${o.name}/${o.version}`;
  if (o.type === "run") return `/runs/${o.id}`;
  return `/studies/${o.id}`;
}

async function objects() {
  const rows = await api("/api/objects");
  const search = el("input", { type: "search", placeholder: "search name, id, detail", id: "search" });
  const type = el("select", { id: "type" }, ["all", "dataset", "run", "model", "study"].map((t) => el("option", { value: t }, t)));
  const statuses = ["all", ...new Set(rows.map((r) => r.status))];
  const status = el("select", { id: "status" }, statuses.map((s) => el("option", { value: s }, s)));
  const after = el("input", { type: "date", id: "after", title: "created on or after" });
  const holder = el("div");
  let sortKey = "created", descending = true;
  const columns = [["type", "type"], ["id", "name / id"], ["status", "status"], ["created", "created"], ["metric", "metric (nRMSE full / selection)"], ["detail", "detail"]];
  function render() {
    const q = search.value.toLowerCase();
    const since = after.value ? new Date(after.value).getTime() / 1000 : 0;
    const shown = rows.filter((r) => (type.value === "all" || r.type === type.value) &&
      (status.value === "all" || r.status === status.value) && (r.created || 0) >= since &&
      (!q || `${r.id} ${r.name} ${r.detail}`.toLowerCase().includes(q)));
    shown.sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * (descending ? -1 : 1);
    });
    const head = el("tr", {}, columns.map(([key, label]) => el("th", { class: "sortable", onclick: () => {
      descending = sortKey === key ? !descending : key !== "metric"; sortKey = key; render();
    } }, label + (sortKey === key ? (descending ? " ▼" : " ▲") : ""))));
    const bodyRows = shown.slice(0, 1000).map((r) => el("tr", {},
      el("td", {}, r.type), el("td", {}, link(objectHref(r), r.id)), el("td", {}, badge(r.status)),
      el("td", {}, when(r.created)), el("td", { class: "num" }, fmt(r.metric)), el("td", {}, r.detail || "")));
    holder.replaceChildren(el("p", { class: "muted" }, `${shown.length} of ${rows.length} objects`),
      el("table", { id: "objects" }, el("thead", {}, head), el("tbody", {}, bodyRows)));
  }
  for (const control of [search, type, status, after]) control.addEventListener("input", render);
  app.replaceChildren(el("h1", {}, "Objects"), el("div", { class: "filters" }, search, type, status, after), holder);
  render();
  body.dataset.ready = "1";
}

// ------------------------------------------------------------------------------------------ dataset
async function datasetPage() {
  const { name, version } = body.dataset;
  const d = await api(`/api/datasets/${name}/${version}`);
  app.replaceChildren(el("h1", {}, `Dataset ${d.name}@${d.version}`));
  app.append(section("Schema",
    table(["rows", "episodes", "dt (s)", "features", "size on disk", "created", "versions"],
      [[fmt(d.rows), fmt(d.episodes), fmt(d.dt), d.features.join(", "), `${(d.size_bytes / 1e6).toFixed(2)} MB`, when(d.created_ns / 1e9),
        el("span", {}, d.versions.map((v) => [link(`/datasets/${d.name}/${v}`, v.slice(0, 8)), " "]))]], { id: "schema" })));
  const stats = Object.entries(d.statistics || {}).map(([f, s]) => [f, fmt(s.mean), fmt(s.std), fmt(s.min), fmt(s.max)]);
  app.append(section("Summary statistics", table(["feature", "mean", "std", "min", "max"], stats, { id: "statistics" })));
  const warnings = d.warnings || [];
  app.append(section("Validation findings", warnings.length ? el("ul", {}, warnings.map((w) => el("li", {}, w))) : el("p", { class: "muted" }, "no findings: every check passed")));
  const feature = el("select", { id: "feature" }, d.features.map((f) => el("option", { value: f }, f)));
  const episode = el("select", { id: "episode" }, (d.episode_ids.length > 1 ? d.episode_ids : ["all"]).map((e) => el("option", { value: e }, `episode ${e}`)));
  const reset = el("button", { type: "button" }, "reset zoom");
  const holder = el("div", { id: "series" });
  let plot = null;
  async function draw(range) {
    const ep = episode.value === "all" ? "" : episode.value;
    const q = new URLSearchParams({ feature: feature.value, episode: ep, points: "2000" });
    if (range) { q.set("start", range[0]); q.set("end", range[1]); }
    const s = await api(`/api/datasets/${d.name}/${d.version}/series?${q}`);
    if (plot) plot.destroy();
    holder.replaceChildren();
    plot = chart(holder, `${s.feature}: ${fmt(s.rows)} rows${s.t.length < s.rows ? `, ${s.t.length} points (min/max per bucket)` : ""}`,
      s.t, [{ label: s.feature, values: s.y }], { xLabel: "time (s)" });
    // zooming by dragging fetches the range again at full resolution for that range
    plot.hooks = plot.hooks || {};
    plot.over.addEventListener("mouseup", () => setTimeout(() => {
      const min = plot.scales.x.min, max = plot.scales.x.max;
      if (s.t.length && (min > s.t[0] || max < s.t[s.t.length - 1])) draw([min, max]);
    }, 0));
  }
  feature.addEventListener("change", () => draw());
  episode.addEventListener("change", () => draw());
  reset.addEventListener("click", () => draw());
  app.append(section("Plot", el("div", { class: "filters" }, feature, episode, reset, el("span", { class: "muted" }, "drag on the chart to zoom")), holder));
  app.append(section("Used by runs", d.runs.length ? table(["run", "status", "model"], d.runs.map((r) => [link(`/runs/${r.id}`, r.id), badge(r.status),
    r.model ? link(`/models/${r.model.name}/${r.model.version}`, `${r.model.name}@${r.model.version.slice(0, 8)}`) : "–"]), { id: "runs" })
    : el("p", { class: "muted" }, "no run has used this version")));
  await draw();
  body.dataset.ready = "1";
}

// ------------------------------------------------------------------------------------------ run
function metricSeries(records, key) {
  const xs = [], ys = [];
  for (const r of records) if (key in r && r[key] !== null) { xs.push(r.step); ys.push(r[key]); }
  return [xs, ys];
}

function featureTable(metrics, prefix, id) {
  // keys like val/nrmse@10/position -> rows per feature, columns per horizon
  const rows = {}, horizons = new Set();
  for (const [k, v] of Object.entries(metrics || {})) {
    const m = k.match(new RegExp(`^${prefix}/(nrmse|rmse)@([^/]+)/(.+)$`));
    if (m && m[1] === "nrmse") { (rows[m[3]] = rows[m[3]] || {})[m[2]] = v; horizons.add(m[2]); }
  }
  const hs = [...horizons].sort((a, b) => (a === "full") - (b === "full") || Number(a) - Number(b));
  if (!hs.length) return el("p", { class: "muted" }, "no per-feature metrics yet");
  // beside nRMSE by horizon: the one-step (teacher-forced) RMSE, the full rollout RMSE and fit %
  const extra = [["rmse", "one-step RMSE"], ["rollout_rmse", "rollout RMSE"], ["fit", "fit %"]]
    .filter(([key]) => Object.keys(rows).some((f) => `${prefix}/${key}/${f}` in metrics));
  return table(["feature", ...hs.map((h) => `nRMSE @${h}`), ...extra.map(([, label]) => label)],
    Object.entries(rows).map(([f, r]) => [f, ...hs.map((h) => fmt(r[h])), ...extra.map(([key]) => fmt(metrics[`${prefix}/${key}/${f}`]))]), { id });
}

async function runPage() {
  const id = body.dataset.run;
  let records = [], lines = 0, detail = null;
  const head = el("div"), charts = el("div", { class: "grid" }), info = el("div");
  app.replaceChildren(el("h1", {}, `Run ${id}`), head, charts, info);
  let lossPlot = null, lrPlot = null, valPlot = null;
  async function refresh() {
    detail = await api(`/api/runs/${id}?since=${lines}`);
    records = records.concat(detail.records);
    lines = detail.lines;
    body.dataset.step = String(detail.step);
    body.dataset.status = detail.status;
    const progress = detail.steps ? Math.min(100, (100 * detail.step) / detail.steps) : 0;
    head.replaceChildren(el("p", {}, badge(detail.status), ` step ${fmt(detail.step)} of ${fmt(detail.steps)} · ${detail.family || ""} · model name ${detail.model_name || "–"}`),
      el("div", { class: "progress" }, el("div", { style: `width:${progress}%` })));
    const [lx, ly] = metricSeries(records, "train/loss");
    const valKey = records.some((r) => "val/rollout_score" in r) ? "val/rollout_score" : "val/loss";
    const [vx, vy] = metricSeries(records.filter((r) => r.step > 0), valKey);  // step 0: the linear candidate
    const [rx, ry] = metricSeries(records, "lr");
    if (lossPlot) { lossPlot.setData([lx, ly]); } else if (lx.length) {
      const rollout = records.some((r) => "train/horizon" in r);
      lossPlot = chart(charts, rollout ? "training objective: rollout loss (free-run error over the horizon)" : "training objective: one-step loss (MSE)",
        lx, [{ label: "train/loss", values: ly }], { xLabel: "step", log: ly.every((v) => v > 0) });
    }
    if (valPlot) { valPlot.setData([vx, vy]); } else if (vx.length) {
      valPlot = chart(charts, `validation (${valKey}, normalised)`, vx, [{ label: valKey, values: vy }], { xLabel: "step", points: true, log: vy.every((v) => v > 0) });
    }
    if (lrPlot) { lrPlot.setData([rx, ry]); } else if (rx.length) {
      lrPlot = chart(charts, "learning rate", rx, [{ label: "lr", values: ry }], { xLabel: "step" });
    }
    return detail.status === "running";
  }
  const live = await refresh();
  renderRunInfo(info, detail, records);
  body.dataset.ready = "1";
  if (live) {
    const timer = setInterval(async () => {
      const still = await refresh();
      if (!still) { clearInterval(timer); renderRunInfo(info, detail, records); }
    }, 1000);
  }
}

function renderRunInfo(info, d, records) {
  info.replaceChildren();
  const lastVal = [...records].reverse().find((r) => Object.keys(r).some((k) => k.startsWith("val/"))) || {};
  info.append(section("Validation (latest)", featureTable(lastVal, "val", "val-features")));
  const report = d.report || {};
  if (report.test) {
    const stored = report.best_candidate === "linear" ? "the linear fit" : `best checkpoint, step ${report.best_step}`;
    if (report.stored) info.append(el("p", { id: "stored", class: report.best_candidate === "linear" ? "warn" : "muted" }, report.stored));
    for (const warning of report.warnings || []) info.append(el("p", { class: "error model-warning" }, `Warning: ${warning}`));
    info.append(section(`Test (${stored})`, featureTable(report.test, "test", "test-features")));
    const hs = [], model = [], hold = [], linear = [];
    for (const [k, v] of Object.entries(report.test)) {
      const m = k.match(/^test\/nrmse@(\d+)$/);
      if (m) { hs.push(Number(m[1])); }
    }
    hs.sort((a, b) => a - b);
    for (const h of hs) { model.push(report.test[`test/nrmse@${h}`]); hold.push(report.test[`test/hold/nrmse@${h}`] ?? null); linear.push(report.test[`test/linear/nrmse@${h}`] ?? null); }
    if (hs.length > 1) {
      const box = el("div");
      info.append(section("Error vs horizon", box));
      chart(box, "test nRMSE by simulated steps", hs, [{ label: "model", values: model }, { label: "hold last state", values: hold, dash: [4, 4] }, { label: "linear", values: linear, dash: [2, 2] }],
        { xLabel: "horizon (steps)", log: model.every((v) => v > 0), points: true });
    }
  }
  if (d.plots.length) {
    info.append(section("Plots (rollout vs recording per episode and feature, loss curves)",
      el("div", { class: "plots" }, d.plots.map((p) => el("a", { href: `/runs/${d.id}/files/${p}` }, el("img", { src: `/runs/${d.id}/files/${p}`, alt: p, loading: "lazy" }))))));
  }
  const lineage = d.lineage || {};
  const links = [];
  if (lineage.name) links.push(["dataset", link(`/datasets/${lineage.name}/${lineage.version}`, `${lineage.name}@${lineage.version}`)]);
  if (lineage.validation) links.push(["validation dataset", link(`/datasets/${lineage.validation.name}/${lineage.validation.version}`, lineage.validation.name)]);
  if (lineage.test) links.push(["test dataset", link(`/datasets/${lineage.test.name}/${lineage.test.version}`, lineage.test.name)]);
  if (d.model) links.push(["model", link(`/models/${d.model.name}/${d.model.version}`, `${d.model.name}@${d.model.version}`)]);
  if (d.tags && d.tags.study) links.push(["study", link(`/studies/${d.tags.study}`, `${d.tags.study}, trial ${d.tags.trial}`)]);
  if (d.has_report_html) links.push(["HTML report", link(`/runs/${d.id}/files/report.html`, "report.html")]);
  if (d.mlflow_run) {
    links.push(["MLflow run", el("span", {}, link(`http://127.0.0.1:5000/#/search?searchFilter=attributes.run_id%3D%27${d.mlflow_run}%27`, d.mlflow_run),
      el("span", { class: "muted" }, "  (serve it with: learnsim ui --mlflow --port 5000)"))]);
  }
  links.push(["compare", link(`/compare?runs=${d.id}`, "compare with other runs")]);
  info.append(section("Lineage and links", table(["", ""], links, { id: "lineage" })));
  info.append(section("Checkpoints", table(["checkpoint", "step", "metric"], d.checkpoints.map((c) => [c.name, fmt(c.step), fmt(c.metric)]), { id: "checkpoints" })));
  info.append(section("Resolved config", el("pre", { id: "config" }, d.config)));
}

// ------------------------------------------------------------------------------------------ compare
async function comparePage() {
  const all = await api("/api/runs");
  const chosen = new Set(body.dataset.runs.split(",").filter(Boolean));
  const listed = [...all.filter((r) => chosen.has(r.id)), ...all.filter((r) => !chosen.has(r.id)).slice(0, 200)];
  const picker = el("div", { class: "picker" }, listed.map((r) => el("label", {},
    el("input", { type: "checkbox", value: r.id, ...(chosen.has(r.id) ? { checked: "" } : {}) }), ` ${r.id} `, badge(r.status))));
  const holder = el("div");
  async function draw() {
    const ids = [...picker.querySelectorAll("input:checked")].map((i) => i.value);
    history.replaceState(null, "", `/compare?runs=${ids.join(",")}`);
    holder.replaceChildren();
    if (!ids.length) { holder.append(el("p", { class: "muted" }, "pick runs to compare")); return; }
    const runs = await Promise.all(ids.map((id) => api(`/api/runs/${id}`)));
    for (const [key, title] of [["train/loss", "training loss"], ["val/loss", "validation loss"], ["val/rollout_score", "validation rollout score"]]) {
      const trained = (r) => r.records.filter((x) => x.step > 0);  // step 0: the linear candidate's validation
      const steps = [...new Set(runs.flatMap((r) => metricSeries(trained(r), key)[0]))].sort((a, b) => a - b);
      if (!steps.length) continue;
      const series = runs.map((r) => {
        const [xs, ys] = metricSeries(trained(r), key);
        const at = new Map(xs.map((x, i) => [x, ys[i]]));
        return { label: r.id, values: steps.map((s) => (at.has(s) ? at.get(s) : null)) };
      });
      const positive = series.every((s) => s.values.every((v) => v === null || v > 0));
      chart(holder, title, steps, series, { xLabel: "step", log: positive });  // log, as the run page: curves span decades
    }
  }
  picker.addEventListener("change", draw);
  app.replaceChildren(el("h1", {}, "Compare runs"), picker, holder);
  await draw();
  body.dataset.ready = "1";
}

// ------------------------------------------------------------------------------------------ model
async function modelPage() {
  const { name, version } = body.dataset;
  const m = await api(`/api/models/${name}/${version}`);
  app.replaceChildren(el("h1", {}, `Model ${m.name}@${m.version}`));
  const lineage = m.lineage || {};
  if (m.stored) app.append(el("p", { id: "stored", class: lineage.candidate === "linear" ? "warn" : "muted" }, m.stored));
  for (const warning of lineage.warnings || []) app.append(el("p", { class: "error model-warning" }, `Warning: ${warning}`));
  app.append(section("Summary", table(["family", "parameters", "created", "dataset", "run", "versions"], [[m.family, fmt(m.parameters), when(m.created_ns / 1e9),
    lineage.dataset ? link(`/datasets/${lineage.dataset}/${lineage.dataset_version}`, `${lineage.dataset}@${(lineage.dataset_version || "").slice(0, 8)}`) : "–",
    m.run ? link(`/runs/${m.run}`, m.run) : "–",
    el("span", {}, m.versions.map((v) => [link(`/models/${m.name}/${v}`, v.slice(0, 8)), " "]))]], { id: "summary" })));
  const metrics = Object.entries(m.metrics || {}).filter(([k]) => !k.includes("/hold/") && !k.includes("/linear/"));
  app.append(section("Metrics", metrics.length ? featureTable(m.metrics, "test", "metrics") : el("p", { class: "muted" }, "no test metrics (pruned or untested)")));
  app.append(section("Features and normalisation", table(["role", "feature", "relation", "parent", "offset", "scale"],
    m.scaling.map((s) => [s.role, s.name, s.relation || "–", s.parent || "–", fmt(s.offset), fmt(s.scale)]), { id: "scaling" })));
  const given = new URLSearchParams(location.search);  // the panel's fields may come in the address (a shared link)
  const dataset = el("input", { id: "sim-dataset", value: given.get("dataset") || (lineage.dataset ? `${lineage.dataset}@${lineage.dataset_version}` : ""), size: "40" });
  const episode = el("input", { id: "sim-episode", type: "number", placeholder: "a test episode", size: "6", value: given.get("episode") || "" });
  const warmup = el("input", { id: "sim-warmup", type: "number", value: given.get("warmup") || String(m.config.sequence_length || 1), size: "6" });
  const horizon = el("input", { id: "sim-horizon", type: "number", placeholder: "to the end", size: "8", value: given.get("horizon") || "" });
  const holder = el("div", { id: "simulation" });
  const note = el("span", { id: "warmup-note", class: "muted" });
  const run = el("button", { type: "button", id: "simulate" }, "simulate");
  let latest = 0;  // each click's number: a slower, older response never overwrites a newer request's
  run.addEventListener("click", async () => {
    const mine = ++latest;
    holder.replaceChildren(el("p", { class: "muted" }, "simulating…"));
    const asked = Number(warmup.value || 0);
    const q = new URLSearchParams({ dataset: dataset.value, episode: episode.value, warmup: warmup.value, horizon: horizon.value });
    try {
      const s = await api(`/api/models/${m.name}/${m.version}/simulate?${q}`);
      if (mine !== latest) return;
      note.textContent = s.warmup > asked ? ` raised from ${asked} to ${s.warmup}: the model needs its window of ${m.config.sequence_length} recorded rows` : "";
      holder.dataset.request = String(mine);
      holder.replaceChildren(el("p", { class: "muted", id: "simulated-what" }, `episode ${s.episode} (${s.split_note}): ${s.warmup} recorded warm-up rows, then ${s.steps} simulated steps`));
      if (s.range_note) holder.append(el("p", { class: "warn", id: "range-note" }, `Note: ${s.range_note}.`));
      for (const [feature, v] of Object.entries(s.features)) {
        chart(holder, feature, s.t, [{ label: "recorded", values: v.recorded, color: "#444" }, { label: "simulated", values: v.simulated, color: "#d62728" }], { xLabel: "time (s)", height: 220 });
      }
      body.dataset.simulated = "1";
    } catch (error) {
      if (mine === latest) holder.replaceChildren(el("p", { class: "error" }, error.message));
    }
  });
  app.append(section("Simulate", el("div", { class: "filters" }, "dataset ", dataset, " episode ", episode, " warm-up rows ", warmup, note, " horizon ", horizon, run), holder));
  app.append(section("Config", el("pre", {}, JSON.stringify(m.config, null, 2))));
  if (dataset.value) run.click();  // a first picture: the training dataset's first episode
  body.dataset.ready = "1";
}

// ------------------------------------------------------------------------------------------ study
async function studyPage() {
  const name = body.dataset.name;
  const s = await api(`/api/studies/${name}`);
  app.replaceChildren(el("h1", {}, `Study ${name}`));
  const done = s.trials.filter((t) => t.value !== null && t.value !== undefined);
  if (done.length) {
    const box = el("div");
    app.append(section("Optimisation history", box));
    let best = Infinity;
    const xs = done.map((t) => t.number), values = done.map((t) => t.value);
    const bests = values.map((v) => (best = Math.min(best, v)));
    chart(box, `objective (${s.direction})`, xs, [{ label: "trial", values }, { label: "best so far", values: bests }], { xLabel: "trial", points: true, integerX: true });
  }
  const importance = Object.entries(s.importance || {});
  if (importance.length) {
    app.append(section("Parameter importance", table(["parameter", "importance"], importance.map(([k, v]) => [k, fmt(v)]), { id: "importance" })));
  }
  const params = [...new Set(s.trials.flatMap((t) => Object.keys(t.params || {})))];
  app.append(section("Trials", table(["trial", "state", "value", ...params, "seconds", "run", "model"], s.trials.map((t) => [fmt(t.number), badge(t.state), fmt(t.value),
    ...params.map((p) => fmt((t.params || {})[p])), fmt(t.duration_s), t.run ? link(`/runs/${t.run}`, "run") : "–", t.model_version ? link(`/models/${s.model_name}/${t.model_version}`, t.model_version.slice(0, 8)) : "–"]), { id: "trials" })));
  body.dataset.ready = "1";
}

const PAGES = { overview, objects, dataset: datasetPage, run: runPage, compare: comparePage, model: modelPage, study: studyPage };
PAGES[body.dataset.page]().catch((error) => { countError(error.message); body.dataset.ready = "1"; });
