// The paged conversation: `pages` (refs to immutable page models) + `recent`.
import { afterEach, describe, expect, it, vi } from "vitest";
import widget from "../src/index.js";
import { Conversation, refId } from "../src/conversation.js";
import { ensureState } from "../src/chat-state.js";
import { fakeModel, fakePage, holdPage, pageId, resetPages } from "./fake-model.js";
import { PAGE_SIZE, chat, frame, message, settle, startStreaming, setup, unmountAll } from "./helpers.js";

afterEach(() => {
  unmountAll();
  resetPages();
});

/** n messages, alternating user/assistant, ids m0..m(n-1) (or with a prefix). */
const msgs = (n, from = 0, prefix = "m") =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return message({ id: `${prefix}${i}`, role: i % 2 ? "assistant" : "user", content: `text ${i}` });
  });
const ids = (list) => list.map((m) => m.id);
const shownIds = ($$) => $$('[data-testid="messages"] .nbchat-msg:not([data-streaming])').map((e) => e.dataset.id);
const store = (model) => ensureState(model).state.conversation;

/**
 * The kernel's `_append` (nbchat/widget.py), under hold_sync: one update of both traits.
 * @returns {string | null} the ref of the page it cut, if any
 */
function append(model, msg, { hold = false, extra = {} } = {}) {
  const recent = [...model.get("recent"), msg];
  if (recent.length <= PAGE_SIZE) {
    model.update({ recent, ...extra });
    return null;
  }
  const ref = fakePage(recent.slice(0, PAGE_SIZE));
  const release = hold ? holdPage(ref) : null;
  model.update({ pages: [...model.get("pages"), ref], recent: recent.slice(PAGE_SIZE), ...extra });
  return release ?? ref;
}

describe("refId", () => {
  it("takes the model id out of a widget reference", () => {
    expect(refId("IPY_MODEL_abc123")).toBe("abc123");
    expect(refId("IPY_MODEL_")).toBeNull();
    expect(refId("abc")).toBeNull();
    expect(refId(null)).toBeNull();
  });
});

