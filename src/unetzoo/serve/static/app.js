// unetzoo serve: drop images, see each mask overlaid, download the mask PNG. No dependencies, works offline.
"use strict";

const PALETTE = [[230, 0, 200], [0, 200, 90], [255, 160, 0], [0, 140, 255], [240, 40, 40], [150, 90, 255]];
const MAX_RETRIES = 60;

const $ = (selector) => document.querySelector(selector);
const state = { card: null, items: [], queue: Promise.resolve() };

function formatInt(n) {
  return Number(n).toLocaleString("en-US");
}

function formatBytes(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(n % 1048576 ? 1 : 0)} MiB` : `${Math.round(n / 1024)} KiB`;
}

// -- model card -----------------------------------------------------------------------------------------
function addRow(dl, term, value, section = false) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  if (section) {
    dt.className = "section";
    dl.append(dt);
    return;
  }
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

function showCard(card) {
  const dl = $("#card-body");
  dl.replaceChildren();
  $("#model-name").textContent = `${card.model}${card.preset ? ` (${card.preset})` : ""} · ${card.engine}`;
  addRow(dl, "model", card.model + (card.preset ? ` / ${card.preset}` : ""));
  addRow(dl, "engine", card.engine + (card.int8 ? " (INT8)" : ""));
  if (card.file) addRow(dl, "file", card.file);
  if (card.params != null) addRow(dl, "parameters", formatInt(card.params));
  if (card.gmacs != null) addRow(dl, "GMACs", String(card.gmacs));
  addRow(dl, "classes", card.classes === 1 ? `${card.class_names.join(" / ")} (binary)` : card.class_names.join(", "));
  addRow(dl, "threshold", String(card.threshold));
  const metrics = Object.entries(card.metrics || {});
  if (metrics.length) {
    addRow(dl, "Validation", "", true);
    for (const [key, value] of metrics) {
      const shown = typeof value === "number" && !Number.isInteger(value) ? value.toFixed(4) : String(value);
      addRow(dl, key.replace(/^val_/, ""), shown);
    }
  }
  const input = card.input;
  addRow(dl, "Input", "", true);
  addRow(dl, "channels", String(input.channels));
  addRow(dl, "formats", input.formats.join(", "));
  addRow(dl, "max file", formatBytes(input.max_upload_bytes));
  addRow(dl, "max pixels", formatInt(input.max_pixels));
  if (input.note) addRow(dl, "size", input.note);
  $("#limits").textContent =
    `${input.formats.join(", ")} · up to ${formatBytes(input.max_upload_bytes)} and ` +
    `${formatInt(input.max_pixels)} pixels · ${input.channels}-channel model`;
}

async function loadCard() {
  try {
    const response = await fetch("/api/model");
    state.card = await response.json();
    showCard(state.card);
  } catch (err) {
    $("#model-name").textContent = `model card unavailable (${err})`;
  }
}

// -- requests ---------------------------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(url, file) {
  for (let attempt = 0; ; attempt++) {
    const form = new FormData();
    form.append("image", file, file.name);
    const response = await fetch(url, { method: "POST", body: form });
    if (response.status !== 429 || attempt >= MAX_RETRIES) return response;
    await sleep(1000 * Number(response.headers.get("Retry-After") || 1));
  }
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return body.message || body.error || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

// The original as the browser decodes it; TIFF and other formats it cannot show come from /api/preview.
async function baseBitmap(file) {
  try {
    return await createImageBitmap(file, { imageOrientation: "none" });
  } catch {
    const response = await post("/api/preview", file);
    if (!response.ok) throw new Error(await errorOf(response));
    return createImageBitmap(await response.blob());
  }
}

function pixelsOf(bitmap, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

// Mask PNG -> class ids (0/255 binary masks become 0/1) and the outline of each labelled region.
function decodeMask(data, width, height, binary) {
  const labels = new Uint8Array(width * height);
  for (let i = 0; i < labels.length; i++) {
    const v = data.data[4 * i];
    labels[i] = binary ? (v > 127 ? 1 : 0) : v;
  }
  const contour = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = labels[i];
      if (!v) continue;
      if (
        (x > 0 && labels[i - 1] !== v) ||
        (x < width - 1 && labels[i + 1] !== v) ||
        (y > 0 && labels[i - width] !== v) ||
        (y < height - 1 && labels[i + width] !== v)
      ) {
        contour[i] = 1;
      }
    }
  }
  return { labels, contour };
}

// -- rendering --------------------------------------------------------------------------------------------
function render(item) {
  if (!item.base) return;
  const alpha = Number($("#opacity").value) / 100;
  const contourMode = document.querySelector("input[name=mode]:checked").value === "contour";
  const { width, height } = item.canvas;
  const out = new ImageData(new Uint8ClampedArray(item.base.data), width, height);
  const px = out.data;
  for (let i = 0; i < item.labels.length; i++) {
    const label = item.labels[i];
    if (!label || (contourMode && !item.contour[i])) continue;
    const color = PALETTE[(label - 1) % PALETTE.length];
    for (let c = 0; c < 3; c++) px[4 * i + c] = (1 - alpha) * px[4 * i + c] + alpha * color[c];
  }
  item.canvas.getContext("2d").putImageData(out, 0, 0);
}

function renderAll() {
  state.items.forEach(render);
}

function setStatus(item, status, text) {
  item.node.dataset.status = status;
  item.node.querySelector(".status").textContent = text;
}

async function segment(item) {
  const { file, node } = item;
  const limit = state.card ? state.card.input.max_upload_bytes : Infinity;
  if (file.size > limit) {
    setStatus(item, "error", `${formatBytes(file.size)} is over the ${formatBytes(limit)} limit`);
    return;
  }
  setStatus(item, "running", "segmenting…");
  try {
    const response = await post("/api/segment", file);
    if (!response.ok) throw new Error(await errorOf(response));
    const maskBlob = await response.blob();
    const width = Number(response.headers.get("X-Image-Width"));
    const height = Number(response.headers.get("X-Image-Height"));
    const pixels = Number(response.headers.get("X-Foreground-Pixels"));
    const percent = Number(response.headers.get("X-Foreground-Percent"));
    const maskBitmap = await createImageBitmap(maskBlob, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
      imageOrientation: "none",
    });
    const binary = !state.card || state.card.classes === 1;
    Object.assign(item, decodeMask(pixelsOf(maskBitmap, width, height), width, height, binary));
    item.canvas.width = width;
    item.canvas.height = height;
    item.base = pixelsOf(await baseBitmap(file), width, height);
    render(item);
    const count = response.headers.get("X-Object-Count");
    node.querySelector(".stats").textContent =
      `foreground ${formatInt(pixels)} px (${percent.toFixed(2)} %) · ${width}×${height}` +
      (count === null ? "" : ` · ${formatInt(Number(count))} objects`);
    if (count !== null) showObjects(item, Number(count));
    const link = node.querySelector(".download");
    const disposition = response.headers.get("Content-Disposition") || "";
    link.download = (disposition.match(/filename="([^"]+)"/) || [null, "mask.png"])[1];
    link.href = URL.createObjectURL(maskBlob);
    link.hidden = false;
    setStatus(item, "done", "done");
  } catch (err) {
    setStatus(item, "error", err.message || String(err));
  }
}

const OBJECT_COLUMNS = ["label", "area", "centroid_y", "centroid_x", "eccentricity"];
const MAX_OBJECT_ROWS = 500;

// An instance model's objects: the count comes with the mask; the table is fetched when first opened.
function showObjects(item, count) {
  const details = item.node.querySelector(".objects");
  details.hidden = false;
  details.querySelector("summary").textContent = `${formatInt(count)} objects (table)`;
  details.addEventListener("toggle", () => loadObjects(item, details), { once: true });
}

async function loadObjects(item, details) {
  const status = details.querySelector(".objects-status");
  status.textContent = "measuring…";
  try {
    const response = await post("/api/segment?format=objects", item.file);
    if (!response.ok) throw new Error(await errorOf(response));
    const { objects } = await response.json();
    const table = details.querySelector("table");
    const head = table.createTHead().insertRow();
    for (const column of OBJECT_COLUMNS) head.insertCell().textContent = column;
    const body = table.createTBody();
    for (const row of objects.slice(0, MAX_OBJECT_ROWS)) {
      const tr = body.insertRow();
      for (const column of OBJECT_COLUMNS) tr.insertCell().textContent = String(row[column]);
    }
    status.textContent = objects.length > MAX_OBJECT_ROWS ? `first ${MAX_OBJECT_ROWS} of ${objects.length}` : "";
  } catch (err) {
    status.textContent = err.message || String(err);
  }
}

function addFiles(files) {
  for (const file of files) {
    const node = $("#result-template").content.firstElementChild.cloneNode(true);
    node.querySelector(".name").textContent = file.name;
    const item = { file, node, canvas: node.querySelector("canvas"), base: null };
    state.items.push(item);
    $("#results").append(node);
    state.queue = state.queue.then(() => segment(item)); // one upload at a time
  }
}

function clearAll() {
  for (const item of state.items) {
    const link = item.node.querySelector(".download");
    if (link.href) URL.revokeObjectURL(link.href);
    item.node.remove();
  }
  state.items = [];
}

function setUp() {
  const drop = $("#drop");
  const input = $("#files");
  input.addEventListener("change", () => {
    addFiles([...input.files]);
    input.value = "";
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    addFiles([...event.dataTransfer.files]);
  });
  $("#opacity").addEventListener("input", renderAll);
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", renderAll);
  $("#clear").addEventListener("click", clearAll);
  state.queue = loadCard(); // uploads wait for the card (classes, limits)
}

setUp();
