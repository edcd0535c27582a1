// Prévisecours dashboard: a map with a time slider, a station view and a département view.
// Everything is fetched from the server that served this page (no CDN, no tiles, no fonts).
"use strict";

const PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
const GROUPEMENT_COLOURS = { NORD: "#1f4e9c", SUD: "#2a7f3f", EST: "#6a3d9a", CENTRE: "#3d3d3d" };
// Category colours come from the server (the territory's own, or a fixed palette by rank).
const PLOT_CONFIG = { displaylogo: false, responsive: true, locale: "fr", modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  meta: null,
  view: "map",
  layer: "commune",
  category: "ALL",
  frequency: "hour",
  period: 0,
  selected: null, // code of the area whose detail is open
  station: null,
  stationCategory: "ALL",
  geometry: {},
  stations: [],
  mapRequest: 0,
};

const $ = (selector) => document.querySelector(selector);

function fmt(value) {
  if (value === null || value === undefined) return "—";
  if (Number.isInteger(value)) return value.toLocaleString("fr-FR"); // quantiles are counts
  // Small expected counts (a commune's hour) keep two significant digits, not "0,00".
  if (Math.abs(value) < 1) return value.toLocaleString("fr-FR", { maximumSignificantDigits: 2 });
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  return value.toLocaleString("fr-FR", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// Plotly.js (4.8 MB) is only needed by the charts: load it on first use, so the map is ready
// without waiting for it. Registered with a French locale (months, days, decimal comma).
let plotlyLoading = null;
function plotly() {
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = el("script", { src: "/vendor/plotly.min.js" });
      script.addEventListener("load", () => {
        Plotly.register({ moduleType: "locale", name: "fr", dictionary: {}, format: FRENCH });
        resolve(window.Plotly);
      });
      script.addEventListener("error", () => reject(new Error("Plotly.js n'a pas pu être chargé")));
      document.head.append(script);
    });
  }
  return plotlyLoading;
}

const FRENCH = {
  days: ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
  shortDays: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
  months: ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
  shortMonths: ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
  date: "%d/%m/%Y",
  decimal: ",",
  thousands: " ",
};

function interval(low, high) {
  return `${fmt(low)} – ${fmt(high)}`;
}

function percent(value) {
  if (value === null || value === undefined) return "—";
  return `${(100 * value).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} %`;
}

function wallTime(iso) {
  // Plotly's date axes ignore offsets: plot the territory's wall-clock time.
  return iso.slice(0, 16).replace("T", " ");
}

function el(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText);
  return body;
}

function showMessage(text) {
  const box = $("#message");
  box.textContent = text;
  box.hidden = !text;
}

function report(error) {
  showMessage(error instanceof ApiError ? error.message : `Erreur : ${error.message}`);
}

// ---- provenance (always visible) -----------------------------------------------------------

function renderProvenance(meta) {
  $("#territory-label").textContent = meta.territory.label;
  $("#meta-model").textContent = `${meta.model.name} v${meta.model.version}`;
  $("#meta-data").textContent = meta.data_label;
  $("#meta-data").title = `version complète : ${meta.data_version}`;
  $("#meta-window").textContent = meta.window.label || "—";
  $("#window-note").textContent = meta.window.note;
  $("#window-note").hidden = !meta.window.note;
  $("#meta-issued").textContent = `${meta.issued_label} (${meta.timezone})`;
  const warnings = $("#warnings");
  warnings.replaceChildren(...meta.warnings.map((text) => el("li", {}, text)));
  warnings.hidden = !meta.warnings.length;
  const words = meta.presentation;
  $("#credits").textContent = words.credits;
  $("#tab-total").textContent = words.total_label;
  for (const [id, text] of [["#map-note", meta.opening.note], ["#crews-note", meta.crews_note]]) {
    $(id).textContent = text;
    $(id).hidden = !text;
  }
  const inputs = $("#meta-inputs");
  inputs.replaceChildren();
  if (!meta.inputs.length) inputs.textContent = "non renseignée";
  for (const input of meta.inputs) {
    const item = el("span", { class: input.stale ? "stale" : "" });
    item.textContent = `${input.name} : ${input.label}${input.age ? ` (${input.age})` : ""}`;
    inputs.append(item);
  }
}

