// Draws the page's plotly figures. Each figure is a <script type="application/json"
// data-plotly-figure> block (data only, never run) beside the <div> it is drawn into,
// so the Content-Security-Policy needs no inline script.
//
// plotly.js (4.8 MB) and this file are loaded with `defer`: they download while the page
// is parsed and run only after it, so the page paints its numbers first and the charts
// follow (the browser test checks first paint comes before the charts are drawn).
"use strict";

(() => {
  if (!window.Plotly) return; // plotly.js failed to load: the tables still show the numbers
  performance.mark("flusso:charts-start");
  for (const block of document.querySelectorAll("script[data-plotly-figure]")) {
    const figure = JSON.parse(block.textContent);
    const target = document.getElementById(block.dataset.plotlyFigure);
    window.Plotly.newPlot(target, figure.data, figure.layout, figure.config);
  }
  performance.mark("flusso:charts-drawn");
  document.documentElement.dataset.chartsDrawn = "true";
})();
