/* The operation page's charts, drawn from the tables that carry their data.
 *
 * Each <table data-chart="bar|line"> is the chart's data and stays on the page: with
 * JavaScript off, or for a screen reader, the table is the figure. Columns are series and
 * rows are weeks; a cell is read as its leading number. data-series="N" keeps the first N
 * series only (the other columns are not counts); data-max fixes the scale's top. No inline script: the page's
 * Content-Security-Policy forbids it, and this file is served by the sidecar itself.
 */
(function () {
  "use strict";
  var COLOURS = ["#1f5fa8", "#b3401b", "#2e7d32", "#6a3d9a", "#8a6d00", "#00707a",
                 "#a3195b", "#4d4d4d", "#005f99", "#7a4a00", "#3f6b1f", "#5c2d91"];
  var SEVERITY = {critical: "#a4161a", warning: "#c05a00", advice: "#1f5fa8", info: "#4d4d4d"};

  function read(table) {
    var heads = table.querySelectorAll("thead th");
    var names = [];
    for (var i = 1; i < heads.length; i++) { names.push(heads[i].textContent.trim()); }
    var keep = parseInt(table.getAttribute("data-series") || String(names.length), 10);
    names = names.slice(0, keep);
    var labels = [];
    var series = names.map(function () { return []; });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      labels.push(row.querySelector("th").textContent.trim().split(" ")[0]);
      var cells = row.querySelectorAll("td");
      for (var j = 0; j < names.length; j++) {
        var n = parseFloat(cells[j].textContent);
        series[j].push(isNaN(n) ? null : n);
      }
    });
    return {labels: labels, datasets: names.map(function (name, k) {
      var colour = SEVERITY[name] || COLOURS[k % COLOURS.length];
      return {label: name, data: series[k], backgroundColor: colour, borderColor: colour,
              borderWidth: 2, tension: 0, spanGaps: true};
    })};
  }

  function draw(table) {
    var holder = document.querySelector('.chart[data-for="' + table.id + '"]');
    if (!holder || typeof window.Chart === "undefined") { return; }
    var kind = table.getAttribute("data-chart") === "line" ? "line" : "bar";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", (table.getAttribute("data-title") || "Chart") +
                        ": the table below holds the same figures");
    holder.appendChild(canvas);
    holder.classList.add("drawn");
    new window.Chart(canvas, {
      type: kind,
      data: read(table),
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {x: {stacked: kind === "bar"},
                 y: {stacked: kind === "bar", beginAtZero: true, ticks: {precision: 0},
                     max: table.hasAttribute("data-max") ?
                       parseFloat(table.getAttribute("data-max")) : undefined}},
        plugins: {legend: {position: "bottom"}}
      }
    });
  }

  document.querySelectorAll("table[data-chart]").forEach(draw);
}());
