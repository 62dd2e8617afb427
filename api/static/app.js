// The page's whole logic: upload as a job (POST /jobs), follow its progress (Server-Sent Events
// read with fetch, because EventSource cannot send an Authorization header; polling if the
// stream breaks), then draw the answer. No framework and no build step: the gateway may run
// where there is no internet.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "deepfake-gateway-token";
const POLL_MS = 700;
const MAX_CROPS = 48;
const SERIES_COLOURS = ["#2458c6", "#8e44ad", "#16a085", "#d35400", "#7f8c8d"];

const state = { file: null, job: null, xhr: null, stream: null, run: 0 };

// --- requests ------------------------------------------------------------------------------

function authHeaders() {
  const token = $("token").value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

function jobsQuery() {
  // Crops are small JPEGs; the page shows what was scored.
  const params = new URLSearchParams({ include: "crops" });
  if ($("fps").value) params.set("fps", $("fps").value);
  if ($("max-frames").value) params.set("max_frames", $("max-frames").value);
  return "?" + params.toString();
}

function jobUrl(id, suffix = "") {
  return "jobs/" + encodeURIComponent(id) + suffix;
}

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.error) || "HTTP " + status);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// XMLHttpRequest rather than fetch: only it reports upload progress.
function uploadJob(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    state.xhr = xhr;
    xhr.open("POST", "jobs" + jobsQuery());
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const body = parseJson(xhr.responseText);
      if (xhr.status === 202 && body) resolve(body);
      else reject(new ApiError(xhr.status, body, xhr.getResponseHeader("Retry-After")));
    };
    xhr.onerror = () => reject(new ApiError(0, null, null));
    xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

async function fetchJson(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { ...options, headers: authHeaders() });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, null, null);
  }
  const body = response.status === 204 ? null : parseJson(await response.text());
  if (!response.ok) throw new ApiError(response.status, body, response.headers.get("Retry-After"));
  return body;
}

// Calls onJob with every job state the event stream sends; resolves once onJob says the job
// has ended, or when the stream closes early (then the caller polls).
async function streamEvents(id, onJob, signal) {
  const response = await fetch(jobUrl(id, "/events"), { headers: authHeaders(), signal });
  if (!response.ok) {
    throw new ApiError(response.status, parseJson(await response.text()), null);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data && onJob(JSON.parse(data))) {
        reader.cancel().catch(() => {});
        return true;
      }
    }
  }
}

