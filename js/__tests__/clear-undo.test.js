// Clear has a way back: "Conversation cleared · Undo" for a few seconds; Clear sits in the
// header, away from Send.
import { afterEach, describe, expect, it, vi } from "vitest";
import { UNDO_MS } from "../src/undo-toast.js";
import { chat, message, setup, unmountAll } from "./helpers.js";

afterEach(() => {
  unmountAll();
  vi.useRealTimers();
});

const two = () => chat([message({ role: "user", id: "u1" }), message({ id: "a1" })]);

describe("clear and undo", () => {
  it("Clear is in the header, not beside Send", () => {
    const { $ } = setup();
    const clear = $('[data-testid="clear"]');
    expect(clear.closest(".nbchat-header")).not.toBeNull();
    expect(clear.closest(".nbchat-composer")).toBeNull();
    expect(clear.getAttribute("aria-label")).toMatch(/clear/i);
  });

  it("once the kernel has cleared, Undo is offered; it sends undo-clear and goes", () => {
    vi.useFakeTimers();
    const { model, $ } = setup(two());
    const toast = $('[data-testid="toast"]');
    expect(toast.hidden).toBe(true);
    $('[data-testid="clear"]').click();
    const [clear] = model.intents("clear");
    expect(toast.hidden).toBe(true); // not before the kernel did it
    model.update({ pages: [], recent: [] });
    model.emit({ type: "ack", id: clear.id });
    expect(toast.hidden).toBe(false);
    expect(toast.textContent).toContain("Conversation cleared");
    $('[data-testid="undo-clear"]').click();
    expect(model.intents("undo-clear")).toHaveLength(1);
    expect(toast.hidden).toBe(true);
  });

  it("the offer goes after a few seconds, or when the conversation gets messages", () => {
    vi.useFakeTimers();
    const { model, $ } = setup(two());
    const toast = $('[data-testid="toast"]');
    $('[data-testid="clear"]').click();
    model.update({ pages: [], recent: [] });
    model.emit({ type: "ack", id: model.intents("clear")[0].id });
    expect(toast.hidden).toBe(false);
    vi.advanceTimersByTime(UNDO_MS + 1);
    expect(toast.hidden).toBe(true);

    $('[data-testid="clear"]').click(); // nothing to clear: nothing to undo
    model.emit({ type: "ack", id: model.intents("clear")[1].id });
    expect(toast.hidden).toBe(true);

    model.update(two());
    $('[data-testid="clear"]').click();
    model.update({ pages: [], recent: [] });
    model.emit({ type: "ack", id: model.intents("clear")[2].id });
    expect(toast.hidden).toBe(false);
    model.update(chat([message({ role: "user", id: "u9" })]));
    expect(toast.hidden).toBe(true);
  });
});