describe("pages + recent", () => {
  it("renders the pages' messages in order, then recent", async () => {
    const all = msgs(45);
    const traits = chat(all);
    expect(traits.pages).toHaveLength(2);
    expect(traits.recent).toHaveLength(5);
    const { model, $, $$ } = setup(traits);
    // nothing (not even "no messages yet") until the pages resolve
    expect(shownIds($$)).toEqual([]);
    expect($(".nbchat-empty")).toBeNull();
    await settle();
    expect(shownIds($$)).toEqual(ids(all));
    expect(ids(store(model).messages())).toEqual(ids(all));
    expect(model.getModelCalls).toEqual(traits.pages.map(pageId));
    // the last assistant reply (in recent) has Retry, the ones in pages do not
    expect($$('[data-testid="retry"]')).toHaveLength(1);
    expect($('[data-id="m43"] [data-testid="retry"]')).not.toBeNull();
  });

  it("a recent change re-renders without resolving or re-flattening the pages", async () => {
    const { model, $, $$ } = setup(chat(msgs(25)));
    await settle();
    const conv = store(model);
    const flat = conv.pageMessages;
    const first = $('[data-id="m0"]');
    append(model, message({ id: "m25", role: "assistant", content: "new" }));
    // synchronous: no page to resolve
    expect(shownIds($$)).toEqual(ids(msgs(26)));
    expect(conv.pageMessages).toBe(flat);
    expect($('[data-id="m0"]')).toBe(first);
    expect(model.getModelCalls).toHaveLength(1);
  });

  it("appending a page re-renders in order without resolving the old pages again", async () => {
    const { model, $, $$ } = setup(chat(msgs(30)));
    await settle();
    expect(model.getModelCalls).toHaveLength(1);
    const first = $('[data-id="m0"]');
    let all = msgs(30);
    // recent holds m20..m29; 11 more messages cut a second page
    for (let i = 30; i < 41; i++) {
      const m = message({ id: `m${i}`, role: i % 2 ? "assistant" : "user", content: `text ${i}` });
      all = [...all, m];
      append(model, m);
      await settle();
      expect(shownIds($$)).toEqual(ids(all));
    }
    expect(model.get("pages")).toHaveLength(2);
    expect(model.get("recent")).toHaveLength(1);
    expect(model.getModelCalls).toEqual(model.get("pages").map(pageId));
    expect($('[data-id="m0"]')).toBe(first);
  });

  it("a slow page leaves the previous list in place (no hole), then fills in", async () => {
    const { model, $$ } = setup(chat(msgs(40)));
    await settle();
    const before = ids(msgs(40));
    const release = append(model, message({ id: "m40", role: "user" }), { hold: true });
    // the kernel already moved m20..m39 into the held page and reset recent to [m40]
    expect(model.get("recent")).toHaveLength(1);
    await settle();
    expect(store(model).resolving).toBe(true);
    expect(ids(store(model).messages())).toEqual(before);
    expect(shownIds($$)).toEqual(before);
    // more recent changes while the page resolves still do not show a hole
    append(model, message({ id: "m41", role: "assistant" }));
    expect(shownIds($$)).toEqual(before);
    release();
    await settle();
    expect(store(model).resolving).toBe(false);
    expect(shownIds($$)).toEqual(ids(msgs(42)));
  });

  it("`pages` and `recent` sent apart: no duplicates and no hole in either order", async () => {
    const { model, $$ } = setup(chat(msgs(40)));
    await settle();
    // pages first: recent still holds the messages now in the new page
    const recent = [...model.get("recent"), message({ id: "m40", role: "user" })];
    const ref = fakePage(recent.slice(0, PAGE_SIZE));
    model.update({ pages: [...model.get("pages"), ref] });
    await settle();
    expect(shownIds($$)).toEqual(ids(msgs(40)));
    expect(ids(store(model).messages())).toEqual(ids(msgs(40)));
    model.update({ recent: recent.slice(PAGE_SIZE) });
    expect(shownIds($$)).toEqual(ids(msgs(41)));
    // recent first (its change event before the one of pages): the store reads both traits
    const recent2 = [...model.get("recent"), ...msgs(20, 41)];
    const ref2 = fakePage(recent2.slice(0, PAGE_SIZE));
    model.set("pages", [...model.get("pages"), ref2]);
    model.update({ recent: recent2.slice(PAGE_SIZE) });
    expect(shownIds($$)).toEqual(ids(msgs(41))); // not m0..m39 + m60: a hole
    await settle();
    expect(shownIds($$)).toEqual(ids(msgs(61)));
  });

  it("out-of-order resolution: only the latest `pages` value is shown", async () => {
    const { model, $$ } = setup(chat(msgs(25)));
    await settle();
    const [p1] = model.get("pages");
    // A: a slow page; B (newer): another page, also slow; B resolves first
    const a = fakePage(msgs(20, 100, "a"));
    const b = fakePage(msgs(20, 100, "b"));
    const releaseA = holdPage(a);
    const releaseB = holdPage(b);
    model.update({ pages: [p1, a], recent: [message({ id: "ra" })] });
    model.update({ pages: [p1, b], recent: [message({ id: "rb" })] });
    releaseB();
    await settle();
    const latest = [...ids(msgs(20)), ...ids(msgs(20, 100, "b")), "rb"];
    expect(shownIds($$)).toEqual(latest);
    releaseA();
    await settle();
    expect(shownIds($$)).toEqual(latest);
    // and the other way round: the older value resolves first and is never shown
    const c = fakePage(msgs(20, 100, "c"));
    const d = fakePage(msgs(20, 100, "d"));
    const releaseC = holdPage(c);
    const releaseD = holdPage(d);
    model.update({ pages: [p1, c], recent: [message({ id: "rc" })] });
    model.update({ pages: [p1, d], recent: [message({ id: "rd" })] });
    releaseC();
    await settle();
    expect(shownIds($$)).toEqual(latest);
    releaseD();
    await settle();
    expect(shownIds($$)).toEqual([...ids(msgs(20)), ...ids(msgs(20, 100, "d")), "rd"]);
    expect(model.getModelCalls.filter((id) => id === pageId(p1))).toHaveLength(1);
  });

  it("going back to cached pages while a new one resolves is immediate, and the slow one is dropped", async () => {
    const { model, $$ } = setup(chat(msgs(25)));
    await settle();
    const pages = model.get("pages");
    const recent = model.get("recent");
    const slow = fakePage(msgs(20, 100, "s"));
    const release = holdPage(slow);
    model.update({ pages: [...pages, slow], recent: [message({ id: "r" })] });
    model.update({ pages, recent });
    expect(store(model).resolving).toBe(false);
    expect(shownIds($$)).toEqual(ids(msgs(25)));
    release();
    await settle();
    expect(shownIds($$)).toEqual(ids(msgs(25)));
  });

  it("replacing `pages` (clear, a retry that cuts into a page, loading) works", async () => {
    const { model, $, $$ } = setup(chat(msgs(45)));
    await settle();
    // clear
    model.update({ pages: [], recent: [] });
    expect(shownIds($$)).toEqual([]);
    expect($(".nbchat-empty")).not.toBeNull();
    // load: all new pages
    const loaded = msgs(50, 0, "x");
    model.update(chat(loaded));
    await settle();
    expect(shownIds($$)).toEqual(ids(loaded));
    // retry cutting into the last page: keep the first page, the rest goes to recent
    const [first] = model.get("pages");
    const calls = model.getModelCalls.length;
    model.update({ pages: [first], recent: loaded.slice(20, 39) });
    expect(shownIds($$)).toEqual(ids(loaded.slice(0, 39)));
    expect(model.getModelCalls).toHaveLength(calls);
    // pages no longer used are forgotten
    expect([...store(model).cache.keys()]).toEqual([pageId(first)]);
  });

  it("a page that cannot be resolved is logged and skipped; rendering goes on", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const good = fakePage(msgs(20));
    const { model, $$ } = setup({
      pages: ["IPY_MODEL_missing", "not a ref", good],
      recent: msgs(2, 20),
    });
    await settle();
    expect(shownIds($$)).toEqual(ids(msgs(22)));
    expect(error).toHaveBeenCalled();
    expect(String(error.mock.calls.flat().join(" "))).toContain("missing");
    // later changes still render
    append(model, message({ id: "m22", role: "user" }));
    expect(shownIds($$)).toEqual(ids(msgs(23)));
    // a failed page is tried again when `pages` changes
    const calls = model.getModelCalls.filter((id) => id === "missing").length;
    model.update({ pages: ["IPY_MODEL_missing", good, fakePage(msgs(20, 100, "z"))] });
    await settle();
    expect(model.getModelCalls.filter((id) => id === "missing")).toHaveLength(calls + 1);
  });

  it("a listener that throws does not break the store or the other listeners", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const model = fakeModel(chat(msgs(25)));
    const conv = new Conversation(model);
    const seen = [];
    conv.on("change", () => {
      throw new Error("view bug");
    });
    conv.on("change", () => seen.push(conv.messages().length));
    await settle();
    model.update({ recent: msgs(6, 20) });
    expect(seen).toEqual([25, 26]);
    expect(error).toHaveBeenCalledTimes(2);
    conv.dispose();
    expect(model.listenerCount()).toBe(0);
  });

  it("views share one store; a later view renders at once, without resolving again", async () => {
    const model = fakeModel(chat(msgs(45)));
    const dispose = widget.initialize({ model });
    await settle(); // resolved before any view
    const el = document.createElement("div");
    const cleanup = widget.render({ model, el });
    expect(el.querySelectorAll(".nbchat-msg")).toHaveLength(45);
    const el2 = document.createElement("div");
    const cleanup2 = widget.render({ model, el: el2 });
    expect(el2.querySelectorAll(".nbchat-msg")).toHaveLength(45);
    expect(model.getModelCalls).toHaveLength(2);
    cleanup2();
    cleanup();
    dispose();
    expect(model.listenerCount()).toBe(0);
  });

  it("disposed while a page resolves: nothing happens when it does", async () => {
    const ref = fakePage(msgs(20));
    const release = holdPage(ref);
    const model = fakeModel({ pages: [ref], recent: msgs(1, 20) });
    const dispose = widget.initialize({ model });
    const conv = store(model);
    const seen = vi.fn();
    conv.on("change", seen);
    dispose();
    release();
    await settle();
    expect(seen).not.toHaveBeenCalled();
    expect(model.listenerCount()).toBe(0);
  });
});