// ---- map -----------------------------------------------------------------------------------

function levelOf(key) {
  return state.meta.levels.find((l) => l.key === key) || { key, label: key, layer: key };
}

function periodsOf(frequency) {
  return state.meta.frequencies.find((f) => f.key === frequency).periods;
}

async function loadGeometry(layer) {
  if (!state.geometry[layer]) state.geometry[layer] = await api(`/api/geometry/${layer}`);
  return state.geometry[layer];
}

function drawMap(geometry) {
  const map = $("#map");
  map.setAttribute("viewBox", geometry.viewBox);
  map.replaceChildren();
  const areas = svg("g", { id: "areas" });
  for (const shape of geometry.shapes) {
    const node = geometry.kind === "polygons"
      ? svg("path", { d: shape.d })
      : svg("circle", { cx: shape.x, cy: shape.y, r: shape.r });
    node.setAttribute("class", "area");
    node.dataset.code = shape.code;
    node.dataset.name = shape.name;
    node.append(svg("title"));
    node.addEventListener("click", () => openDetail(shape.code));
    areas.append(node);
  }
  map.append(areas);
  map.append(drawStations());
}

function drawStations() {
  const group = svg("g", { id: "stations" });
  for (const station of state.stations) {
    const fill = GROUPEMENT_COLOURS[station.groupement] || "#777";
    let node;
    if (station.type === "CSP") {
      node = svg("rect", { x: station.x - 6, y: station.y - 6, width: 12, height: 12 });
    } else if (station.type === "CPI") {
      const { x, y } = station;
      node = svg("polygon", { points: `${x},${y - 6} ${x + 6},${y + 5} ${x - 6},${y + 5}` });
    } else {
      node = svg("circle", { cx: station.x, cy: station.y, r: 5 });
    }
    node.setAttribute("class", "station");
    node.setAttribute("fill", fill);
    node.dataset.code = station.code;
    const title = svg("title");
    title.textContent = `${station.name} — ${station.type}, groupement ${station.groupement}`;
    node.append(title);
    node.addEventListener("click", (event) => {
      event.stopPropagation();
      openStation(station.code);
    });
    group.append(node);
  }
  return group;
}

function renderLegend(breaks) {
  const legend = $("#legend");
  legend.replaceChildren();
  const unit = { hour: "/ heure", day: "/ jour", week: "/ semaine" }[state.frequency];
  state.meta.classes.forEach((label, i) => {
    const low = i === 0 ? 0 : breaks[i - 1];
    const range = i < 4 ? `${fmt(low)} – ${fmt(breaks[i])}` : `> ${fmt(breaks[3])}`;
    const item = el("span", { "data-class": i });
    item.append(el("span", { class: "swatch", style: `background:${PALETTE[i]}` }));
    item.append(document.createTextNode(`${label} (${range} ${unit})`));
    legend.append(item);
  });
  if (!state.stations.length) return;
  legend.append(el("span", {}, "■ CSP  ● CS  ▲ CPI ; couleur = groupement : "));
  for (const name of new Set(state.stations.map((s) => s.groupement))) {
    legend.append(el("span", { style: `color:${GROUPEMENT_COLOURS[name] || "#777"};font-weight:700` }, name));
  }
}

function renderTable(areas) {
  const body = $("#area-table tbody");
  const rows = [...areas].sort((a, b) => b.mean - a.mean || a.code.localeCompare(b.code));
  body.replaceChildren(
    ...rows.map((area) => {
      const row = el("tr", { "data-code": area.code });
      row.append(el("td", {}, area.code), el("td", {}, area.name));
      const mean = el("td", { class: "num", "data-value": area.mean }, fmt(area.mean));
      row.append(mean, el("td", { class: "num" }, interval(area.p10, area.p90)));
      row.append(el("td", {}, state.meta.classes[area.class]));
      row.addEventListener("click", () => openDetail(area.code));
      return row;
    }),
  );
  const layer = levelOf(state.layer).label;
  $("#table-title").textContent = `Interventions attendues par ${layer} — ${$("#period-label").textContent}`;
}

