// The one module that knows the charting library (uPlot, ~50 kB minified): a stacked bar per
// turn (prompt + completion tokens) and the cumulative total as a line on a second axis. The
// tooltip is a DOM element owned by the view; this module only reports which turn is hovered.

import uPlot from "uplot";

export { uPlot };

/**
 * @typedef {object} UsageSeries
 * @property {number[]} turns 1-based ordinal of each assistant turn shown (turns without usage are skipped)
 * @property {number[]} prompt
 * @property {number[]} completion
 * @property {number[]} total
 * @property {number[]} cumulative running sum of `total`
 * @property {(number | null)[]} [cost] USD per turn, null when unknown (usage-view.js)
 * @property {(number | null)[]} [cumulativeCost] running sum of the known costs
 * @property {(string | null)[]} [priceSource] where each price came from, and as of when
 */

/**
 * @typedef {object} UsageColors
 * @property {string} prompt
 * @property {string} completion
 * @property {string} line
 * @property {string} text
 * @property {string} grid
 * @property {string} font
 */

/**
 * @typedef {object} UsageChart
 * @property {(series: UsageSeries, colors: UsageColors) => void} update
 * @property {(width: number, height: number) => void} resize
 * @property {() => void} destroy
 * @property {() => uPlot} plot the current uPlot instance (replaced when the theme changes)
 */

/** Default size before the first resize (px). */
const WIDTH = 600;
const HEIGHT = 200;

/** Bars are 60% of a turn's slot, at most 40 px wide (uPlot's `bars` size below). */
const BAR_FRACTION = 0.6;
const BAR_MAX_PX = 40;

/**
 * Round ticks from 0 to at least `max`: about `count` steps of 1, 2, 2.5 or 5 × 10^k, the last
 * one at or above `max` (so an axis never stops below its line's highest point).
 * @param {number} max
 * @param {number} [count]
 * @returns {number[]}
 */
export function niceTicks(max, count = 4) {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const raw = top / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const n = Math.ceil(top / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => +(i * step).toPrecision(12));
}

/**
 * uPlot's columns: x (1..n), the stack top (prompt + completion), prompt, cumulative. Bars are
 * stacked by drawing the stack top first and the prompt bar over its lower part.
 * @param {UsageSeries} s
 * @returns {uPlot.AlignedData}
 */
export function plotData(s) {
  return [
    s.turns.map((_, i) => i + 1),
    s.prompt.map((p, i) => p + s.completion[i]),
    s.prompt.slice(),
    s.cumulative.slice(),
  ];
}

/**
 * @param {UsageSeries} s
 * @param {UsageColors} c
 * @param {(index: number | null, x: number, y: number, halfBar: number) => void} onHover
 * @param {{width: number, height: number}} size
 * @returns {uPlot.Options}
 */
