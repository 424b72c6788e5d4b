// The latent canvas: a decoder running in the browser (onnxruntime-web, WebAssembly, one
// thread), redrawn on every input event of its sliders and its 2-D pad. Nothing goes to the
// server while a student drags; on release one state value does (amounts or t), so the page
// can update the link and the exports. Without WebAssembly (or if the runtime or the model
// cannot load) it sends one "backend" value with the reason, and the page falls back to the
// server. Timings for the benchmark and the tests: window.__latentCanvas.

const ORT = new Map(); // runtime URL -> Promise of the onnxruntime-web module
const SESSIONS = new Map(); // model URL -> Promise of an InferenceSession
const INSTANCES = new WeakMap(); // parentElement -> this mount's state
const stats = (window.__latentCanvas = window.__latentCanvas || {
  frames: [], // ms from an input event to the frame that shows it painted
  firstFrame: null, // performance.now() when the first decoded frame was painted
  runs: 0, // decoder runs
  decodeMs: [], // each run's decode and draw on the canvas
  backend: null, // "browser" once a frame was drawn, or the fallback reason
});

// The runtime's .wasm and the decoders are stored gzip-compressed and served as they are
// (Streamlit would otherwise compress each response again, 14 MB at level 9); unpacked here.
async function gunzipped(url, what) {
  const r = await fetch(new URL(url, location.href).href);
  if (!r.ok) throw new Error(`${what} answered ${r.status}`);
  const body = r.body.pipeThrough(new DecompressionStream("gzip"));
  return new Response(body).arrayBuffer();
}

function runtime(data) {
  const url = new URL(data.runtime, location.href).href;
  if (!ORT.has(url)) {
    const made = Promise.all([import(url), gunzipped(data.wasm, "the runtime")]).then(
      ([ort, wasm]) => {
        ort.env.wasm.numThreads = 1; // no SharedArrayBuffer or cross-origin isolation needed
        ort.env.wasm.proxy = false;
        ort.env.wasm.wasmBinary = wasm; // the bundle carries its own loader
        return ort;
      },
    );
    made.catch(() => ORT.delete(url));
    ORT.set(url, made);
  }
  return ORT.get(url);
}

function session(ort, url) {
  if (!SESSIONS.has(url)) {
    const made = gunzipped(url, "the decoder file")
      .then((buf) =>
        ort.InferenceSession.create(new Uint8Array(buf), { executionProviders: ["wasm"] }),
      );
    made.catch(() => SESSIONS.delete(url)); // a later mount may try again
    SESSIONS.set(url, made);
  }
  return SESSIONS.get(url);
}

// Weights of the path's two ends at time t, as engine.ops.interpolate_latents computes them.
function pathWeights(p, t) {
  if (t === 0) return [1, 0];
  if (t === 1) return [0, 1];
  if (p.method === "slerp" && Math.abs(Math.sin(p.omega)) > 1e-6) {
    const s = Math.sin(p.omega);
    return [Math.sin((1 - t) * p.omega) / s, Math.sin(t * p.omega) / s];
  }
  return [1 - t, t];
}

function slerpAngle(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < a.length; k++) {
    ab += a[k] * b[k];
    aa += a[k] * a[k];
    bb += b[k] * b[k];
  }
  const norms = Math.sqrt(aa) * Math.sqrt(bb);
  return norms > 0 ? Math.acos(Math.max(-1, Math.min(1, ab / norms))) : 0;
}

function el(tag, attrs = {}, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  return e;
}

function fmt(v) {
  return (v >= 0 ? "+" : "") + v.toFixed(2);
}

