// One Apache ECharts chart (SVG renderer; the chart kinds BPC draws are in echarts.js, a bundle
// of its own loaded with the first chart).
// `points` is how many data points the screen gave it: 0 shows "no data" instead of an empty
// frame, and the browser tests compare it (and the drawn marks) with what the API returned.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "htm/preact";
import { t, register } from "./i18n.js";

register({ zh: { noData: "暂无数据" }, en: { noData: "No data yet" } });

// Colours shared by every chart: blue for diligence/time, orange for ability/score, red for alerts.
export const COLORS = ["#2f6fdf", "#e8833a", "#2e9d6b", "#c93c3c", "#7a5fc9", "#8a8f98"];

export function Chart({ option, points, testid, height = 300 }) {
  const box = useRef(null);
  const chart = useRef(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    if (!points) return undefined;
    let gone = false;
    const resize = () => chart.current && chart.current.resize();
    import("./echarts.js").then(({ default: echarts }) => {
      if (gone) return;
      chart.current = echarts.init(box.current, null, { renderer: "svg" });
      window.addEventListener("resize", resize);
      setReady(true);
    });
    return () => {
      gone = true;
      window.removeEventListener("resize", resize);
      if (chart.current) chart.current.dispose();
      chart.current = null;
      setReady(false);
    };
  }, [Boolean(points)]);
  useEffect(() => {
    if (!chart.current) return;
    // no animation under test automation: the screenshots show the finished chart
    const animation = !navigator.webdriver;
    chart.current.setOption({ color: COLORS, animation, ...option }, true);
    box.current.dataset.rendered = "1";
  }, [option, points, ready]);
  if (!points) {
    return html`<p class="muted empty-chart" data-chart=${testid} data-testid=${testid} data-points="0">${t("noData")}</p>`;
  }
  return html`<div class="chart" ref=${box} data-chart=${testid} data-testid=${testid}
    data-points=${points} style=${`height:${height}px`}></div>`;
}
