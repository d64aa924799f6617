"use strict";
// Draws each report chart from the JSON the server embedded next to its canvas.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Chart === "undefined") return;
  const palette = ["#417690", "#79aec8", "#e4a11b", "#ba2121", "#5b8c5a", "#8e6bbf", "#999"];
  document.querySelectorAll(".kpi-chart").forEach((figure) => {
    const key = figure.dataset.chart;
    const spec = JSON.parse(document.getElementById("data-" + key).textContent);
    const round = spec.type === "doughnut";
    new Chart(document.getElementById("chart-" + key), {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map((set, i) => ({
          label: set.label,
          data: set.data,
          backgroundColor: round ? palette : palette[i % palette.length],
          borderColor: round ? "#fff" : palette[i % palette.length],
        })),
      },
      options: {responsive: true, animation: false, plugins: {legend: {display: round}}},
    });
  });
});
