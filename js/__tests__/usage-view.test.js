import { afterEach, describe, expect, it, vi } from "vitest";
import { chat, message, mount, setup, unmountAll } from "./helpers.js";

// The real uPlot runs (on the stub canvas of setup.js); the spy hands the tests the chart each
// view created, so they can read the data passed to the library.
vi.mock("../src/usage-chart.js", async (importOriginal) => {
  const mod = await importOriginal();
  return { ...mod, createUsageChart: vi.fn(mod.createUsageChart) };
});
const { createUsageChart } = await import("../src/usage-chart.js");
const { usageSeries, usageSummary, tooltipLines } = await import("../src/usage-view.js");

afterEach(() => {
  unmountAll();
  vi.mocked(createUsageChart).mockClear();
});

const usage = (prompt, completion, total = prompt + completion) => ({ prompt, completion, total });

/** user/assistant pairs; `usages[i]` is the usage of reply i (null = none reported). */
function conversation(usages) {
  return usages.flatMap((u, i) => [
    message({ id: `u${i}`, role: "user", content: `q${i}` }),
    message({ id: `a${i}`, role: "assistant", content: `a${i}`, usage: u }),
  ]);
}

/** The uPlot instance of the last chart created. */
function lastPlot() {
  const results = vi.mocked(createUsageChart).mock.results;
  expect(results.length).toBeGreaterThan(0);
  return results[results.length - 1].value;
}

const numbers = (text) => (text.match(/[\d,]+/g) ?? []).map((n) => Number(n.replace(/,/g, "")));