async function refreshMap() {
  const request = ++state.mapRequest;
  const query = new URLSearchParams({
    level: state.layer, category: state.category, frequency: state.frequency, period: state.period,
  });
  const data = await api(`/api/map?${query}`);
  if (request !== state.mapRequest) return; // a newer slider position has been asked for
  const byCode = new Map(data.areas.map((a) => [a.code, a]));
  for (const node of document.querySelectorAll("#map .area")) {
    const area = byCode.get(node.dataset.code);
    node.setAttribute("fill", area ? PALETTE[area.class] : "#e4e4e4");
    node.dataset.mean = area ? area.mean : "";
    node.querySelector("title").textContent = area
      ? `${node.dataset.name} : ${fmt(area.mean)} attendues (${interval(area.p10, area.p90)})`
      : `${node.dataset.name} : pas de prévision`;
  }
  renderLegend(data.breaks);
  renderTable(data.areas);
  updateExportLink();
  $("#map").dataset.period = state.period;
  if (state.selected) await openDetail(state.selected);
}

function setPeriodLabel() {
  const period = periodsOf(state.frequency)[state.period];
  $("#period-label").textContent = period.label;
  const category = state.meta.categories.find((c) => c.key === state.category).label;
  const layer = levelOf(state.layer).layer;
  $("#print-selection").textContent = `${layer} — ${category} — ${period.label}`;
}

async function setLayer(layer) {
  state.layer = layer;
  state.selected = null;
  $("#detail").hidden = true;
  drawMap(await loadGeometry(layer));
  await refreshMap();
}

function setFrequency(frequency) {
  const periods = periodsOf(frequency);
  state.frequency = frequency;
  state.period = Math.min(state.period, periods.length - 1);
  const slider = $("#period");
  slider.max = periods.length - 1;
  slider.value = state.period;
  setPeriodLabel();
}

// ---- detail panel --------------------------------------------------------------------------

async function openDetail(code) {
  state.selected = code;
  for (const node of document.querySelectorAll("#map .area")) {
    node.classList.toggle("selected", node.dataset.code === code);
  }
  const query = new URLSearchParams({ category: state.category, frequency: state.frequency, period: state.period });
  let detail;
  try {
    detail = await api(`/api/area/${state.layer}/${encodeURIComponent(code)}?${query}`);
  } catch (error) {
    report(error);
    return;
  }
  const panel = $("#detail");
  panel.replaceChildren();
  const close = el("button", { class: "close", type: "button", "aria-label": "Fermer" }, "×");
  close.addEventListener("click", () => {
    panel.hidden = true;
    state.selected = null;
  });
  panel.append(close, el("h2", {}, `${detail.name} (${detail.code})`));
  panel.append(el("p", { class: "note" }, `${detail.level_label} — ${detail.category} — ${detail.period.label}`));
  const expected = el("p", { class: "expected", id: "detail-mean" }, `${fmt(detail.mean)} interventions attendues`);
  panel.append(expected);
  panel.append(el("p", { id: "detail-interval" }, `Intervalle à 80 % : ${interval(detail.p10, detail.p90)} — classe « ${detail.class} »`));
  panel.append(el("h3", {}, "Références historiques"));
  const refs = el("ul");
  refs.append(el("li", {}, `Même période, moyenne sur 3 ans : ${fmt(detail.ref_3y_mean)}`));
  const same = detail.ref_same_weeks;
  refs.append(el("li", {}, same
    ? `Mêmes semaines ±2 (${same.years.join(", ")}) : ${fmt(same.mean)}`
    : `Mêmes semaines ±2 sur 3 ans : non disponible${state.meta.history.available ? " (historique trop court)" : " (pas d'historique)"}`));
  panel.append(refs);
  panel.append(el("h3", {}, "Principaux facteurs"));
  if (detail.drivers.items.length) {
    const list = el("ul", { id: "drivers" });
    for (const item of detail.drivers.items) list.append(el("li", {}, item.text));
    panel.append(list);
    if (detail.drivers.scope) panel.append(el("p", { class: "note" }, `(${detail.drivers.scope})`));
  } else {
    panel.append(el("p", { class: "note" }, "Non fournis avec cette prévision."));
  }
  if (detail.zones.length) {
    const line = el("p", { class: "note zones" }, "Zones de premier appel : ");
    for (const zone of detail.zones.filter((z) => z.share_pct >= 1)) {
      const link = el("a", { href: "#", "data-zone": zone.zone }, `${zone.zone} ${zone.share_pct.toLocaleString("fr-FR")} %`);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        openStation(zone.zone).catch(report);
      });
      line.append(link, " ");
    }
    panel.append(line);
  }
  if (detail.station) {
    const button = el("button", { type: "button", id: "open-station" }, "Voir le centre sur 7 jours");
    button.addEventListener("click", () => openStation(detail.station));
    panel.append(button);
  }
  panel.hidden = false;
}

