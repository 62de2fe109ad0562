// Interactive charts with Apache ECharts (served from /static/vendor/echarts/, installed by
// scripts/install_ui.sh). Each [data-chart] element holds its data as JSON and a static SVG
// fallback, which stays when ECharts is missing or JavaScript is off.
(function () {
  "use strict";
  if (typeof echarts === "undefined") { return; }
  var palette = ["#1f6fb2", "#c4452b", "#2e8b57", "#8e44ad", "#d4841b", "#17857d",
                 "#b03a78", "#5a6b2f", "#3d5a98", "#9c5b2e", "#4f7f9e", "#7a4e9c"];
  function go(params) {
    var d = params && params.data;
    if (d && d.href && !(d.children && d.children.length)) { window.location.href = d.href; }
  }
  function treemap(data, unit) {
    return {
      color: palette,
      tooltip: { formatter: function (p) {
        var path = (p.treePathInfo || []).slice(1).map(function (x) { return x.name; }).join(" › ");
        return echarts.format.encodeHTML(path || p.name) + "<br>" +
               echarts.format.encodeHTML((p.data && p.data.text) || String(p.value)) + " " + unit;
      } },
      series: [{
        type: "treemap", data: data, leafDepth: 1, roam: false, nodeClick: "zoomToNode",
        breadcrumb: { show: true }, label: { show: true, formatter: "{b}" },
        upperLabel: { show: true, height: 20 },
        levels: [{ itemStyle: { gapWidth: 2 } }, { colorSaturation: [0.35, 0.6], itemStyle: { gapWidth: 1 } }]
      }]
    };
  }
  function bars(data, unit) {
    var items = data.slice().reverse();
    return {
      color: palette,
      tooltip: { trigger: "item", formatter: function (p) {
        return echarts.format.encodeHTML(p.name) + "<br>" + echarts.format.encodeHTML(p.data.text) + " " + unit;
      } },
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", name: unit },
      yAxis: { type: "category", data: items.map(function (x) { return x.name; }),
               axisLabel: { width: 360, overflow: "truncate" } },
      series: [{ type: "bar", data: items.map(function (x) { return { value: x.value, text: x.text, href: x.href }; }) }]
    };
  }
  function years(data, unit) {
    return {
      color: palette,
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.years },
      yAxis: { type: "value", name: unit },
      series: data.series.map(function (s) { return { name: s.name, type: "bar", data: s.values }; })
    };
  }
  var builders = { treemap: treemap, bars: bars, years: years };
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var kind = el.getAttribute("data-chart");
    var build = builders[kind];
    var island = el.querySelector("script.chart-data");
    if (!build || !island) { return; }
    var data = JSON.parse(island.textContent);
    var target = document.createElement("div");
    target.className = "echart";
    var height = kind === "bars" ? Math.max(160, 28 * data.length + 24) : (kind === "years" ? 320 : 440);
    target.style.height = height + "px";
    el.appendChild(target);
    var chart = echarts.init(target, null, { renderer: "svg" });
    chart.setOption(build(data, el.getAttribute("data-unit") || ""));
    chart.on("click", go);
    var fallback = el.querySelector(".chart-fallback");
    if (fallback) { fallback.hidden = true; }
    el.classList.add("interactive");
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
