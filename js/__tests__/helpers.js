import widget from "../src/index.js";
import { fakeModel, fakePage } from "./fake-model.js";

/** `PAGE_SIZE` of nbchat/_pages.py. */
export const PAGE_SIZE = 20;

/** Wait for the next animation frame (after any frame the widget scheduled). */
export const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(undefined)));

/** A ChatMessage with every field. */
export function message(over = {}) {
  return {
    id: "m1",
    role: "assistant",
    content: "hello",
    status: "complete",
    model: "demo",
    api: "egp",
    params: {},
    usage: null,
    ttft: null,
    latency: null,
    tokens_per_second: null,
    finish_reason: null,
    error: null,
    created_at: "2026-01-01T00:00:00Z",
    request_id: "r1",
    tool_request: null,
    ...over,
  };
}

/**
 * The traits of a conversation, laid out like the kernel does (`layout` in nbchat/_pages.py):
 * full pages of `pageSize` messages (new fake page models), then 1..pageSize in `recent`.
 * @returns {{pages: string[], recent: object[]}}
 */
export function chat(messages, pageSize = PAGE_SIZE) {
  const pages = [];
  let rest = messages;
  while (rest.length > pageSize) {
    pages.push(fakePage(rest.slice(0, pageSize)));
    rest = rest.slice(pageSize);
  }
  return { pages, recent: rest };
}

/** Let pending promises (page resolution) settle. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** initialize + render, like anywidget does. */
export function mount(traits = {}) {
  const model = fakeModel(traits);
  const el = document.createElement("div");
  document.body.append(el);
  const disposeInit = widget.initialize({ model });
  const cleanup = widget.render({ model, el });
  const $ = (sel) => el.querySelector(sel);
  const $$ = (sel) => [...el.querySelectorAll(sel)];
  const teardown = () => {
    cleanup();
    disposeInit();
    el.remove();
  };
  return { model, el, $, $$, cleanup, disposeInit, teardown };
}

let mounted = [];

/** `mount`, remembered so that `unmountAll` (call it in `afterEach`) tears it down. */
export function setup(traits = {}) {
  const m = mount(traits);
  mounted.push(m.teardown);
  return m;
}

/** Tear down every view `setup` mounted. */
export function unmountAll() {
  mounted.forEach((teardown) => teardown());
  mounted = [];
}

/** Press a key in an element. */
export function press(target, key, opts = {}) {
  const ev = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...opts });
  target.dispatchEvent(ev);
  return ev;
}

/** Start streaming a reply. */
export function startStreaming(model, rid = "r1", id = "a1") {
  model.update({
    streaming: { id, request_id: rid, model: "demo", created_at: "2026-01-01T00:00:00Z" },
    status: "streaming",
  });
}
