// Draws the page's plotly figures. Each figure is a <script type="application/json"
// data-plotly-figure> block (data only, never run) beside the <div> it is drawn into,
// so the Content-Security-Policy needs no inline script.
//
// plotly.js is 4.8 MB: it is loaded only after the page's first paint, so the numbers
// show at once and the charts follow.
"use strict";

(() => {
  const loader = document.currentScript;

  function draw() {
    performance.mark("flusso:charts-start");
    for (const block of document.querySelectorAll("script[data-plotly-figure]")) {
      const figure = JSON.parse(block.textContent);
      const target = document.getElementById(block.dataset.plotlyFigure);
      window.Plotly.newPlot(target, figure.data, figure.layout, figure.config);
    }
    performance.mark("flusso:charts-drawn");
    document.documentElement.dataset.chartsDrawn = "true";
  }

  function loadPlotly() {
    if (!document.querySelector("script[data-plotly-figure]")) return;
    const script = document.createElement("script");
    script.src = loader.dataset.plotlySrc;
    script.addEventListener("load", draw);
    document.head.appendChild(script);
  }

  // requestAnimationFrame runs just before the next frame is painted; the timeout then
  // runs after that frame, once the page is on screen.
  function afterFirstPaint() {
    requestAnimationFrame(() => setTimeout(loadPlotly, 0));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", afterFirstPaint);
  } else {
    afterFirstPaint();
  }
})();
