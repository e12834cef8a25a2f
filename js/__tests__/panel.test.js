import { afterEach, describe, expect, it, vi } from "vitest";
import widget from "../src/index.js";
import { fakeModel } from "./fake-model.js";
import { chat, frame, message, press, startStreaming, setup, unmountAll } from "./helpers.js";

/** @type {Array<() => void>} */
afterEach(unmountAll);

describe("rendering the conversation (pages + recent)", () => {
  it("renders root, header and every message with its attributes", () => {
    const { $, $$ } = setup({
      ...chat([
        message({ id: "u1", role: "user", content: "hi **there**" }),
        message({ id: "a1", role: "assistant", content: "Hello **you**" }),
      ]),
    });
    expect($('div.nbchat[data-testid="nbchat"]')).not.toBeNull();
    expect($(".nbchat-title").textContent).toBe("nbchat");
    expect($('[data-testid="backend"]').textContent).toContain("demo model");
    const msgs = $$('[data-testid="messages"] .nbchat-msg');
    expect(msgs.map((m) => m.dataset.role)).toEqual(["user", "assistant"]);
    expect(msgs.map((m) => m.dataset.id)).toEqual(["u1", "a1"]);
    expect(msgs[0].dataset.status).toBe("complete");
    // user text is plain text, assistant text is markdown
    const user = msgs[0].querySelector('[data-testid="content"]');
    expect(user.textContent).toBe("hi **there**");
    expect(user.querySelector("strong")).toBeNull();
    expect(msgs[1].querySelector('[data-testid="content"] strong').textContent).toBe("you");
    expect(msgs[1].querySelector('[data-testid="footer"]')).not.toBeNull();
    expect(msgs[0].querySelector('[data-testid="footer"]')).toBeNull();
    expect($$('[data-testid="copy"]')).toHaveLength(2);
  });

  it("updates only the messages that changed, keyed by id", () => {
    const { model, $ } = setup(chat([message({ id: "u1", role: "user", content: "a" })]));
    const first = $('[data-id="u1"]');
    model.update(chat([message({ id: "u1", role: "user", content: "a" }), message({ id: "a1" })]));
    expect($('[data-id="u1"]')).toBe(first);
    model.update(chat([]));
    expect($(".nbchat-msg")).toBeNull();
  });

  it("shows a tool request as a code block and never runs it", () => {
    const { $ } = setup({
      ...chat([message({ tool_request: { name: "rm", arguments: '{"path": "/"}', id: "t1" } })]),
    });
    const tool = $('[data-testid="tool-request"]');
    expect(tool.textContent).toContain("rm");
    expect(tool.querySelector("pre code").textContent).toContain('"path": "/"');
    expect(tool.querySelector('[data-testid="copy-code"]')).not.toBeNull();
  });
});

describe("composer", () => {
  it("Enter sends a send intent and clears; Shift+Enter and blank input do not", () => {
    const { model, $ } = setup();
    const ta = $('textarea[data-testid="composer"]');
    expect(ta.getAttribute("aria-label")).toBeTruthy();
    ta.value = "line one";
    const shift = press(ta, "Enter", { shiftKey: true });
    expect(model.intents("send")).toHaveLength(0);
    // the composer inserts the line break itself (no host handler can swallow it)
    expect(shift.defaultPrevented).toBe(true);
    expect(ta.value).toBe("line one\n");
    ta.value = "   \n ";
    press(ta, "Enter");
    expect(model.intents("send")).toHaveLength(0);
    ta.value = "hello";
    const ev = press(ta, "Enter");
    expect(ev.defaultPrevented).toBe(true);
    expect(model.intents("send")).toEqual([{ type: "send", id: expect.any(String), text: "hello" }]);
    expect(ta.value).toBe("");
  });

  it("the Send button sends; intents get fresh ids", () => {
    const { model, $ } = setup();
    const ta = $('[data-testid="composer"]');
    ta.value = "one";
    $('[data-testid="send"]').click();
    ta.value = "two";
    $('[data-testid="send"]').click();
    const sends = model.intents("send");
    expect(sends.map((s) => s.text)).toEqual(["one", "two"]);
    expect(sends[0].id).not.toBe(sends[1].id);
  });

  it("Send becomes Stop while streaming; Esc and click send stop; nothing is sent while streaming", () => {
    const { model, $ } = setup();
    expect($('[data-testid="send"]')).not.toBeNull();
    startStreaming(model);
    expect($('[data-testid="send"]')).toBeNull();
    const stop = $('[data-testid="stop"]');
    expect(stop.getAttribute("aria-label")).toMatch(/stop/i);
    const ta = $('[data-testid="composer"]');
    ta.value = "queued";
    press(ta, "Enter");
    expect(model.intents("send")).toHaveLength(0);
    expect(ta.value).toBe("queued");
    press(ta, "Escape");
    stop.click();
    expect(model.intents("stop")).toHaveLength(2);
    model.update({ streaming: {}, status: "idle" });
    expect($('[data-testid="send"]')).not.toBeNull();
    expect($('[data-testid="stop"]')).toBeNull();
  });

  it("Clear sends a clear intent; every button has an aria-label", () => {
    const { model, $, $$ } = setup(chat([message({ status: "error", error: "boom" })]));
    $('[data-testid="clear"]').click();
    expect(model.intents("clear")).toHaveLength(1);
    for (const b of $$("button")) expect(b.getAttribute("aria-label")).toBeTruthy();
  });
});

