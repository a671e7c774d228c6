// Diagrams open full size on click (an overlay; Escape or a click closes
// it). Anything wider than its column -- a diagram on a phone, a table, a
// code block -- is marked `wgx-scrolls`: diagrams.css then gives it a
// visible scroll bar and a hint. Nothing is fetched: the overlay holds a
// copy of the inline SVG.
(function () {
  "use strict";

  function naturalWidth(box) {
    var w = parseFloat(getComputedStyle(box).getPropertyValue("--wgx-width"));
    return isNaN(w) ? null : w;
  }

  function open(box) {
    var svg = box.querySelector("svg");
    if (!svg) return;
    var overlay = document.createElement("div");
    overlay.className = "wgx-lightbox";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-label", "diagram at full size");
    var close = document.createElement("span");
    close.className = "wgx-close";
    close.textContent = "close ✕ (Esc)";
    var copy = svg.cloneNode(true);
    copy.removeAttribute("id");
    var w = naturalWidth(box);
    if (w) copy.style.width = w + "px";
    overlay.appendChild(close);
    overlay.appendChild(copy);
    function shut() {
      overlay.remove();
      document.removeEventListener("keydown", onKey);
    }
    function onKey(e) { if (e.key === "Escape") shut(); }
    overlay.addEventListener("click", shut);
    document.addEventListener("keydown", onKey);
    document.body.appendChild(overlay);
  }

  function hint(box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("wgx-scrolls", scrolls);
  }

  function setup() {
    var boxes = document.querySelectorAll(".wgx-diagram");
    boxes.forEach(function (box) {
      if (box.dataset.wgxReady) return;
      box.dataset.wgxReady = "1";
      var p = document.createElement("span");
      p.className = "wgx-hint";
      p.textContent = "↔ wider than the screen: scroll sideways, or tap the picture to open it full size";
      box.appendChild(p);
      var svg = box.querySelector("svg");
      if (svg) {
        svg.setAttribute("tabindex", "0");
        svg.setAttribute("role", "button");
        svg.setAttribute("aria-label", "open the diagram full size");
        svg.addEventListener("click", function () { open(box); });
        svg.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(box); }
        });
      }
    });
    refresh();
  }

  var SCROLLERS = ".wgx-diagram, .md-typeset__scrollwrap, .md-typeset pre > code, .jp-OutputArea-output";

  function refresh() {
    document.querySelectorAll(SCROLLERS).forEach(hint);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
  window.addEventListener("resize", refresh);
  // diagrams in content tabs have no width until their tab is shown
  document.addEventListener("change", function () { setTimeout(refresh, 0); });
})();