// ---- station view --------------------------------------------------------------------------

async function openStation(code) {
  state.station = code;
  $("#station-select").value = code;
  showView("station");
  await refreshStation();
}

async function refreshStation() {
  if (!state.station) state.station = state.stations.find((s) => s.coverage_zone)?.code;
  const query = new URLSearchParams({ category: state.stationCategory });
  const data = await api(`/api/station/${encodeURIComponent(state.station)}?${query}`);
  const s = data.station;
  $("#station-title").textContent = `${s.name} (${s.type}, groupement ${s.groupement}) — ${data.category_label}, 7 jours heure par heure`;
  $("#station-note").textContent = data.note;
  $("#station-actuals-note").textContent = data.actuals ? "" : `Activité récente : ${data.actuals_note}`;
  const x = data.forecast.times.map(wallTime);
  const traces = [
    { x, y: data.forecast.p10, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, name: "10e centile" },
    {
      x, y: data.forecast.p90, mode: "lines", line: { width: 0 }, fill: "tonexty",
      fillcolor: "rgba(179,38,30,0.18)", name: "Intervalle à 80 %",
    },
    { x, y: data.forecast.mean, mode: "lines", line: { color: "#b3261e", width: 2 }, name: "Prévision (moyenne)" },
    referenceTrace(x, data.forecast.ref_3y),
  ];
  if (data.actuals) {
    traces.push({
      x: data.actuals.times.map(wallTime), y: data.actuals.counts, mode: "markers",
      marker: { color: "#1d2330", size: 4 }, name: "Réalisé (7 derniers jours)",
    });
  }
  const layout = {
    margin: { l: 50, r: 10, t: 10, b: 40 },
    yaxis: { title: { text: "interventions / heure" }, rangemode: "tozero" },
    legend: { orientation: "h", y: -0.15 },
    hovermode: "x unified",
  };
  await (await plotly()).react("station-chart", traces, layout, PLOT_CONFIG);
  renderStaffing(data.staffing, data.crews_known);
  $("#staffing-note").textContent = data.crews_note;
  $("#staffing-note").hidden = !data.crews_note;
  updateExportLink();
}

function referenceTrace(x, y) {
  return {
    x, y, mode: "lines", line: { color: "#5b6475", width: 1, dash: "dot" },
    name: "Même période, moyenne sur 3 ans",
  };
}