async function pollJob(id, onJob, run) {
  while (run === state.run) {
    if (onJob(await fetchJson(jobUrl(id)))) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// --- the flow ------------------------------------------------------------------------------

async function check(file) {
  const run = ++state.run;
  stopFollowing();
  state.job = null;
  showError(null);
  $("result").hidden = true;
  $("progress-card").hidden = false;
  $("cancel").disabled = false;
  $("start").disabled = true;
  setProgress("Uploading " + file.name, 0);
  try {
    const job = await uploadJob(file, (part) =>
      setProgress("Uploading " + file.name + ": " + Math.round(part * 100) + "%", part * 100),
    );
    if (run !== state.run) return;
    state.xhr = null;
    state.job = job;
    const onJob = (update) => run === state.run && showJob(update);
    if (!showJob(job)) await follow(job.id, onJob, run);
  } catch (error) {
    if (run !== state.run || error.name === "AbortError") return;
    $("progress-card").hidden = true;
    showError(error);
  } finally {
    if (run === state.run) {
      $("start").disabled = !state.file;
      $("cancel").disabled = true;
    }
  }
}

async function follow(id, onJob, run) {
  state.stream = new AbortController();
  try {
    if (await streamEvents(id, onJob, state.stream.signal)) return;
  } catch (error) {
    if (error.name === "AbortError" || error instanceof ApiError) throw error;
    // The stream broke (a proxy, a network blip): fall back to asking.
  }
  await pollJob(id, onJob, run);
}

function stopFollowing() {
  if (state.xhr) state.xhr.abort();
  if (state.stream) state.stream.abort();
  state.xhr = state.stream = null;
}

async function cancel() {
  const job = state.job;
  state.run++;
  stopFollowing();
  $("cancel").disabled = true;
  $("start").disabled = !state.file;
  setProgress("Cancelled", 0);
  if (!job) return;
  try {
    await fetchJson(jobUrl(job.id), { method: "DELETE" });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) showError(error);
  }
}

// Shows one job state; true once the job has ended.
function showJob(job) {
  state.job = job;
  const progress = job.progress || {};
  if (job.status === "queued") {
    setProgress("Waiting in the queue" + (job.queue_position ? " (position " + job.queue_position + ")" : ""), null);
    return false;
  }
  if (job.status === "running") {
    const frames = progress.frames || 0;
    const text = progress.expected_frames
      ? "Analysing frames: " + frames + " of " + progress.expected_frames + " (" + Math.round(progress.percent) + "%)"
      : "Analysing frames: " + frames;
    setProgress(text, progress.percent ?? null);
    return false;
  }
  $("cancel").disabled = true;
  if (job.status === "done") {
    setProgress("Done: " + (job.filename || "video"), 100);
    showResult(job.result);
  } else if (job.status === "failed") {
    $("progress-card").hidden = true;
    showError(new ApiError(job.error_status || 500, job.error, null));
  } else {
    setProgress("Cancelled", 0);
  }
  return true;
}

function setProgress(text, percent) {
  $("status").textContent = text;
  const bar = $("progress");
  if (percent === null || percent === undefined) bar.removeAttribute("value");
  else bar.value = percent;
}

// --- errors in plain words -----------------------------------------------------------------

const PLAIN = {
  unauthorized: "This server needs an access token. Paste it into “Access token” and check again.",
  queue_full: "Too many videos are waiting on this server.",
  overloaded: "The server is busy with other videos.",
  file_too_large: "The file is larger than this server accepts.",
  unsupported_media: "This file cannot be read as a video.",
  empty_file: "The file is empty.",
  no_face_detected: "No face was found in the video.",
  invalid_request: "One of the options is not valid.",
  backend_unavailable: "The model server is not available right now.",
  backend_circuit_open: "The model server is failing; the gateway is giving it a moment.",
  backend_timeout: "The model server took too long to answer.",
  backend_error: "The model server failed on this video.",
  backend_bad_response: "The model server gave an answer that makes no sense.",
};

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    return;
  }
  let title;
  let detail = "";
  let code = "";
  if (error instanceof ApiError && error.status === 0) {
    title = "The gateway could not be reached. Check that it is running and try again.";
  } else if (error instanceof ApiError) {
    code = (error.body && error.body.code) || "";
    title = PLAIN[code] || "The server could not check this video (HTTP " + error.status + ").";
    detail = (error.body && error.body.error) || "";
    if (error.retryAfter) detail += " Try again in " + error.retryAfter + " s.";
  } else {
    title = "Something went wrong in this page.";
    detail = String(error && error.message ? error.message : error);
  }
  $("error-title").textContent = title;
  $("error-detail").textContent = detail.trim();
  $("error-code").textContent = code ? "code: " + code + (error.status ? ", HTTP " + error.status : "") : "";
  box.hidden = false;
  if (code === "unauthorized") $("token").focus();
}

// --- the answer ----------------------------------------------------------------------------

const VERDICT_TEXT = { fake: "Likely fake", real: "Likely real", uncertain: "Uncertain" };

function percent(x) {
  return (x * 100).toFixed(1) + "%";
}

function showResult(answer) {
  const verdict = answer.verdict || answer.label || "none";
  const box = $("verdict");
  box.textContent = VERDICT_TEXT[verdict] || "No verdict";
  box.dataset.verdict = verdict;
  const score = typeof answer.score === "number" ? answer.score : null;
  $("score").textContent =
    (score === null ? "No score" : "Score " + score.toFixed(3) + " (P(fake))") +
    " · threshold " + answer.threshold.toFixed(3);
  const meta = answer.meta || {};
  const facts = [
    "face in " + meta.face_frames + " of " + meta.sampled_frames + " sampled frames",
    answer.model + " v" + answer.version + " (" + answer.backend + ")",
    (answer.latency_ms / 1000).toFixed(1) + " s",
  ];
  $("facts").textContent = facts.join(" · ");
  showReasons(answer.reasons);
  showProvenance(answer.provenance);
  showCoverage(answer.coverage);
  drawChart($("chart"), answer);
  showCrops(answer);
  $("result").hidden = false;
}

function showReasons(reasons) {
  const list = $("reasons");
  list.replaceChildren();
  for (const reason of Array.isArray(reasons) ? reasons : []) {
    const item = document.createElement("li");
    if (typeof reason === "string") {
      item.textContent = reason;
    } else {
      item.append(reason.message || "");
      if (reason.code) {
        const code = document.createElement("code");
        code.textContent = " " + reason.code;
        item.append(code);
      }
    }
    list.append(item);
  }
  $("reasons-box").hidden = list.children.length === 0;
}

