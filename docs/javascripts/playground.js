// The playground page (docs/playground.md): wgexplain in the reader's browser.
//
// Python (Pyodide) runs in a worker (playground-worker.js); the journey and
// rule-ladder diagrams are drawn here by Graphviz compiled to WebAssembly
// (@viz-js/viz) from the DOT the CLI's `--format dot` prints. Everything is
// loaded from the site (assets/playground/, made by hooks/playground.py).
// The paste stays in this page: it goes to the worker (same tab), never into
// a request, the address bar or storage. The address holds only a sample's
// name and the packet, so a link can be shared.
(function () {
  "use strict";
  const root = document.getElementById("wgx-pg");
  if (!root) return;
  const script = document.currentScript || document.querySelector('script[src$="playground.js"]');
  const base = new URL("../assets/playground/", script.src);
  const $ = (id) => document.getElementById(id);
  const paste = $("wgx-pg-paste"), form = $("wgx-pg-form"), out = $("wgx-pg-answer");
  const exampleSelect = $("wgx-pg-example"), fileInput = $("wgx-pg-files");
  const bundleRow = $("wgx-pg-bundle"), bundleSelect = $("wgx-pg-bundle-file");
  const runButton = $("wgx-pg-run"), commandLine = $("wgx-pg-command");
  const FIELDS = ["dst", "from", "iif", "oif", "ipproto", "sport", "dport", "mark", "uid", "tos",
    "cgroup", "direction", "state"];
  const ROUTE_KEYWORDS = ["from", "iif", "oif", "mark", "uid", "ipproto", "sport", "dport", "tos"];

  // what the reader gave: one file (a paste) or a bundle's files, DIR/FILE
  let files = [{ name: "paste", text: "" }];
  let current = 0;
  let example = "";          // the sample loaded, while unchanged
  let examples = {};
  let ready = false, asked = 0, timer = null, inflight = false, queued = null;
  let vizPromise = null;

  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  // ---- status -----------------------------------------------------------
  function status(step, text, done) {
    $("wgx-pg-progress").value = step;
    $("wgx-pg-status-text").textContent = text;
    $("wgx-pg-progress").hidden = !!done;
    $("wgx-pg-status").classList.toggle("wgx-pg-ready", !!done);
  }

  // ---- the worker -------------------------------------------------------
  const worker = new Worker(new URL("playground-worker.js", script.src), { type: "module" });
  const waiting = new Map();
  worker.onmessage = (event) => {
    const m = event.data;
    if (m.type === "progress") status(m.step, m.text);
    else if (m.type === "ready") {
      ready = true;
      performance.mark("wgx-pg-ready");  // benchmarks/bench_playground.py reads the marks
      runButton.disabled = false;
      status(4, "Ready (loaded in " + (m.ms / 1000).toFixed(1) + " s). Everything runs in this page.", true);
      root.dataset.ready = "1";
      if (files.some((f) => f.text.trim())) ask();
    } else if (m.type === "failed") {
      status(0, "The simulator could not start: " + m.text);
    } else if (m.type === "answer") {
      const done = waiting.get(m.id);
      waiting.delete(m.id);
      if (done) done(JSON.parse(m.result), m.ms);
    }
  };
  worker.postMessage({ type: "init", base: base.href });

  function viz() {
    if (!vizPromise) {
      vizPromise = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = new URL("viz-global.js", base).href;
        s.onload = () => window.Viz.instance().then(resolve, reject);
        s.onerror = () => reject(new Error("viz-global.js did not load"));
        document.head.appendChild(s);
      });
    }
    return vizPromise;
  }

  // ---- the source: paste, samples, files ----------------------------------
  function showFile(i) {
    current = i;
    paste.value = files[i].text;
    bundleSelect.value = String(i);
  }

  function setFiles(list, name) {
    files = list.length ? list : [{ name: "paste", text: "" }];
    const bundle = files.length > 1;
    bundleRow.hidden = !bundle;
    bundleSelect.innerHTML = files.map((f, i) => `<option value="${i}">${esc(f.name.split("/").pop())}</option>`).join("");
    $("wgx-pg-bundle-name").textContent = bundle ? "of " + (name || files[0].name.split("/")[0]) + "/" : "";
    showFile(0);
  }

  function readFiles(fileList) {
    const list = Array.from(fileList);
    Promise.all(list.map((f) => f.text())).then((texts) => {
      example = "";
      exampleSelect.value = "";
      if (list.length === 1) setFiles([{ name: list[0].name, text: texts[0] }]);
      else setFiles(list.map((f, i) => ({ name: "bundle/" + f.name, text: texts[i] })).sort((a, b) => a.name < b.name ? -1 : 1), "bundle");
      changed();
    });
  }

  function loadExample(key) {
    const ex = examples[key];
    if (!ex) return false;
    example = key;
    exampleSelect.value = key;
    setFiles(ex.files.map((f) => ({ name: f.name, text: f.text })), key);
    return true;
  }

  paste.addEventListener("input", () => {
    files[current].text = paste.value;
    if (example) { example = ""; exampleSelect.value = ""; }
    changed(600);
  });
  paste.addEventListener("paste", () => {
    // a paste over everything is the reader's own dump, named as the CLI names stdin's
    if (paste.selectionStart === 0 && paste.selectionEnd === paste.value.length && files.length === 1) {
      files[0].name = "paste";
    }
  });
  paste.addEventListener("dragover", (e) => { e.preventDefault(); paste.classList.add("wgx-pg-drop"); });
  paste.addEventListener("dragleave", () => paste.classList.remove("wgx-pg-drop"));
  paste.addEventListener("drop", (e) => {
    e.preventDefault();
    paste.classList.remove("wgx-pg-drop");
    if (e.dataTransfer && e.dataTransfer.files.length) readFiles(e.dataTransfer.files);
  });
  fileInput.addEventListener("change", () => { if (fileInput.files.length) readFiles(fileInput.files); });
  bundleSelect.addEventListener("change", () => showFile(Number(bundleSelect.value)));
  exampleSelect.addEventListener("change", () => {
    if (exampleSelect.value) loadExample(exampleSelect.value);
    else { example = ""; setFiles([{ name: "paste", text: "" }]); }
    changed();
  });

  // ---- the packet ---------------------------------------------------------
  function command() {
    return form.elements.command.value || "trace";
  }

  function packet() {
    const p = {};
    for (const f of FIELDS) {
      const v = String(form.elements[f].value || "").trim();
      if (v) p[f] = v;
    }
    if (p.direction === "out") delete p.direction;
    if (p.state === "new") delete p.state;
    return p;
  }

  function cliLine() {
    const cmd = command(), p = packet();
    const src = files.length > 1 ? files[0].name.slice(0, files[0].name.lastIndexOf("/")) : files[0].name;
    const words = ["wgexplain", cmd, src];
    if (cmd !== "check") {
      words.push(p.dst || "DST");
      for (const k of ROUTE_KEYWORDS) if (p[k]) words.push(k, p[k]);
      if (cmd === "trace") for (const k of ["cgroup", "direction", "state"]) if (p[k]) words.push("--" + k, p[k]);
    }
    return words.join(" ");
  }

  function syncUrl() {
    const q = new URLSearchParams();
    if (example) q.set("example", example);  // a sample's name; never the reader's own paste
    const cmd = command();
    if (cmd !== "trace") q.set("cmd", cmd);
    const p = packet();
    for (const f of FIELDS) if (p[f]) q.set(f, p[f]);
    history.replaceState(null, "", "?" + q.toString() + location.hash);
  }

  function changed(delay) {
    root.classList.toggle("wgx-pg-check", command() === "check");
    commandLine.textContent = cliLine();
    syncUrl();
    clearTimeout(timer);
    if (ready) timer = setTimeout(ask, delay || 150);
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(timer); ask(); });
  form.addEventListener("change", () => changed());
  form.addEventListener("input", (e) => { if (e.target.tagName === "INPUT" && e.target.type !== "radio") changed(500); });

  // ---- asking -------------------------------------------------------------
  function ask() {
    if (!ready) return;
    if (!files.some((f) => f.text.trim())) {
      out.innerHTML = '<p class="wgx-pg-hint">Paste something above (or pick a sample) to ask about it.</p>';
      return;
    }
    const id = ++asked;
    const request = { files: files.map((f) => ({ name: f.name, text: f.text })), command: command(), packet: packet() };
    root.dataset.busy = "1";
    waiting.set(id, (result, ms) => {
      inflight = false;
      if (queued) { const q = queued; queued = null; send(q.id, q.request); }
      if (id !== asked) return;  // a newer question is on its way
      show(result, ms, request).finally(() => {
        if (id === asked) {
          if (!performance.getEntriesByName("wgx-pg-first-answer").length) performance.mark("wgx-pg-first-answer");
          root.dataset.pythonMs = String(Math.round(ms));
          delete root.dataset.busy;
          root.dataset.answered = String(id);
        }
      });
    });
    if (inflight) {  // Python answers one at a time: only the latest question waits
      if (queued) waiting.delete(queued.id);
      queued = { id, request };
    }
    else send(id, request);
  }

  function send(id, request) {
    inflight = true;
    worker.postMessage({ type: "ask", id, request });
  }

  async function show(result, ms, request) {
    if (!result.ok) return showError(result);
    const j = result.json;
    let html = "";
    if (result.command === "trace") html += result.html;
    else if (result.command === "route") html += routeHtml(j);
    else html += checkHtml(j);
    if (result.dot) html += '<div class="wgx-pg-diagram" id="wgx-pg-diagram"><p class="wgx-pg-hint">drawing…</p></div>';
    if (result.chains) {
      html += '<details class="wgx-pg-chains" id="wgx-pg-chains"><summary>the ruleset\'s chains on the netfilter hooks ' +
        "(<code>wgexplain show --format dot</code>)</summary><div class=\"wgx-pg-diagram\"></div></details>";
    }
    const notes = [].concat(j.assumptions || []).map((a) => "assumed: " + a).concat(result.warnings || []);
    if (notes.length) {
      html += '<div class="admonition warning wgx-pg-warnings"><p class="admonition-title">Warnings and assumptions</p><ul>' +
        notes.map((w) => "<li>" + esc(w) + "</li>").join("") + "</ul></div>";
    }
    html += '<details class="wgx-pg-json"><summary>JSON, as <code>' + esc(cliLine().replace(/^(wgexplain \w+)/, "$1")) +
      " --json</code> prints it</summary><pre><code>" + esc(JSON.stringify(j, null, 2)) + "</code></pre></details>";
    html += '<p class="wgx-pg-time">answered in ' + Math.round(ms) + " ms, in this page</p>";
    out.innerHTML = html;
    const chains = $("wgx-pg-chains");
    if (chains) {  // drawn when opened
      chains.addEventListener("toggle", () => {
        const box = chains.querySelector(".wgx-pg-diagram");
        if (!chains.open || box.firstChild) return;
        viz().then((v) => {
          const svg = v.renderSVGElement(result.chains);
          svg.removeAttribute("height");
          svg.style.maxWidth = "100%";
          svg.style.height = "auto";
          box.replaceChildren(svg);
        }, (e) => { box.textContent = "the diagram could not be drawn: " + (e.message || e); });
      });
    }
    if (result.dot) {
      const box = $("wgx-pg-diagram");
      try {
        const svg = (await viz()).renderSVGElement(result.dot);
        svg.removeAttribute("height");
        svg.style.maxWidth = "100%";
        svg.style.height = "auto";
        box.replaceChildren(svg);
      } catch (e) {
        box.innerHTML = '<p class="wgx-pg-hint">the diagram could not be drawn: ' + esc(e.message || e) + "</p>";
      }
    }
  }

  function routeHtml(j) {
    let verdict;
    if (j.type === "unicast" || j.type === "local") {
      verdict = `<strong>${esc(j.type)}</strong> dev <code>${esc(j.dev)}</code>` +
        (j.gateway ? ` via <code>${esc(j.gateway)}</code>` : "") + (j.src ? ` src <code>${esc(j.src)}</code>` : "") +
        ` — table ${esc(j.table)}` + (j.rule !== null && j.rule !== undefined ? `, rule ${esc(j.rule)}` : "");
    } else {
      verdict = `<strong>${esc(j.type || "no route")}</strong>` + (j.error ? ": " + esc(j.error) : "") +
        (j.dev ? ` dev <code>${esc(j.dev)}</code>` : "");
    }
    const steps = (j.steps || []).map((s) => `<li><span class="wgx-pg-step">${s.rule !== undefined ? "rule " + esc(s.rule) + ": " : ""}${esc(s.action || "")} → <strong>${esc(s.result || "")}</strong></span>` +
      (s.why ? `<details><summary>why</summary><p>${esc(s.why)}</p></details>` : "") + "</li>").join("");
    return `<p class="wgx-verdict">${verdict}</p><ol class="wgx-pg-steps">${steps}</ol>` +
      ((j.notes || []).length ? "<ul class=\"wgx-pg-notes\">" + j.notes.map((n) => `<li>note: ${esc(n)}</li>`).join("") + "</ul>" : "");
  }

  function checkHtml(j) {
    const f = j.findings || [];
    let html = `<p class="wgx-verdict"><strong>${f.length ? f.length + " finding" + (f.length > 1 ? "s" : "") : "nothing found"}</strong>` +
      ` (${(j.passed || []).length} checks passed, ${(j.not_checked || []).length} not checked)</p>`;
    for (const x of f) {
      html += `<div class="admonition ${x.severity === "high" ? "danger" : "warning"}"><p class="admonition-title">${esc(x.severity)}: ${esc(x.title)}</p>` +
        `<p>${esc(x.explanation)}</p><p>proved by <code>${esc(x.command)}</code>: ${esc((x.evidence || {}).summary || "")}</p></div>`;
    }
    if ((j.passed || []).length) html += "<p>Passed:</p><ul>" + j.passed.map((p) => `<li><code>${esc(p.id)}</code>: ${esc(p.summary)}</li>`).join("") + "</ul>";
    if ((j.not_checked || []).length) html += "<p>Not checked:</p><ul>" + j.not_checked.map((p) => `<li><code>${esc(p.id)}</code>: ${esc(p.why)}</li>`).join("") + "</ul>";
    return html;
  }

  function showError(result) {
    let html = `<div class="admonition failure wgx-pg-error"><p class="admonition-title">The command line would say</p><pre><code>${esc(result.error)}</code></pre>`;
    const i = files.findIndex((f) => f.name === result.file);
    if (i >= 0 && result.line) {
      showFile(i);
      const lines = files[i].text.split("\n");
      const n = result.line;
      const from = Math.max(1, n - 3), to = Math.min(lines.length, n + 3);
      let ctx = "";
      for (let k = from; k <= to; k++) {
        const text = `${String(k).padStart(String(to).length)} | ${lines[k - 1] || ""}`;
        ctx += k === n ? `<mark class="wgx-pg-errline">${esc(text)}</mark>\n` : esc(text) + "\n";
      }
      html += `<p>${esc(result.file)}, line ${n}:</p><pre class="wgx-pg-context"><code>${ctx}</code></pre>`;
      // select the line in the paste area
      let start = 0;
      for (let k = 0; k < n - 1 && k < lines.length; k++) start += lines[k].length + 1;
      const end = start + (lines[n - 1] || "").length;
      paste.setSelectionRange(start, end);
      const lineHeight = paste.scrollHeight / Math.max(lines.length, 1);
      paste.scrollTop = Math.max(0, (n - 4) * lineHeight);
      paste.classList.add("wgx-pg-haserror");
    }
    out.innerHTML = html + "</div>";
    return Promise.resolve();
  }
  paste.addEventListener("focus", () => paste.classList.remove("wgx-pg-haserror"));

  // ---- start: samples, then what the address asks ---------------------------
  const params = new URLSearchParams(location.search);
  if (params.has("dst")) {  // a link's packet: exactly that, not the form's defaults
    for (const f of FIELDS) form.elements[f].value = params.get(f) || (f === "direction" ? "out" : f === "state" ? "new" : "");
  }
  if (params.has("cmd")) {
    const radio = form.querySelector(`input[name=command][value="${CSS.escape(params.get("cmd"))}"]`);
    if (radio) radio.checked = true;
  }
  fetch(new URL("examples.json", base)).then((r) => r.json()).then((data) => {
    examples = data;
    for (const key of Object.keys(data)) {
      const o = document.createElement("option");
      o.value = key;
      o.textContent = data[key].label;
      exampleSelect.appendChild(o);
    }
    if (params.get("example")) loadExample(params.get("example"));
    changed();
  }).catch(() => changed());
})();