function build(parent, data, setStateValue) {
  const root = el("div", { class: "lc", "data-testid": "latent-canvas" });
  const px = data.px || 224;
  const canvas = el("canvas", { width: px, height: px, class: "view", role: "img" });
  canvas.setAttribute("aria-label", data.caption || "decoded image");
  const [c, h, w] = data.image_shape;
  const off = el("canvas", { width: w, height: h });
  const controls = el("div", { class: "controls" });
  const note = el("p", { class: "note" }, "loading the decoder into this browser...");
  root.append(canvas, controls, note);
  parent.append(root);
  if (stats.mountedAt === undefined) stats.mountedAt = performance.now();

  const inst = { data, root, canvas, off, note, busy: false, dirty: false, waiting: [], timer: null };
  const size = data.latent_shape.reduce((x, y) => x * y, 1);
  const z = new Float32Array(size);
  const sliders = [];

  const commit = (name, value) => {
    clearTimeout(inst.timer); // keyboard auto-repeat: one message once the keys rest
    inst.timer = setTimeout(() => setStateValue(name, value), 250);
  };
  const slider = (label, value, lo, hi, step) => {
    const row = el("label", { class: "row" });
    const input = el("input", { type: "range", min: lo, max: hi, step, value });
    input.setAttribute("aria-label", label);
    const out = el("output", {}, fmt(+value));
    row.append(el("span", { class: "name" }, label), input, out);
    controls.append(row);
    input.addEventListener("input", (e) => {
      out.textContent = fmt(+input.value);
      request(inst, e.timeStamp);
    });
    sliders.push({ input, out });
    return input;
  };

  if (data.mode === "path") {
    const a = Float32Array.from(data.path.a), b = Float32Array.from(data.path.b);
    const p = { method: data.path.method, omega: slerpAngle(a, b) };
    const t = slider(data.path.label || "position t", data.path.t, data.path.lo, data.path.hi, data.path.step);
    inst.latent = () => {
      const [w0, w1] = pathWeights(p, +t.value);
      for (let k = 0; k < size; k++) z[k] = w0 * a[k] + w1 * b[k];
      return z;
    };
    inst.values = () => +t.value;
    t.addEventListener("change", () => commit("t", +t.value));
  } else {
    const base = Float32Array.from(data.base);
    const dirs = data.directions.map((d) => Float32Array.from(d.vector));
    const inputs = data.directions.map((d, i) =>
      slider(d.name, data.amounts[i] ?? 0, data.lo, data.hi, data.step),
    );
    inst.values = () => inputs.map((i) => +i.value);
    inst.latent = () => {
      z.set(base);
      inputs.forEach((input, i) => {
        const amt = +input.value, v = dirs[i];
        if (amt !== 0) for (let k = 0; k < size; k++) z[k] += amt * v[k];
      });
      return z;
    };
    inputs.forEach((i) => i.addEventListener("change", () => commit("amounts", inst.values())));
    if (inputs.length >= 2) pad(inst, controls, data, inputs, commit);
  }

  if (typeof WebAssembly !== "object") {
    fallback(inst, "this browser has no WebAssembly", setStateValue);
    return inst;
  }
  inst.ready = runtime(data)
    .then((ort) => session(ort, new URL(data.model, location.href).href).then((s) => [ort, s]))
    .then(([ort, s]) => {
      inst.ort = ort;
      inst.session = s;
      note.textContent = data.note || "decoded in your browser as you drag";
      request(inst, performance.now(), true);
    })
    .catch((err) => fallback(inst, `the in-browser decoder did not load (${err.message || err})`, setStateValue));
  return inst;
}