// The file's own declarations (C2PA manifest, XMP, watermarks): who signed, when, what was
// declared, whether the signature holds and whether the signer is trusted. Hidden for answers
// of gateways that do not read provenance.
function provenanceEntries(p) {
  const entries = [];
  const c2pa = p.c2pa;
  if (c2pa) {
    const signer = c2pa.signer || {};
    entries.push(["signed by", [signer.common_name, signer.issuer].filter(Boolean).join(", ") || "unnamed signer"]);
    entries.push(["signed at", c2pa.signed_at || "no time-stamp"]);
    const errors = (c2pa.validation_errors || []).map((e) => e.code).join(", ");
    entries.push(["signature", c2pa.validation === "valid" ? "valid" : "invalid" + (errors ? " (" + errors + ")" : "")]);
    entries.push(["trusted signer", c2pa.trusted ? "yes" : "no (not in this server's trust anchors)"]);
    const declared = (c2pa.actions || []).map((a) =>
      shortName(a.action) + (a.digital_source_type ? ": " + shortName(a.digital_source_type) : ""));
    entries.push(["declared", declared.join("; ") || "no actions"]);
    if (c2pa.claim_generator) entries.push(["made with", c2pa.claim_generator]);
    const ingredients = c2pa.ingredients || {};
    if (ingredients.count) {
      entries.push(["ingredients", ingredients.count + (ingredients.ai_generated ? ", one declared AI-generated" : "")]);
    }
  }
  if (p.xmp) entries.push(["XMP declares", (p.xmp.digital_source_types || []).map(shortName).join(", ")]);
  const marks = (p.watermarks || []).map((w) => w.kind + (w.payload ? " (" + w.payload + ")" : ""));
  entries.push(["watermarks", marks.join(", ") || "none found (re-encoding erases them: absence proves nothing)"]);
  if (p.error) entries.push(["could not read", p.error.message + " (" + p.error.code + ")"]);
  return entries;
}