describe("settings", () => {
  it("shows trait values and sends settings intents on change", () => {
    const { model, $ } = setup({ model: "gpt-x", system: "be brief", params: { temperature: 0.7, max_tokens: 256 } });
    const details = $('details[data-testid="settings"]');
    expect(details).not.toBeNull();
    expect($('[data-testid="model"]').value).toBe("gpt-x");
    expect($('[data-testid="system"]').tagName).toBe("TEXTAREA");
    expect($('[data-testid="system"]').value).toBe("be brief");
    expect($('[data-testid="temperature"]').value).toBe("0.7");
    expect($('[data-testid="temperature"]').getAttribute("step")).toBe("0.1");
    expect($('[data-testid="max-tokens"]').value).toBe("256");

    const change = (sel, value) => {
      const input = $(sel);
      input.value = value;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    };
    change('[data-testid="model"]', "other");
    change('[data-testid="temperature"]', "0.2");
    change('[data-testid="max-tokens"]', "");
    change('[data-testid="system"]', "be kind");
    const s = model.intents("settings").map(({ id, ...rest }) => rest);
    expect(s).toEqual([
      { type: "settings", model: "other" },
      { type: "settings", temperature: 0.2 },
      { type: "settings", max_tokens: null },
      { type: "settings", system: "be kind" },
    ]);
    model.update({ params: { temperature: 1.5 } });
    expect($('[data-testid="temperature"]').value).toBe("1.5");
    expect($('[data-testid="max-tokens"]').value).toBe("");
  });
});

describe("footer", () => {
  it('shows "—" for unknown values, never 0', () => {
    const { $ } = setup(chat([message()]));
    for (const id of ["tokens-in", "tokens-out", "ttft", "tps", "finish"]) {
      expect($(`[data-testid="footer"] [data-testid="${id}"]`).textContent).toBe("—");
    }
  });

  it("shows the numbers when known", () => {
    const { $ } = setup({
      ...chat([
        message({
          usage: { prompt: 12, completion: 34, total: 46 },
          ttft: 0.314,
          tokens_per_second: 42.25,
          finish_reason: "stop",
        }),
      ]),
    });
    expect($('[data-testid="tokens-in"]').textContent).toBe("12");
    expect($('[data-testid="tokens-out"]').textContent).toBe("34");
    // under a second, TTFT reads in ms ("0.00 s" looked like a missing value)
    expect($('[data-testid="ttft"]').textContent).toBe("314 ms");
    expect($('[data-testid="tps"]').textContent).toContain("42.");
    expect($('[data-testid="finish"]').textContent).toBe("stop");
  });

  it("TTFT of a second or more reads in seconds", () => {
    const { $ } = setup(chat([message({ ttft: 1.5 })]));
    expect($('[data-testid="ttft"]').textContent).toBe("1.50 s");
  });

  it("a stopped reply with text says why out and speed are unknown", () => {
    const { $ } = setup(chat([message({ status: "stopped", content: "partial", usage: { prompt: 5, completion: null, total: null } })]));
    const out = $('[data-testid="tokens-out"]').parentElement;
    const speed = $('[data-testid="tps"]').parentElement;
    expect(out.textContent).toBe("out —");
    expect(out.title).toMatch(/stopped/i);
    expect(speed.title).toBe(out.title);
    // a known value gets no excuse
    expect($('[data-testid="tokens-in"]').parentElement.title).toBe("");
  });

  it("the footer of a reply in progress has no row of dashes", () => {
    const { model, $ } = setup();
    startStreaming(model);
    const footer = $('.nbchat-msg[data-streaming="true"] [data-testid="footer"]');
    expect(footer.textContent).not.toContain("—");
    expect(footer.textContent).toContain("demo");
  });

  it("Copy and Retry are icon buttons with a name and a title", () => {
    const { $ } = setup(chat([message({ role: "user", id: "u1" }), message({ id: "a1" })]));
    for (const id of ["copy", "retry"]) {
      const b = $(`[data-id="a1"] [data-testid="${id}"]`);
      expect(b.classList.contains("nbchat-icon-btn")).toBe(true);
      expect(b.querySelector("svg.nbchat-icon")).not.toBeNull();
      expect(b.getAttribute("aria-label")).toBeTruthy();
      expect(b.title).toBe(b.getAttribute("aria-label"));
      expect(b.textContent).toBe("");
    }
  });

  it("finish shows stopped, interrupted, or the error", () => {
    const { $$ } = setup({
      ...chat([
        message({ id: "a", status: "stopped", finish_reason: "stop" }),
        message({ id: "b", status: "interrupted" }),
        message({ id: "c", status: "error", error: "HTTP 500: upstream down" }),
      ]),
    });
    expect($$('[data-testid="finish"]').map((e) => e.textContent)).toEqual([
      "stopped",
      "interrupted",
      "HTTP 500: upstream down",
    ]);
  });
});

