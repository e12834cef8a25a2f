// Cost in the footer and the usage view, the budget badge, and the Raw view (issue 15).
import { afterEach, describe, expect, it, vi } from "vitest";
import { budgetText } from "../src/budget-badge.js";
import { footerValues, usd } from "../src/message-list.js";
import { chat, message, settle, setup, unmountAll } from "./helpers.js";

afterEach(unmountAll);

const reply = (over = {}) =>
  message({ id: "a1", usage: { prompt: 10, completion: 5, total: 15 }, cost: 0.0042, price_source: "set_price(): $1 in", request_bytes: 120, ...over });

const RAW = {
  type: "raw",
  message_id: "a1",
  attempts: [
    {
      method: "POST",
      url: "http://127.0.0.1:5/v1/chat/completions",
      headers: { "content-type": "application/json", authorization: "***" },
      body: { model: "demo", messages: [{ role: "user", content: "<img src=x onerror=alert(1)>" }] },
      status: 200,
      response_headers: {},
      sent: 0,
      error: null,
    },
  ],
  events: [
    { t: 0.01, event: "message", data: '{"choices":[]}' },
    { t: 0.02, event: "message", data: "[DONE]" },
  ],
  event_count: 2,
  omitted: 0,
  bytes: 40,
  curl: "curl -N 'http://127.0.0.1:5/v1/chat/completions' \\\n  -H \"authorization: Bearer $OPENAI_API_KEY\"",
};

describe("cost", () => {
  it("is shown in dollars, '—' when unknown, never $0 for unknown", () => {
    expect(footerValues(reply()).cost).toBe("$0.0042");
    expect(footerValues(reply({ cost: null })).cost).toBe("—");
    expect(usd(0.00001)).toBe("<$0.0001");
    expect(usd(12.5)).toBe("$12.50");
  });

  it("the footer names the price source; the usage view sums the cost", () => {
    const { $ } = setup(chat([message({ id: "u1", role: "user" }), reply()]));
    const cost = $('[data-testid="cost"]');
    expect(cost.textContent).toBe("$0.0042");
    expect(cost.closest(".nbchat-stat").title).toContain("set_price()");
    $('[data-testid="usage-toggle"]').click();
    expect($('[data-testid="usage-summary"]').textContent).toContain("cost $0.0042");
  });

  it("the usage tooltip gives each turn's cost, the running cost and the price source", async () => {
    const { usageSeries, tooltipLines } = await import("../src/usage-view.js");
    const src = "genai-prices 0.2.3: OpenAI gpt-4o, prices in effect 2026-11-30";
    const s = usageSeries([
      message({ id: "u0", role: "user" }),
      reply({ id: "a0", cost: 0.002, price_source: src }),
      message({ id: "u1", role: "user" }),
      reply({ id: "a1", cost: null, price_source: null }),
      message({ id: "u2", role: "user" }),
      reply({ id: "a2", cost: 0.003, price_source: src }),
    ]);
    expect(tooltipLines(s, 0).slice(-3)).toEqual(["cost $0.0020", "cumulative cost $0.0020", `price: ${src}`]);
    expect(tooltipLines(s, 1).at(-1)).toBe("cost —"); // unknown: no running cost, no source
    expect(tooltipLines(s, 2).slice(-3)).toEqual(["cost $0.0030", "cumulative cost $0.0050", `price: ${src}`]);
  });

  it("the budget badge says what remains, hidden without a budget", () => {
    expect(budgetText({})).toBe("");
    expect(budgetText({ limit: 2, spent: 0.5, remaining: 1.5 })).toBe("$1.50 of $2.00 left");
    const { $, model } = setup({ ...chat([]), budget: {} });
    expect($('[data-testid="budget"]').hidden).toBe(true);
    model.update({ budget: { limit: 2, spent: 0.01, remaining: 1.99 } });
    expect($('[data-testid="budget"]').hidden).toBe(false);
    expect($('[data-testid="budget"]').textContent).toBe("Budget: $1.99 of $2.00 left");
  });
});

describe("the Raw view", () => {
  it("is collapsed and asks the kernel only when opened; shows body, events and curl as text", async () => {
    const { $, model } = setup(chat([message({ id: "u1", role: "user" }), reply()]));
    expect($('[data-testid="raw-view"]')).toBeNull();
    expect(model.intents("raw-request")).toEqual([]);
    const toggle = $('[data-testid="raw-toggle"]');
    toggle.click();
    const [intent] = model.intents("raw-request");
    expect(intent.message_id).toBe("a1");
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    model.emit({ ...RAW, id: intent.id });
    await settle();
    const view = $('[data-testid="raw-view"]');
    expect(view.querySelector('[data-testid="raw-body"]').textContent).toContain("onerror=alert(1)");
    expect(view.querySelector("img")).toBeNull(); // text, never markup
    expect(view.querySelector('[data-testid="raw-headers"]').textContent).toContain("authorization: ***");
    expect(view.querySelector('[data-testid="raw-events"]').textContent).toContain("+0.020 s  [DONE]");
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    view.querySelector('[data-testid="copy-curl"]').click();
    await settle();
    expect(writeText).toHaveBeenCalledWith(RAW.curl);
    toggle.click(); // collapse: the view goes
    expect($('[data-testid="raw-view"]')).toBeNull();
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
  });

  it("shows the kernel's error answer", async () => {
    const { $, model } = setup(chat([reply()]));
    $('[data-testid="raw-toggle"]').click();
    const [intent] = model.intents("raw-request");
    model.emit({ type: "error", id: intent.id, message: "no raw record for message 0" });
    await settle();
    expect($('[data-testid="raw-error"]').textContent).toBe("no raw record for message 0");
    expect($('[data-testid="notice"]').textContent).toBe(""); // said where it was asked, once
  });
});
