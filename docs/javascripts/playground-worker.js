// The playground's Python: Pyodide in a module worker, so the page stays
// responsive while it loads. Messages in: {type: "init", base} (base: the
// absolute URL of assets/playground/), {type: "ask", id, request}. Out:
// {type: "progress", step, text}, {type: "ready", ms}, {type: "answer", id,
// result, ms}, {type: "failed", text}. Everything is fetched from `base`:
// the site's own origin, never a CDN; the paste itself is never sent anywhere.
let pyodide = null;
let answerJson = null;

function progress(step, text) {
  postMessage({ type: "progress", step, text });
}

async function init(base) {
  const t0 = performance.now();
  const manifest = await (await fetch(new URL("manifest.json", base))).json();
  progress(1, "Starting Python (Pyodide " + manifest.pyodide + ")…");
  const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", base).href);
  pyodide = await loadPyodide({ indexURL: new URL("pyodide/", base).href, fullStdLib: false });
  progress(2, "Installing wgexplain and its parser…");
  const wheels = await Promise.all(manifest.wheels.map(async (w) => {
    const r = await fetch(new URL(w, base));
    if (!r.ok) throw new Error(w + ": HTTP " + r.status);
    return new Uint8Array(await r.arrayBuffer());
  }));
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  for (const data of wheels) pyodide.unpackArchive(data, "wheel", { extractDir: sitePackages });
  if (manifest.lark_cache) {
    // the nft grammar's LALR tables, made by this same runtime at build time
    const r = await fetch(new URL(manifest.lark_cache.file, base));
    if (r.ok) pyodide.FS.writeFile(manifest.lark_cache.path, new Uint8Array(await r.arrayBuffer()));
  }
  progress(3, "Loading the simulator…");
  pyodide.runPython("import os; os.makedirs('/home/pyodide/work', exist_ok=True); os.chdir('/home/pyodide/work')");
  answerJson = pyodide.runPython("from wgexplain.web import answer_json, warm_up\nwarm_up()\nanswer_json");
  postMessage({ type: "ready", ms: performance.now() - t0 });
}

onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "init") {
    try {
      await init(msg.base);
    } catch (e) {
      // the last line of a Python error, not its traceback
      postMessage({ type: "failed", text: String(e && e.message || e).trim().split("\n").pop() });
    }
  } else if (msg.type === "ask") {
    const t0 = performance.now();
    let result;
    try {
      result = answerJson(JSON.stringify(msg.request));
    } catch (e) {  // web.answer() catches everything; this is Pyodide itself failing
      result = JSON.stringify({ ok: false, error: "wgexplain: internal error: " + String(e && e.message || e).split("\n").slice(-2).join(" "), file: null, line: null });
    }
    postMessage({ type: "answer", id: msg.id, result, ms: performance.now() - t0 });
  }
};