// The 2-D pad: drag in the plane of two of the directions (chosen in its two menus).
function pad(inst, controls, data, inputs, commit) {
  const box = el("div", { class: "padbox" });
  const area = el("div", { class: "pad", "data-testid": "latent-pad", "aria-hidden": "true" });
  const dot = el("div", { class: "dot" });
  area.append(dot);
  const pick = (label, start) => {
    const sel = el("select", { "aria-label": label });
    data.directions.forEach((d, i) => sel.append(el("option", { value: i }, d.name)));
    sel.value = String(start);
    return sel;
  };
  const sx = pick("pad: horizontal direction", 0), sy = pick("pad: vertical direction", 1);
  const menus = el("div", { class: "padmenus" });
  menus.append(el("span", {}, "pad: "), sx, el("span", {}, " across, "), sy, el("span", {}, " up"));
  box.append(area, menus);
  controls.append(box);
  const lo = +data.lo, hi = +data.hi;
  const place = () => {
    const fx = (+inputs[+sx.value].value - lo) / (hi - lo);
    const fy = (+inputs[+sy.value].value - lo) / (hi - lo);
    dot.style.left = `${100 * fx}%`;
    dot.style.top = `${100 * (1 - fy)}%`;
  };
  const move = (e) => {
    const r = area.getBoundingClientRect();
    const fx = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    const fy = Math.min(1, Math.max(0, 1 - (e.clientY - r.top) / r.height));
    for (const [sel, f] of [[sx, fx], [sy, fy]]) {
      const input = inputs[+sel.value];
      const step = +data.step;
      input.value = String(Math.round((lo + f * (hi - lo)) / step) * step);
      input.nextSibling.textContent = fmt(+input.value);
    }
    place();
    request(inst, e.timeStamp);
  };
  area.addEventListener("pointerdown", (e) => {
    area.setPointerCapture(e.pointerId);
    move(e);
  });
  // pointermove reaches the page once per frame, at the frame's start, so a decode started there
  // often misses that frame; pointerrawupdate (Chromium, secure contexts such as localhost) comes
  // as the pointer moves, and the decode is painted in the next frame. Elsewhere: pointermove.
  const moved = "onpointerrawupdate" in window ? "pointerrawupdate" : "pointermove";
  area.addEventListener(moved, (e) => {
    if (area.hasPointerCapture(e.pointerId)) move(e);
  });
  area.addEventListener("pointerup", () => commit("amounts", inst.values()));
  inputs.forEach((i) => i.addEventListener("input", place));
  sx.addEventListener("change", place);
  sy.addEventListener("change", place);
  place();
}

function fallback(inst, reason, setStateValue) {
  inst.failed = reason;
  stats.backend = reason;
  inst.note.textContent = reason;
  setStateValue("backend", reason);
}

// A frame is wanted for an input event at time `t`: decode now, or after the run in flight.
function request(inst, t, first = false) {
  if (!inst.session) return;
  inst.waiting.push(t);
  if (inst.busy) {
    inst.dirty = true;
    return;
  }
  draw(inst, first);
}

async function draw(inst, first) {
  inst.busy = true;
  try {
    do {
      inst.dirty = false;
      const pending = inst.waiting.splice(0);
      const shape = [1, ...inst.data.latent_shape];
      const feeds = { z: new inst.ort.Tensor("float32", inst.latent().slice(), shape) };
      const started = performance.now();
      const out = await inst.session.run(feeds);
      stats.runs += 1;
      paint(inst, out.x.data);
      stats.decodeMs.push(performance.now() - started);
      await new Promise((done) =>
        requestAnimationFrame(() => {
          // After this frame's callbacks the browser paints; a posted message runs after it.
          const ch = new MessageChannel();
          ch.port1.onmessage = () => {
            const now = performance.now();
            if (first && stats.firstFrame === null) stats.firstFrame = now;
            else for (const t of pending) stats.frames.push(now - t);
            first = false;
            stats.backend = "browser";
            done();
          };
          ch.port2.postMessage(0);
        }),
      );
    } while (inst.dirty);
  } catch (err) {
    inst.note.textContent = `decoding failed: ${err.message || err}`;
  } finally {
    inst.busy = false;
  }
}

function paint(inst, x) {
  const [c, h, w] = inst.data.image_shape;
  const ctx = inst.off.getContext("2d");
  const img = (inst.img = inst.img || ctx.createImageData(w, h)); // one buffer, reused per frame
  const n = h * w;
  for (let i = 0; i < n; i++) {
    const r = x[i], g = c === 3 ? x[n + i] : r, b = c === 3 ? x[2 * n + i] : r;
    img.data[4 * i] = 255 * r;
    img.data[4 * i + 1] = 255 * g;
    img.data[4 * i + 2] = 255 * b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const view = inst.canvas.getContext("2d");
  view.imageSmoothingEnabled = false;
  view.drawImage(inst.off, 0, 0, inst.canvas.width, inst.canvas.height);
}

export default function ({ parentElement, data, setStateValue }) {
  const known = INSTANCES.get(parentElement);
  // Called again on every rerun: rebuild only when what is decoded changed, so a release
  // (which reruns the page) leaves the sliders where the student put them.
  if (known && known.data.config === data.config) return;
  if (known) known.root.remove(); // (Streamlit's <style> beside it stays)
  INSTANCES.set(parentElement, build(parentElement, data, setStateValue));
}