describe("errors and retry", () => {
  it("an error message shows the error and a Retry that sends retry", () => {
    const { model, $, $$ } = setup({
      ...chat([
        message({ id: "u", role: "user", content: "q" }),
        message({ id: "e", status: "error", error: "HTTP 429: slow down" }),
      ]),
      status: "error",
      error: "HTTP 429: slow down",
    });
    const msg = $('[data-id="e"]');
    expect(msg.dataset.status).toBe("error");
    expect(msg.querySelector('[data-testid="error"]').textContent).toContain("HTTP 429: slow down");
    expect($$('[data-testid="retry"]')).toHaveLength(1);
    msg.querySelector('[data-testid="retry"]').click();
    expect(model.intents("retry")).toHaveLength(1);
    // the error is on the message, so the panel banner stays hidden
    expect($('[data-testid="panel-error"]').hidden).toBe(true);
  });

  it("the last assistant reply gets Retry, earlier ones do not", () => {
    const { $ } = setup({
      ...chat([message({ id: "a1" }), message({ id: "u2", role: "user" }), message({ id: "a2" })]),
    });
    expect($('[data-id="a1"] [data-testid="retry"]')).toBeNull();
    expect($('[data-id="a2"] [data-testid="retry"]')).not.toBeNull();
  });

  it("a kernel error answer is shown and announced", () => {
    const { model, $ } = setup();
    model.emit({ type: "error", id: "x", message: "no model set" });
    expect($('[data-testid="notice"]').hidden).toBe(false);
    expect($('[data-testid="notice"]').textContent).toContain("no model set");
    expect($('[data-testid="status"]').textContent).toContain("Error: no model set");
  });

  it("an error trait without a message shows a banner", () => {
    const { model, $ } = setup();
    model.update({ status: "error", error: "ConfigError: no key" });
    expect($('[data-testid="panel-error"]').hidden).toBe(false);
    expect($('[data-testid="panel-error"]').textContent).toContain("no key");
  });
});

describe("live region", () => {
  it("announces status changes, not tokens", async () => {
    const { model, $ } = setup();
    const live = $('[data-testid="status"]');
    expect(live.getAttribute("role")).toBe("status");
    expect(live.getAttribute("aria-live")).toBe("polite");
    startStreaming(model);
    expect(live.textContent).toBe("Assistant is replying…");
    model.emit({ type: "delta", request_id: "r1", seq: 1, text: "Hi" });
    await frame();
    expect(live.textContent).toBe("Assistant is replying…");
    model.update({ ...chat([message({ id: "a1", content: "Hi" })]), streaming: {}, status: "idle" });
    expect(live.textContent).toBe("Reply complete");
    startStreaming(model, "r2", "a2");
    model.update({
      ...chat([message({ id: "a1" }), message({ id: "a2", status: "stopped" })]),
      streaming: {},
      status: "idle",
    });
    expect(live.textContent).toBe("Reply stopped");
    startStreaming(model, "r3", "a3");
    model.update({
      ...chat([message({ id: "a3", status: "error", error: "boom" })]),
      streaming: {},
      status: "error",
      error: "boom",
    });
    expect(live.textContent).toBe("Error: boom");
  });
});