function renderStaffing(rows, crewsKnown) {
  // Without current crews (no staffing.current_crews_file) there is no saturation risk either:
  // both columns are hidden and a note says why, rather than two columns of "—".
  $("#staffing-table").classList.toggle("no-crews", !crewsKnown);
  const body = $("#staffing-table tbody");
  body.replaceChildren(
    ...rows.map((r) => {
      const row = el("tr", { class: r.saturation_risk !== null && r.saturation_risk >= 0.05 ? "risk-high" : "" });
      row.append(
        el("td", {}, r.shift),
        el("td", {}, r.label),
        el("td", { class: "num" }, fmt(r.expected_interventions)),
        el("td", { class: "num" }, fmt(r.expected_peak_concurrency)),
        el("td", { class: "num" }, r.recommended_crews ?? "—"),
        el("td", { class: "num crews", title: r.current_crews === null ? "non renseignées pour ce centre" : "" }, r.current_crews ?? "—"),
        el("td", { class: "num crews", title: r.saturation_risk === null ? "non calculé : équipes actuelles inconnues" : "" }, percent(r.saturation_risk)),
      );
      return row;
    }),
  );
  if (!rows.length) {
    const row = el("tr");
    row.append(el("td", { colspan: crewsKnown ? 7 : 5 }, "Pas de recommandation d'équipes pour ce centre."));
    body.append(row);
  }
}

// ---- département view ----------------------------------------------------------------------