// "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia" -> the last part.
function shortName(value) {
  return String(value).split(/[/#]/).pop().replace(/^c2pa\./, "");
}

function showProvenance(p) {
  const box = $("provenance-box");
  if (!p || typeof p !== "object") {
    box.hidden = true;
    return;
  }
  box.dataset.summary = p.summary || "";
  $("provenance-message").textContent = p.message || "";
  const list = $("provenance");
  list.replaceChildren();
  for (const [name, value] of provenanceEntries(p)) {
    const term = document.createElement("dt");
    term.textContent = name;
    const text = document.createElement("dd");
    text.textContent = value;
    list.append(term, text);
  }
  box.hidden = false;
}

function showCoverage(coverage) {
  const list = $("coverage");
  list.replaceChildren();
  const entries =
    typeof coverage === "number"
      ? [["frames with a usable face", percent(coverage)]]
      : Object.entries(coverage && typeof coverage === "object" ? coverage : {});
  for (const [name, value] of entries) {
    if (value === null || typeof value === "object") continue;
    const term = document.createElement("dt");
    term.textContent = name.replaceAll("_", " ");
    const text = document.createElement("dd");
    text.textContent = typeof value === "number" ? String(+value.toFixed(3)) : String(value);
    list.append(term, text);
  }
  $("coverage-box").hidden = list.children.length === 0;
}

// Only images that arrive inside the answer (data: URLs or base64), never other addresses.
function cropSource(value) {
  if (typeof value !== "string") return null;
  if (value.startsWith("data:image/")) return value;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return "data:image/jpeg;base64," + value;
  return null;
}

function collectCrops(answer) {
  const crops = [];
  for (const item of Array.isArray(answer.crops) ? answer.crops : []) {
    const value = typeof item === "string" ? item : item && (item.crop || item.image || item.jpeg);
    crops.push({ src: cropSource(value), t: item && item.t, score: item && item.score });
  }
  for (const frame of Array.isArray(answer.frames) ? answer.frames : []) {
    for (const face of frame.faces || []) {
      crops.push({ src: cropSource(face.crop), t: frame.t, score: face.score });
    }
  }
  return crops.filter((crop) => crop.src).slice(0, MAX_CROPS);
}

function showCrops(answer) {
  const box = $("crops");
  box.replaceChildren();
  for (const crop of collectCrops(answer)) {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = crop.src;
    image.alt = "face crop";
    const caption = document.createElement("figcaption");
    const when = typeof crop.t === "number" ? crop.t.toFixed(2) + " s" : "";
    const score = typeof crop.score === "number" ? " · " + crop.score.toFixed(2) : "";
    caption.textContent = when + score;
    figure.append(image, caption);
    box.append(figure);
  }
  $("crops-box").hidden = box.children.length === 0;
}

// --- the chart: frame score against time, with the threshold -------------------------------

function svg(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function niceStep(span, ticks) {
  const raw = span / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) || raw;
}

// One series per tracked person when the answer tells faces apart; else the original
// frame_samples (the largest face per frame).
function chartSeries(answer) {
  const tracks = new Map();
  for (const frame of Array.isArray(answer.frames) ? answer.frames : []) {
    for (const face of frame.faces || []) {
      if (typeof face.track !== "number") continue;
      if (!tracks.has(face.track)) tracks.set(face.track, []);
      tracks.get(face.track).push({ t: frame.t, score: face.score });
    }
  }
  if (tracks.size > 1) {
    return [...tracks].map(([id, points]) => ({ name: "face " + id, points }));
  }
  return [{ name: "frame score", points: answer.frame_samples || [] }];
}

function drawChart(container, answer) {
  const W = 720, H = 270, L = 46, R = 16, T = 24, B = 38;
  const meta = answer.meta || {};
  const series = chartSeries(answer);
  const times = series.flatMap((s) => s.points.map((p) => p.t));
  const duration = meta.src_fps > 0 && meta.total_frames > 0 ? meta.total_frames / meta.src_fps : 0;
  const xMax = Math.max(duration, ...times, 0.001);
  const x = (t) => L + (t / xMax) * (W - L - R);
  const y = (score) => T + (1 - score) * (H - T - B);
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `Score of each sampled frame over ${xMax.toFixed(1)} s, threshold ${answer.threshold}`,
  });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    chart.append(svg("text", { class: "axis-label", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(2)));
  }
  const step = niceStep(xMax, 6);
  for (let t = 0; t <= xMax + 1e-9; t += step) {
    chart.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: T, y2: H - B }));
    chart.append(svg("text", { class: "axis-label", x: x(t), y: H - B + 15, "text-anchor": "middle" }, +t.toFixed(2) + " s"));
  }
  chart.append(svg("text", { class: "axis-label", x: W - R, y: H - 4, "text-anchor": "end" }, "time in the video"));
  chart.append(svg("text", { class: "axis-label", x: 4, y: 11 }, "P(fake)"));
  const threshold = svg("line", {
    class: "threshold", x1: L, x2: W - R, y1: y(answer.threshold), y2: y(answer.threshold),
    "data-value": answer.threshold,
  });
  chart.append(threshold);
  chart.append(svg("text", { class: "threshold-label", x: W - R - 4, y: y(answer.threshold) - 5, "text-anchor": "end" },
    "threshold " + answer.threshold.toFixed(2)));
  // Samples further apart than the sampling step are frames without a face: leave a gap.
  const gap = meta.src_fps > 0 && meta.used_step ? (1.5 * meta.used_step) / meta.src_fps : Infinity;
  series.forEach((s, i) => drawSeries(chart, s, SERIES_COLOURS[i % SERIES_COLOURS.length], x, y, gap));
  if (series.length > 1) {
    series.forEach((s, i) => {
      chart.append(svg("text", { class: "legend", x: L + 8 + i * 80, y: T + 12, fill: SERIES_COLOURS[i % SERIES_COLOURS.length] }, s.name));
    });
  }
  if (times.length === 0) {
    chart.append(svg("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, "No face was scored"));
  }
  container.replaceChildren(chart);
}

function drawSeries(chart, series, colour, x, y, gap) {
  let d = "";
  let last = null;
  for (const p of series.points) {
    d += (last === null || p.t - last > gap ? "M" : "L") + x(p.t).toFixed(1) + " " + y(p.score).toFixed(1) + " ";
    last = p.t;
  }
  chart.append(svg("path", { class: "series", d: d.trim(), stroke: colour, "data-name": series.name }));
  for (const p of series.points) {
    const dot = svg("circle", { class: "point", cx: x(p.t).toFixed(1), cy: y(p.score).toFixed(1), r: 3.5, fill: colour });
    dot.append(svg("title", {}, p.t.toFixed(2) + " s: " + p.score.toFixed(3)));
    chart.append(dot);
  }
}

// --- wiring --------------------------------------------------------------------------------

function choose(file) {
  if (!file) return;
  state.file = file;
  $("file-name").textContent = file.name + " (" + (file.size / 2 ** 20).toFixed(1) + " MB)";
  check(file);
}

function wire() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) $("token").value = token;
  $("token").addEventListener("change", () => sessionStorage.setItem(TOKEN_KEY, $("token").value.trim()));
  $("file").addEventListener("change", () => choose($("file").files[0]));
  $("start").addEventListener("click", () => state.file && check(state.file));
  $("cancel").addEventListener("click", cancel);
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
}

wire();