describe("the draft with pages", () => {
  it("a commit that cuts a page keeps the reply on screen until the page resolves", async () => {
    const { model, el, $, $$ } = setup(chat(msgs(40)));
    await settle();
    startStreaming(model, "r1", "a40");
    model.emit({ type: "delta", request_id: "r1", seq: 1, text: "the reply" });
    await frame();
    const reply = message({ id: "a40", content: "the reply", finish_reason: "stop" });
    const release = append(model, reply, { hold: true, extra: { streaming: {}, status: "idle" } });
    await frame();
    // no blink: the reply in progress is still shown, with its text, and nothing is missing
    expect(shownIds($$)).toEqual(ids(msgs(40)));
    expect($('[data-streaming="true"] [data-testid="content"]').textContent).toBe("the reply");
    expect($('[data-testid="status"]').textContent).toBe("Assistant is replying…");
    release();
    await settle();
    await frame();
    expect($('[data-streaming="true"]')).toBeNull();
    expect(shownIds($$)).toEqual([...ids(msgs(40)), "a40"]);
    expect($('[data-id="a40"]').dataset.status).toBe("complete");
    expect(ensureState(model).state.draft).toBeNull();
    expect($('[data-testid="status"]').textContent).toBe("Reply complete");
    expect(el.querySelectorAll('[data-id="a40"]')).toHaveLength(1);
  });

  it("commit via recent alone (streaming not cleared yet) with a page cut drops the draft once resolved", async () => {
    const { model, $ } = setup(chat(msgs(40)));
    await settle();
    startStreaming(model, "r1", "a40");
    model.emit({ type: "delta", request_id: "r1", seq: 1, text: "x" });
    const release = append(model, message({ id: "a40", content: "x" }), { hold: true });
    await settle();
    // the conversation does not have it yet: the draft stays
    expect(ensureState(model).state.draft).not.toBeNull();
    release();
    await settle();
    await frame();
    expect(ensureState(model).state.draft).toBeNull();
    expect($('[data-streaming="true"]')).toBeNull();
    expect($('[data-id="a40"]').dataset.status).toBe("complete");
  });

  it("the streaming message found in a page counts as committed", async () => {
    const { model, $ } = setup();
    startStreaming(model, "r1", "m19");
    model.emit({ type: "delta", request_id: "r1", seq: 1, text: "x" });
    expect(ensureState(model).state.draft).not.toBeNull();
    model.update({ pages: [fakePage(msgs(20))], recent: msgs(1, 20) });
    await settle();
    expect(ensureState(model).state.draft).toBeNull();
    await frame();
    expect($('[data-streaming="true"]')).toBeNull();
    // a delta for it now is stale
    model.emit({ type: "delta", request_id: "r1", seq: 2, text: "y" });
    expect(ensureState(model).state.draft).toBeNull();
  });
});

describe("the usage view with pages", () => {
  const turns = (n) =>
    Array.from({ length: n }, (_, i) => [
      message({ id: `u${i}`, role: "user", content: `q${i}` }),
      message({ id: `a${i}`, role: "assistant", content: `a${i}`, usage: { prompt: 10, completion: i + 1, total: 11 + i } }),
    ]).flat();

  it("counts the turns of every page and of recent, and follows a new page", async () => {
    const { model, $ } = setup(chat(turns(25)));
    await settle();
    $('[data-testid="usage-toggle"]').click();
    const summary = $('[data-testid="usage-summary"]');
    expect(summary.textContent).toMatch(/^25 turns · prompt 250 · completion 325 /);
    // six more turns; recent held 10 messages (u20..a24), so the 11th new message cuts a page
    const all = turns(31);
    for (const m of all.slice(50)) append(model, m);
    await settle();
    expect(model.get("pages")).toHaveLength(3);
    expect(summary.textContent).toMatch(/^31 turns · prompt 310 · completion 496 /);
  });
});