async function refreshDepartement() {
  const data = await api("/api/departement");
  const categories = data.categories.filter((c) => c.key !== "ALL");
  const x = data.days.map((d) => d.short);
  const bars = categories.map((c) => ({
    type: "bar", name: c.key, x, y: data.days.map((d) => d.values[c.key]?.mean ?? null),
    marker: { color: c.colour || "#888" },
  }));
  const total = state.meta.presentation.total_label;
  $("#dept-title").textContent = `${total} : totaux par ${data.grain_label} et par catégorie`;
  await (await plotly()).react("dept-daily-chart", bars, {
    barmode: "stack", margin: { l: 50, r: 10, t: 10, b: 60 },
    yaxis: { title: { text: `interventions / ${data.grain_label}` } }, legend: { orientation: "h", y: -0.25 },
  }, PLOT_CONFIG);

  const head = el("tr");
  head.append(el("th", {}, data.grain_label.charAt(0).toUpperCase() + data.grain_label.slice(1)));
  for (const c of data.categories) head.append(el("th", { class: "num", title: c.label }, c.key === "ALL" ? "Total" : c.key));
  $("#dept-table thead").replaceChildren(head);
  $("#dept-table tbody").replaceChildren(
    ...data.days.map((d) => {
      const row = el("tr");
      row.append(el("td", {}, d.label));
      for (const c of data.categories) {
        const v = d.values[c.key];
        row.append(el("td", { class: "num", title: v ? `intervalle à 80 % : ${interval(v.p10, v.p90)}` : "" }, v ? fmt(v.mean) : "—"));
      }
      return row;
    }),
  );
  $("#alerts").replaceChildren(
    ...(data.alerts.length
      ? data.alerts.map((a) => el("li", {}, `${a.label} — ${a.text} (${fmt(a.expected)} interventions attendues, ${fmt(a.usual)} habituellement)`))
      : [el("li", {}, "Aucun pic au-delà de l'habituel sur l'horizon.")]),
  );
  $("#peaks").replaceChildren(
    ...data.peaks.map((p) => el("li", {}, `${p.label} : ${fmt(p.mean)} interventions attendues (80 % : ${interval(p.p10, p.p90)})`)),
  );
  $("#dept-actuals-note").textContent = data.actuals ? "" : `Activité récente : ${data.actuals_note}`;
  const hourly = data.hourly.times.length > 0;
  $("#peaks-title").textContent = hourly ? "Heures de pointe" : `Périodes de pointe (par ${data.grain_label})`;
  $("#dept-hourly").hidden = !hourly;
  if (!hourly) {
    updateExportLink();
    return;
  }
  const hx = data.hourly.times.map(wallTime);
  await (await plotly()).react("dept-hourly-chart", [
    { x: hx, y: data.hourly.p10, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
    { x: hx, y: data.hourly.p90, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(179,38,30,0.18)", name: "Intervalle à 80 %" },
    { x: hx, y: data.hourly.mean, mode: "lines", line: { color: "#b3261e" }, name: "Prévision" },
    referenceTrace(hx, data.hourly.ref_3y),
    ...(data.actuals ? [{
      x: data.actuals.times.map(wallTime), y: data.actuals.counts, mode: "markers",
      marker: { color: "#1d2330", size: 4 }, name: "Réalisé (7 derniers jours)",
    }] : []),
  ], { margin: { l: 50, r: 10, t: 10, b: 40 }, yaxis: { title: { text: "interventions / heure" }, rangemode: "tozero" }, legend: { orientation: "h", y: -0.15 } }, PLOT_CONFIG);
  updateExportLink();
}

// ---- views, export, print ------------------------------------------------------------------

function showView(view) {
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.dataset.view !== view;
  for (const tab of document.querySelectorAll("#tabs [data-view]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  updateExportLink();
}

function updateExportLink() {
  const link = $("#export");
  if (state.view === "map") {
    const query = new URLSearchParams({ level: state.layer, category: state.category, frequency: state.frequency, period: state.period });
    link.href = `/api/export/map.csv?${query}`;
  } else if (state.view === "station" && state.station) {
    link.href = `/api/export/station/${encodeURIComponent(state.station)}.csv?category=${state.stationCategory}`;
  } else {
    link.href = "/api/export/departement.csv";
  }
}

function fillSelect(select, options, value) {
  select.replaceChildren(...options.map((o) => el("option", { value: o.key }, o.label)));
  select.value = value;
}

function wireControls() {
  for (const tab of document.querySelectorAll("#tabs [data-view]")) {
    tab.addEventListener("click", async () => {
      showView(tab.dataset.view);
      try {
        if (tab.dataset.view === "station") await refreshStation();
        if (tab.dataset.view === "departement") await refreshDepartement();
      } catch (error) {
        report(error);
      }
    });
  }
  $("#layer").addEventListener("change", (e) => setLayer(e.target.value).catch(report));
  $("#category").addEventListener("change", (e) => {
    state.category = e.target.value;
    setPeriodLabel();
    refreshMap().catch(report);
  });
  $("#frequency").addEventListener("change", (e) => {
    setFrequency(e.target.value);
    refreshMap().catch(report);
  });
  $("#period").addEventListener("input", (e) => {
    state.period = Number(e.target.value);
    setPeriodLabel();
    refreshMap().catch(report);
  });
  $("#station-select").addEventListener("change", (e) => openStation(e.target.value).catch(report));
  $("#station-category").addEventListener("change", (e) => {
    state.stationCategory = e.target.value;
    refreshStation().catch(report);
  });
  $("#print").addEventListener("click", () => window.print());
}

async function start() {
  wireControls();
  let meta;
  try {
    meta = await api("/api/meta");
  } catch (error) {
    report(error);
    document.querySelector("main").hidden = true;
    return;
  }
  state.meta = meta;
  // Open on the finest level and grain the forecast has (communes by hour, when it has them).
  state.layer = meta.opening.level;
  state.frequency = meta.opening.frequency;
  if (!meta.frequencies.some((f) => f.key === state.frequency)) state.frequency = meta.frequencies[0].key;
  renderProvenance(meta);
  fillSelect($("#category"), meta.categories, state.category);
  fillSelect($("#station-category"), meta.categories, state.stationCategory);
  fillSelect($("#frequency"), meta.frequencies, state.frequency);
  state.stations = await api("/api/stations");
  // A territory without stations (or without a coverage-zone forecast) shows neither.
  $("#tabs [data-view=station]").hidden = !state.stations.length;
  fillSelect($("#layer"), meta.levels.map((l) => ({ key: l.key, label: l.layer })), state.layer);
  fillSelect(
    $("#station-select"),
    state.stations.map((s) => ({ key: s.code, label: `${s.name} (${s.type})` })),
    state.stations.find((s) => s.coverage_zone)?.code,
  );
  setFrequency(state.frequency);
  await setLayer(state.layer);
  document.body.dataset.ready = "true";
  plotly().catch(report); // fetch the charts' library while the planner reads the map
}

document.addEventListener("DOMContentLoaded", () => start().catch(report));
