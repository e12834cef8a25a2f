// A panel whose kernel is gone (restarted, or a reopened notebook whose cell has not run)
// keeps the user's text, says it is not connected, and disables Send until the kernel answers.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ANSWER_TIMEOUT_MS } from "../src/channel.js";
import { NOT_CONNECTED } from "../src/index.js";
import { press, setup, unmountAll } from "./helpers.js";

afterEach(() => {
  unmountAll();
  vi.useRealTimers();
});

const type = ($, text) => {
  const ta = $('[data-testid="composer"]');
  ta.value = text;
  press(ta, "Enter");
  return ta;
};

describe("not connected", () => {
  it("an unanswered send puts the text back, shows the notice and disables Send", () => {
    vi.useFakeTimers();
    const { model, $ } = setup();
    const notice = $('[data-testid="not-connected"]');
    expect(notice.hidden).toBe(true);
    const ta = type($, "hello?");
    expect(model.intents("send")).toHaveLength(1);
    expect(ta.value).toBe("");
    vi.advanceTimersByTime(ANSWER_TIMEOUT_MS - 1);
    expect(notice.hidden).toBe(true);
    vi.advanceTimersByTime(2);
    expect(ta.value).toBe("hello?");
    expect(notice.hidden).toBe(false);
    expect(notice.textContent).toBe(NOT_CONNECTED);
    expect(notice.textContent).toMatch(/run the cell/);
    const send = $('[data-testid="send"]');
    expect(send.disabled).toBe(true);
    // Enter and the button send nothing meanwhile, and the text stays
    press(ta, "Enter");
    send.click();
    expect(model.intents("send")).toHaveLength(1);
    expect(ta.value).toBe("hello?");
    expect($('[data-testid="status"]').textContent).toContain("Not connected");
  });

  it("an answered send clears the text for good; no notice", () => {
    vi.useFakeTimers();
    const { model, $ } = setup();
    const ta = type($, "hi");
    model.emit({ type: "ack", id: model.intents("send")[0].id });
    vi.advanceTimersByTime(ANSWER_TIMEOUT_MS * 3);
    expect(ta.value).toBe("");
    expect($('[data-testid="not-connected"]').hidden).toBe(true);
    expect($('[data-testid="send"]').disabled).toBe(false);
  });

  it("a late answer (a busy kernel) reconnects and takes back the restored text", () => {
    vi.useFakeTimers();
    const { model, $ } = setup();
    const ta = type($, "slow");
    vi.advanceTimersByTime(ANSWER_TIMEOUT_MS + 1);
    expect(ta.value).toBe("slow");
    model.emit({ type: "ack", id: model.intents("send")[0].id });
    expect(ta.value).toBe("");
    expect($('[data-testid="not-connected"]').hidden).toBe(true);
    expect($('[data-testid="send"]').disabled).toBe(false);
  });

  it("text typed after the send is never overwritten", () => {
    vi.useFakeTimers();
    const { $ } = setup();
    const ta = type($, "first");
    ta.value = "second, typed meanwhile";
    vi.advanceTimersByTime(ANSWER_TIMEOUT_MS + 1);
    expect(ta.value).toBe("second, typed meanwhile");
  });

  it("any kernel message (a delta) means connected again", () => {
    vi.useFakeTimers();
    const { model, $ } = setup();
    $('[data-testid="clear"]').click();
    vi.advanceTimersByTime(ANSWER_TIMEOUT_MS + 1);
    expect($('[data-testid="not-connected"]').hidden).toBe(false);
    model.emit({ type: "delta", request_id: "rx", seq: 1, text: "x" });
    expect($('[data-testid="not-connected"]').hidden).toBe(true);
  });

  it("a model whose send throws is not connected at once", async () => {
    const { model, $ } = setup();
    model.send = () => {
      throw new Error("comm closed");
    };
    const err = vi.spyOn(console, "warn").mockImplementation(() => {});
    const ta = type($, "into the void");
    await Promise.resolve();
    expect(ta.value).toBe("into the void");
    expect($('[data-testid="not-connected"]').hidden).toBe(false);
    err.mockRestore();
  });
});