function options(s, c, onHover, size) {
  const font = `10px ${c.font}`;
  const bars = uPlot.paths.bars?.({ size: [BAR_FRACTION, BAR_MAX_PX], align: 0 });
  /** The top of an axis: its last round tick. @param {number} max */
  const top = (max) => /** @type {number} */ (niceTicks(max).at(-1));
  /** @param {uPlot} _u @param {number} v */
  const count = (_u, v) => (v >= 10000 ? `${Math.round(v / 1000)}k` : String(Math.round(v)));
  const yAxis = {
    stroke: c.text,
    font,
    size: 40,
    grid: { stroke: c.grid, width: 1 },
    ticks: { show: false },
    values: (/** @type {uPlot} */ u, /** @type {number[]} */ vs) => vs.map((v) => count(u, v)),
  };
  return {
    width: size.width,
    height: size.height,
    legend: { show: false },
    padding: [8, 4, 0, 4],
    cursor: {
      x: false,
      y: false,
      points: { show: false },
      drag: { x: false, y: false, setScale: false },
    },
    scales: {
      x: { time: false, range: (_u, _min, _max) => [0.5, s.turns.length + 0.5] },
      y: { range: (_u, _min, max) => [0, top(max)] },
      cum: { range: (_u, _min, max) => [0, top(max)] },
    },
    axes: [
      {
        stroke: c.text,
        font,
        size: 24,
        grid: { show: false },
        ticks: { show: false },
        splits: () => s.turns.map((_, i) => i + 1),
        values: (_u, vs) => vs.map((v) => (Number.isInteger(v) && s.turns[v - 1] != null ? `#${s.turns[v - 1]}` : "")),
      },
      {
        ...yAxis,
        scale: "y",
        label: "tokens / turn",
        labelFont: font,
        labelSize: 14,
        splits: (/** @type {uPlot} */ u) => niceTicks(u.scales.y.max ?? 1),
      },
      {
        ...yAxis,
        scale: "cum",
        side: 1,
        grid: { show: false },
        label: "cumulative",
        labelFont: font,
        labelSize: 14,
        // the same round steps, up to the line's highest point (not only 0 and one tick)
        splits: (/** @type {uPlot} */ u) => niceTicks(u.scales.cum.max ?? 1),
      },
    ],
    series: [
      {},
      { label: "completion", scale: "y", fill: c.completion, stroke: c.completion, width: 0, paths: bars, points: { show: false } },
      { label: "prompt", scale: "y", fill: c.prompt, stroke: c.prompt, width: 0, paths: bars, points: { show: false } },
      { label: "cumulative", scale: "cum", stroke: c.line, width: 2, points: { show: true, size: 5, fill: c.line } },
    ],
    hooks: {
      setCursor: [
        (u) => {
          const i = u.cursor.idx;
          if (i == null || u.cursor.left == null || u.cursor.left < 0) return onHover(null, 0, 0, 0);
          const stack = /** @type {number} */ (u.data[1][i]);
          // positions relative to the chart's root element (the plot area is offset by the axes)
          const x = u.over.offsetLeft + u.valToPos(i + 1, "x");
          const y = u.over.offsetTop + u.valToPos(stack, "y");
          const slot = Math.abs(u.valToPos(2, "x") - u.valToPos(1, "x"));
          onHover(i, x, y, Math.min(slot * BAR_FRACTION, BAR_MAX_PX) / 2);
        },
      ],
    },
  };
}

/**
 * @param {HTMLElement} box the element the chart is appended to
 * @param {UsageSeries} series
 * @param {UsageColors} colors
 * @param {(index: number | null, x: number, y: number, halfBar: number) => void} onHover
 *   called with the index into `series` of the hovered turn, or null when nothing is hovered
 * @returns {UsageChart}
 */
export function createUsageChart(box, series, colors, onHover) {
  let size = { width: WIDTH, height: HEIGHT };
  let current = series;
  let colorKey = JSON.stringify(colors);
  // scales/axes read `current` through these closures, so setData keeps them in step
  const make = (/** @type {UsageColors} */ c) =>
    new uPlot(options(proxy, c, onHover, size), plotData(current), box);
  /** @type {UsageSeries} */
  const proxy = {
    get turns() { return current.turns; },
    get prompt() { return current.prompt; },
    get completion() { return current.completion; },
    get total() { return current.total; },
    get cumulative() { return current.cumulative; },
  };
  let plot = make(colors);
  return {
    plot: () => plot,
    update(next, nextColors) {
      current = next;
      const key = JSON.stringify(nextColors);
      if (key !== colorKey) {
        // colours live in the options: rebuild (only on a theme change)
        colorKey = key;
        plot.destroy();
        plot = make(nextColors);
      } else {
        plot.setData(plotData(next));
      }
    },
    resize(width, height) {
      if (width > 0 && height > 0 && (width !== size.width || height !== size.height)) {
        size = { width, height };
        plot.setSize(size);
      }
    },
    destroy() {
      plot.destroy();
    },
  };
}
