// The part of Apache ECharts BPC draws with, in its own bundle: loaded with the first chart, so
// the workbench and the daily log (no charts) open without it.
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

echarts.use([
  BarChart, FunnelChart, GraphChart, LineChart,
  DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent,
  SVGRenderer,
]);

export default echarts;