describe("scrolling", () => {
  it("follows new content at the bottom, otherwise offers Jump to latest", () => {
    const { model, $ } = setup(chat([message({ id: "a" })]));
    const list = $('[data-testid="messages"]');
    let top = 0;
    Object.defineProperty(list, "scrollHeight", { configurable: true, get: () => 1000 });
    Object.defineProperty(list, "clientHeight", { configurable: true, get: () => 200 });
    Object.defineProperty(list, "scrollTop", { configurable: true, get: () => top, set: (v) => { top = Math.min(v, 800); } });
    const jump = $('[data-testid="jump"]');
    expect(jump.getAttribute("aria-label")).toBeTruthy();
    // at the bottom: new messages scroll into view
    top = 800;
    list.dispatchEvent(new Event("scroll"));
    model.update(chat([message({ id: "a" }), message({ id: "b" })]));
    expect(top).toBe(800);
    expect(jump.hidden).toBe(true);
    // scrolled up: stay, show the button
    top = 100;
    list.dispatchEvent(new Event("scroll"));
    model.update(chat([message({ id: "a" }), message({ id: "b" }), message({ id: "c" })]));
    expect(top).toBe(100);
    expect(jump.hidden).toBe(false);
    jump.click();
    expect(top).toBe(800);
    expect(jump.hidden).toBe(true);
  });
});

describe("copy", () => {
  it("copies message text and code, and fails quietly without a clipboard", async () => {
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { configurable: true, value: { writeText } });
    const { $ } = setup(chat([message({ content: "see:\n\n```python\nprint(1)\n```\n" })]));
    $('[data-testid="copy-code"]').click();
    $('[data-testid="copy"]').click();
    await Promise.resolve();
    expect(writeText).toHaveBeenCalledWith("print(1)\n");
    expect(writeText).toHaveBeenCalledWith("see:\n\n```python\nprint(1)\n```\n");
    Object.defineProperty(navigator, "clipboard", { configurable: true, value: { writeText: () => Promise.reject(new Error("denied")) } });
    expect(() => $('[data-testid="copy"]').click()).not.toThrow();
    await frame();
    Object.defineProperty(navigator, "clipboard", { configurable: true, value: undefined });
  });
});

describe("lifecycle", () => {
  it("render's cleanup removes every listener it registered; initialize's removes the rest", () => {
    const model = fakeModel();
    const el = document.createElement("div");
    const disposeInit = widget.initialize({ model });
    const afterInit = model.listenerCount();
    const cleanupA = widget.render({ model, el });
    const cleanupB = widget.render({ model, el });
    expect(model.listenerCount()).toBeGreaterThan(afterInit);
    cleanupA();
    cleanupB();
    expect(model.listenerCount()).toBe(afterInit);
    expect(el.children).toHaveLength(0);
    disposeInit();
    expect(model.listenerCount()).toBe(0);
  });

  it("a render without initialize still works and cleans up after itself", () => {
    const model = fakeModel();
    const el = document.createElement("div");
    const cleanup = widget.render({ model, el });
    expect(el.querySelector('[data-testid="nbchat"]')).not.toBeNull();
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });

  it("cleanup removes window/DOM listeners and pending frames", async () => {
    const model = fakeModel();
    const el = document.createElement("div");
    const dispose = widget.initialize({ model });
    const cleanup = widget.render({ model, el });
    const cancel = vi.spyOn(window, "cancelAnimationFrame");
    startStreaming(model);
    model.emit({ type: "delta", request_id: "r1", seq: 1, text: "x" });
    cleanup();
    expect(cancel).toHaveBeenCalled();
    await frame();
    dispose();
    expect(model.listenerCount()).toBe(0);
  });
});

describe("composer placeholder", () => {
  it("is short where the long one would be cut", async () => {
    const { PLACEHOLDER, SHORT_PLACEHOLDER, Composer } = await import("../src/composer.js");
    const ac = new AbortController();
    const c = new Composer(() => {}, ac.signal);
    expect(c.textarea.placeholder).toBe(PLACEHOLDER);
    Object.defineProperty(c.textarea, "clientWidth", { configurable: true, get: () => 200 });
    c.fitPlaceholder();
    expect(c.textarea.placeholder).toBe(SHORT_PLACEHOLDER);
    expect(c.textarea.title).toMatch(/Shift\+Enter/);
    Object.defineProperty(c.textarea, "clientWidth", { configurable: true, get: () => 600 });
    c.fitPlaceholder();
    expect(c.textarea.placeholder).toBe(PLACEHOLDER);
    ac.abort();
  });
});