describe("usage toggle", () => {
  it("shows and hides the usage view, with aria-pressed", () => {
    const { $ } = setup(chat(conversation([usage(10, 5)])));
    const toggle = $('button[data-testid="usage-toggle"]');
    const view = $('[data-testid="usage-view"]');
    expect(toggle.textContent).toBe("Usage");
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    expect(view.hidden).toBe(true);
    // above the message list
    expect(view.compareDocumentPosition($('[data-testid="messages"]')) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    toggle.click();
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    expect(view.hidden).toBe(false);
    expect(createUsageChart).toHaveBeenCalledTimes(1);
    const plot = lastPlot().plot();
    toggle.click();
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    expect(view.hidden).toBe(true);
    // hidden: the chart is freed
    expect(plot.root.isConnected).toBe(false);
  });

  it("does not build a chart while hidden", () => {
    const { model } = setup(chat(conversation([usage(10, 5)])));
    model.update(chat(conversation([usage(10, 5), usage(20, 7)])));
    expect(createUsageChart).not.toHaveBeenCalled();
  });
});

describe("usage data", () => {
  it("summary numbers and chart data match the messages; turns without usage are skipped", () => {
    const { $ } = setup({
      ...chat(conversation([usage(12, 30), null, usage(50, 8, 60), { prompt: null, completion: null, total: null }])),
    });
    $('[data-testid="usage-toggle"]').click();
    expect($('[data-testid="usage-summary"]').textContent).toBe(
      "2 turns · prompt 62 · completion 38 · total 102 tokens · cost —",
    );
    expect($('[data-testid="usage-empty"]').hidden).toBe(true);
    const data = lastPlot().plot().data;
    expect(data[0]).toEqual([1, 2]); // x positions
    expect(data[1]).toEqual([42, 58]); // stack top: prompt + completion
    expect(data[2]).toEqual([12, 50]); // prompt
    expect(data[3]).toEqual([42, 102]); // cumulative total (reported total wins)
    // the labels are the turns' ordinals among all replies (the 2nd reply had no usage)
    expect(usageSeries(conversation([usage(12, 30), null, usage(50, 8, 60)])).turns).toEqual([1, 3]);
  });

  it("says so when no turn reported usage", () => {
    const { $ } = setup(chat(conversation([null, null])));
    $('[data-testid="usage-toggle"]').click();
    const empty = $('[data-testid="usage-empty"]');
    expect(empty.hidden).toBe(false);
    expect(empty.textContent).toBe("no token usage reported");
    expect($('[data-testid="usage-chart"]').hidden).toBe(true);
    expect(createUsageChart).not.toHaveBeenCalled();
  });

  it("updates the chart when messages change, without rebuilding it", () => {
    const { model, $ } = setup(chat(conversation([usage(10, 5)])));
    $('[data-testid="usage-toggle"]').click();
    const chart = lastPlot();
    const plot = chart.plot();
    const setData = vi.spyOn(plot, "setData");
    model.update(chat(conversation([usage(10, 5), usage(20, 7)])));
    expect(createUsageChart).toHaveBeenCalledTimes(1);
    expect(setData).toHaveBeenCalledTimes(1);
    expect(chart.plot()).toBe(plot);
    expect(plot.data[2]).toEqual([10, 20]);
    expect(plot.data[3]).toEqual([15, 42]);
    expect(numbers($('[data-testid="usage-summary"]').textContent)).toEqual([2, 30, 12, 42]);
    // a change that does not touch usage (e.g. a streaming trait) does not redraw
    model.update(chat(conversation([usage(10, 5), usage(20, 7)])));
    expect(setData).toHaveBeenCalledTimes(1);
  });

  it("tooltip lines and summary format", () => {
    const s = usageSeries(conversation([usage(1200, 34), usage(5, 6)]));
    expect(usageSummary(s)).toBe("2 turns · prompt 1,205 · completion 40 · total 1,245 tokens · cost —");
    expect(tooltipLines(s, 1)).toEqual(["Turn 2", "prompt 5", "completion 6", "total 11", "cumulative 1,245", "cost —"]);
  });

  it("shows a DOM tooltip for the hovered turn", () => {
    const { $ } = setup(chat(conversation([usage(10, 5), usage(20, 7)])));
    $('[data-testid="usage-toggle"]').click();
    const plot = lastPlot().plot();
    const tip = $('[data-testid="usage-tooltip"]');
    expect(tip.hidden).toBe(true);
    plot.cursor.idx = 1;
    plot.cursor.left = 100;
    // what uPlot's setCursor hook does on hover
    for (const hook of plot.hooks.setCursor) hook(plot);
    expect(tip.hidden).toBe(false);
    expect(tip.dataset.turn).toBe("2");
    expect(tip.textContent).toContain("Turn 2");
    expect(numbers(tip.textContent)).toEqual([2, 20, 7, 27, 42]);
    plot.cursor.left = -10;
    for (const hook of plot.hooks.setCursor) hook(plot);
    expect(tip.hidden).toBe(true);
  });
});

describe("cleanup", () => {
  it("destroys the chart and disconnects the observers", () => {
    const observed = [];
    const disconnected = [];
    globalThis.ResizeObserver = class {
      observe(el) { observed.push(el); }
      disconnect() { disconnected.push(this); }
      unobserve() {}
    };
    try {
      const m = mount(chat(conversation([usage(10, 5)])));
      m.$('[data-testid="usage-toggle"]').click();
      const plot = lastPlot().plot();
      const destroy = vi.spyOn(plot, "destroy");
      expect(observed).toContain(m.$('[data-testid="usage-chart"]'));
      const before = disconnected.length;
      m.teardown();
      expect(destroy).toHaveBeenCalledTimes(1);
      expect(plot.root.isConnected).toBe(false);
      expect(disconnected.length).toBeGreaterThan(before);
      expect(m.model.listenerCount()).toBe(0);
    } finally {
      delete globalThis.ResizeObserver;
    }
  });
});

describe("chart axes and tooltip placement", () => {
  it("axis ticks are round steps that reach the highest value", async () => {
    const { niceTicks } = await import("../src/usage-chart.js");
    expect(niceTicks(3269)).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(niceTicks(2000)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(niceTicks(27)).toEqual([0, 10, 20, 30]);
    expect(niceTicks(0)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    for (const max of [1, 7, 99, 101, 1234, 98765]) {
      const t = niceTicks(max);
      expect(t.at(-1)).toBeGreaterThanOrEqual(max);
      expect(t.length).toBeGreaterThanOrEqual(3);
      expect(t.length).toBeLessThanOrEqual(7);
    }
  });

  it("the right axis runs to the cumulative line's top with ticks on the way", () => {
    const { $ } = setup(chat(conversation([usage(1000, 200), usage(1500, 569), usage(400, 100)])));
    $('[data-testid="usage-toggle"]').click();
    const plot = lastPlot().plot();
    const cumAxis = plot.axes.find((a) => a.scale === "cum");
    const range = plot.scales.cum.range(plot, 0, 3769);
    expect(range).toEqual([0, 4000]);
    expect(cumAxis.splits(Object.assign(plot, { scales: { ...plot.scales, cum: { ...plot.scales.cum, max: 4000 } } }))).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it("the tooltip sits beside the hovered bar, not over it", () => {
    const { $ } = setup(chat(conversation([usage(10, 5), usage(20, 7)])));
    $('[data-testid="usage-toggle"]').click();
    const tip = $('[data-testid="usage-tooltip"]');
    const box = $('[data-testid="usage-chart"]');
    Object.defineProperty(box, "clientWidth", { configurable: true, get: () => 600 });
    // what the chart reports on hover: (index, bar centre x, bar top y, half the bar's width)
    const onHover = vi.mocked(createUsageChart).mock.calls.at(-1)[3];
    // left half: right of the bar's right edge
    onHover(0, 100, 50, 20);
    expect(tip.hidden).toBe(false);
    expect(parseFloat(tip.style.left)).toBeGreaterThanOrEqual(100 + 20);
    // right half: its right edge left of the bar's left edge
    onHover(1, 500, 50, 20);
    expect(tip.style.left).toBe("");
    expect(600 - parseFloat(tip.style.right)).toBeLessThanOrEqual(500 - 20);
  });
});
