// One Apache ECharts chart (SVG renderer, only the chart kinds BPC draws are bundled).
// `points` is how many data points the screen gave it: 0 shows "no data" instead of an empty
// frame, and the browser tests compare it (and the drawn marks) with what the API returned.
import { useEffect, useRef } from "preact/hooks";
import { html } from "htm/preact";
import * as echarts from "echarts/core";
import { BarChart, FunnelChart, GraphChart, LineChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";
import { t, register } from "./i18n.js";

echarts.use([
  BarChart, FunnelChart, GraphChart, LineChart,
  DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent,
  SVGRenderer,
]);

register({ zh: { noData: "暂无数据" }, en: { noData: "No data yet" } });

// Colours shared by every chart: blue for diligence/time, orange for ability/score, red for alerts.
export const COLORS = ["#2f6fdf", "#e8833a", "#2e9d6b", "#c93c3c", "#7a5fc9", "#8a8f98"];

export function Chart({ option, points, testid, height = 300 }) {
  const box = useRef(null);
  const chart = useRef(null);
  useEffect(() => {
    if (!points) return undefined;
    chart.current = echarts.init(box.current, null, { renderer: "svg" });
    const resize = () => chart.current && chart.current.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.current.dispose();
      chart.current = null;
    };
  }, [Boolean(points)]);
  useEffect(() => {
    if (!chart.current) return;
    // no animation under test automation: the screenshots show the finished chart
    const animation = !navigator.webdriver;
    chart.current.setOption({ color: COLORS, animation, ...option }, true);
    box.current.dataset.rendered = "1";
  }, [option, points]);
  if (!points) {
    return html`<p class="muted empty-chart" data-chart=${testid} data-testid=${testid} data-points="0">${t("noData")}</p>`;
  }
  return html`<div class="chart" ref=${box} data-chart=${testid} data-testid=${testid}
    data-points=${points} style=${`height:${height}px`}></div>`;
}
