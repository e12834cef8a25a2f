// The usage view: a header toggle that shows, above the message list, the tokens of each
// assistant turn (stacked prompt + completion bars, cumulative total as a line) and a one-line
// summary. Built from the conversation only (conversation.js: `pages` + `recent`); re-rendered
// when it changes (once per committed message, never per delta) and only while shown.

import { button, h } from "./dom.js";
import { usd } from "./message-list.js";
import { createUsageChart } from "./usage-chart.js";

/** @typedef {import("./types").ChatMessage} ChatMessage */
/** @typedef {import("./usage-chart.js").UsageSeries} UsageSeries */
/** @typedef {import("./usage-chart.js").UsageColors} UsageColors */
/** @typedef {import("./usage-chart.js").UsageChart} UsageChart */

/**
 * @param {unknown} v
 * @returns {v is number}
 */
function known(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * One entry per assistant turn that reported usage, in order. `turns` holds the turn's ordinal
 * among all assistant replies, so a skipped turn leaves a gap in the numbering.
 * @param {ChatMessage[] | null | undefined} messages
 * @returns {UsageSeries}
 */
export function usageSeries(messages) {
  /** @type {UsageSeries} */
  const s = { turns: [], prompt: [], completion: [], total: [], cumulative: [], cost: [], cumulativeCost: [], priceSource: [] };
  let turn = 0;
  let running = 0;
  /** @type {number | null} running sum of the known costs (null until one is known) */
  let spent = null;
  for (const m of Array.isArray(messages) ? messages : []) {
    if (m?.role !== "assistant") continue;
    turn += 1;
    const u = m.usage;
    if (!u) continue;
    const prompt = known(u.prompt) ? u.prompt : null;
    const completion = known(u.completion) ? u.completion : null;
    if (prompt === null && completion === null && !known(u.total)) continue;
    const total = known(u.total) ? u.total : (prompt ?? 0) + (completion ?? 0);
    running += total;
    s.turns.push(turn);
    s.prompt.push(prompt ?? 0);
    s.completion.push(completion ?? 0);
    s.total.push(total);
    s.cumulative.push(running);
    const cost = known(m.cost) ? m.cost : null;
    if (cost !== null) spent = (spent ?? 0) + cost;
    s.cost?.push(cost);
    s.cumulativeCost?.push(spent);
    s.priceSource?.push(m.price_source ?? null);
  }
  return s;
}

/** @param {number} n */
const fmt = (n) => n.toLocaleString("en-US");
/** @param {number[]} xs */
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/**
 * "N turns · prompt P · completion C · total T tokens"
 * @param {UsageSeries} s
 */
export function usageSummary(s) {
  const n = s.turns.length;
  return (
    `${n} ${n === 1 ? "turn" : "turns"} · prompt ${fmt(sum(s.prompt))} · ` +
    `completion ${fmt(sum(s.completion))} · total ${fmt(sum(s.total))} tokens · ` +
    `cost ${costText(s.cumulativeCost?.[s.cumulativeCost.length - 1])}`
  );
}

/** A cost, or "—" when unknown (never $0 for unknown). @param {number | null | undefined} n */
function costText(n) {
  return known(n) ? usd(n) : "—";
}

/**
 * The lines of the tooltip of entry `i`.
 * @param {UsageSeries} s
 * @param {number} i
 */
export function tooltipLines(s, i) {
  return [
    `Turn ${s.turns[i]}`,
    `prompt ${fmt(s.prompt[i])}`,
    `completion ${fmt(s.completion[i])}`,
    `total ${fmt(s.total[i])}`,
    `cumulative ${fmt(s.cumulative[i])}`,
    `cost ${costText(s.cost?.[i])}`,
    ...(known(s.cost?.[i]) ? [`cumulative cost ${costText(s.cumulativeCost?.[i])}`] : []),
    ...(s.priceSource?.[i] ? [`price: ${s.priceSource[i]}`] : []),
  ];
}

/**
 * Chart colours from the JupyterLab theme variables in effect on `el` (with light fallbacks).
 * @param {Element} el
 * @returns {UsageColors}
 */
export function themeColors(el) {
  const style = el.isConnected ? getComputedStyle(el) : null;
  const v = (/** @type {string} */ name, /** @type {string} */ fallback) =>
    style?.getPropertyValue(name).trim() || fallback;
  return {
    prompt: v("--jp-brand-color1", "#1976d2"),
    completion: v("--jp-warn-color1", "#f57c00"),
    line: v("--jp-ui-font-color1", "rgba(0, 0, 0, 0.87)"),
    text: v("--jp-ui-font-color1", "rgba(0, 0, 0, 0.87)"),
    grid: v("--jp-border-color2", "#e0e0e0"),
    font: v("--jp-ui-font-family", "system-ui, sans-serif"),
  };
}

/**
 * @param {string} cls
 * @param {string} text
 * @param {string} color CSS colour of the swatch
 */
function legendItem(cls, text, color) {
  const sw = h("span", { className: `nbchat-usage-swatch ${cls}`, attrs: { "aria-hidden": "true" } });
  sw.style.background = color;
  return h("span", { className: "nbchat-usage-key" }, [sw, text]);
}

export class UsageView {
  /**
   * @param {() => Element} themeRoot the element whose computed styles give the theme colours
   * @param {AbortSignal} signal removes the listeners when aborted
   */
  constructor(themeRoot, signal) {
    this.themeRoot = themeRoot;
    this.toggle = button("Usage", "Show token usage", {
      testid: "usage-toggle",
      action: "usage",
      className: "nbchat-btn nbchat-btn-ghost nbchat-usage-toggle",
    });
    this.toggle.setAttribute("aria-pressed", "false");
    this.summary = h("div", { className: "nbchat-usage-summary", testid: "usage-summary" });
    this.legend = h("div", { className: "nbchat-usage-legend", attrs: { "aria-hidden": "true" } });
    this.emptyNote = h("div", { className: "nbchat-usage-empty", testid: "usage-empty", text: "no token usage reported" });
    this.tooltip = h("div", { className: "nbchat-usage-tooltip", testid: "usage-tooltip", attrs: { role: "tooltip" } });
    this.tooltip.hidden = true;
    this.box = h("div", { className: "nbchat-usage-chart", testid: "usage-chart", attrs: { role: "img", "aria-label": "Tokens per turn" } }, [this.tooltip]);
    this.el = h(
      "div",
      { className: "nbchat-usage", testid: "usage-view", attrs: { role: "region", "aria-label": "Token usage" } },
      [h("div", { className: "nbchat-usage-top" }, [this.summary, this.legend]), this.emptyNote, this.box],
    );
    this.el.id = `nbchat-usage-${Math.random().toString(36).slice(2, 10)}`;
    this.toggle.setAttribute("aria-controls", this.el.id);
    this.el.hidden = true;
    /** @type {ChatMessage[]} */
    this.messages = [];
    /** @type {UsageSeries} */
    this.series = usageSeries([]);
    /** @type {UsageChart | null} */
    this.chart = null;
    /** Signature of what is on screen; a render with the same one does nothing. */
    this.shown = "";
    /** @type {ResizeObserver | null} */
    this.resizeObserver = null;
    /** @type {MutationObserver | null} */
    this.themeObserver = null;
    this.el.addEventListener("mouseleave", () => this.showTooltip(null, 0, 0), { signal });
  }

  get open() {
    return !this.el.hidden;
  }

  /** @param {boolean} open */
  setOpen(open) {
    this.el.hidden = !open;
    this.toggle.setAttribute("aria-pressed", String(open));
    this.toggle.classList.toggle("nbchat-pressed", open);
    this.toggle.setAttribute("aria-label", open ? "Hide token usage" : "Show token usage");
    this.toggle.title = this.toggle.getAttribute("aria-label") ?? "";
    if (open) {
      this.observe();
      this.render();
    } else {
      // Nothing is drawn while hidden: free the chart and its observers.
      this.showTooltip(null, 0, 0);
      this.teardownChart();
    }
  }

  /** @param {ChatMessage[]} messages */
  setMessages(messages) {
    this.messages = Array.isArray(messages) ? messages : [];
    if (this.open) this.render();
  }

  render() {
    const series = usageSeries(this.messages);
    const colors = themeColors(this.themeRoot());
    const sig = JSON.stringify([series, colors]);
    if (sig === this.shown && (this.chart || series.turns.length === 0)) return;
    this.shown = sig;
    this.series = series;
    const none = series.turns.length === 0;
    this.summary.textContent = usageSummary(series);
    this.emptyNote.hidden = !none;
    this.box.hidden = none;
    this.legend.replaceChildren(
      legendItem("nbchat-usage-swatch-bar", "prompt", colors.prompt),
      legendItem("nbchat-usage-swatch-bar", "completion", colors.completion),
      legendItem("nbchat-usage-swatch-line", "cumulative", colors.line),
    );
    this.box.setAttribute(
      "aria-label",
      none ? "No token usage" : `Tokens per turn for ${series.turns.length} turns: ${usageSummary(series)}`,
    );
    if (none) {
      this.showTooltip(null, 0, 0);
      this.destroyChart();
      return;
    }
    if (this.chart) this.chart.update(series, colors);
    else {
      this.chart = createUsageChart(this.box, series, colors, (i, x, y, half) => this.showTooltip(i, x, y, half));
      this.fit();
    }
  }

  /** Size the canvas to its box. */
  fit() {
    if (!this.chart) return;
    this.chart.resize(this.box.clientWidth, this.box.clientHeight);
  }

  observe() {
    if (!this.resizeObserver && typeof ResizeObserver === "function") {
      this.resizeObserver = new ResizeObserver(() => this.fit());
      this.resizeObserver.observe(this.box);
    }
    // JupyterLab switches themes by changing attributes on <body>: re-read the colours.
    if (!this.themeObserver && typeof MutationObserver === "function" && document.body) {
      this.themeObserver = new MutationObserver(() => this.render());
      this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
    }
  }

  /**
   * @param {number | null} index into the series, or null to hide
   * @param {number} x centre of the hovered bar in the chart box (px)
   * @param {number} y top of the bar
   * @param {number} [halfBar] half the bar's width: the tooltip sits beside the bar, not on it
   */
  showTooltip(index, x, y, halfBar = 0) {
    const tip = this.tooltip;
    if (index === null || index < 0 || index >= this.series.turns.length) {
      tip.hidden = true;
      return;
    }
    const lines = tooltipLines(this.series, index);
    tip.replaceChildren(
      h("div", { className: "nbchat-usage-tooltip-title", text: lines[0] }),
      ...lines.slice(1).map((text) => h("div", { text })),
    );
    tip.dataset.turn = String(this.series.turns[index]);
    tip.hidden = false;
    // keep it inside the box: right of the bar, or left of it in the right half
    const w = this.box.clientWidth;
    const gap = halfBar + 8;
    tip.style.top = `${Math.max(0, y - 10)}px`;
    if (w && x > w / 2) {
      tip.style.left = "";
      tip.style.right = `${Math.max(0, w - x + gap)}px`;
    } else {
      tip.style.right = "";
      tip.style.left = `${x + gap}px`;
    }
  }

  destroyChart() {
    this.chart?.destroy();
    this.chart = null;
  }

  /** Destroy the chart and disconnect the observers. */
  teardownChart() {
    this.destroyChart();
    this.shown = "";
    this.resizeObserver?.disconnect();
    this.resizeObserver = null;
    this.themeObserver?.disconnect();
    this.themeObserver = null;
  }

  destroy() {
    this.teardownChart();
  }
}
