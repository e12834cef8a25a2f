import { afterEach, describe, expect, it, vi } from "vitest";
import widget from "../src/index.js";
import { SNAPSHOT_RETRY_MS, ensureState } from "../src/chat-state.js";
import { fakeModel } from "./fake-model.js";
import { chat, frame, message, startStreaming, setup, unmountAll } from "./helpers.js";

afterEach(unmountAll);

const delta = (model, seq, text, rid = "r1") => model.emit({ type: "delta", request_id: rid, seq, text });
const liveText = (el) =>
  el.querySelector('.nbchat-msg[data-streaming="true"] [data-testid="content"]')?.textContent ?? null;

describe("draft from deltas", () => {
  it("in-order deltas build the reply in progress", async () => {
    const { model, el, $ } = setup(chat([message({ id: "u1", role: "user", content: "q" })]));
    startStreaming(model, "r1", "a1");
    const live = $('.nbchat-msg[data-streaming="true"]');
    expect(live.dataset.status).toBe("streaming");
    expect(live.dataset.role).toBe("assistant");
    expect(live.dataset.id).toBe("a1");
    delta(model, 1, "Hel");
    delta(model, 2, "lo ");
    delta(model, 3, "world");
    expect(ensureState(model).state.draft).toMatchObject({ request_id: "r1", seq: 3, text: "Hello world" });
    await frame();
    expect(liveText(el)).toBe("Hello world");
  });

  it("re-renders at most once per frame and only the streaming message", async () => {
    const { model, el, $ } = setup(chat([message({ id: "u1", role: "user", content: "q" })]));
    const user = $('[data-id="u1"]');
    startStreaming(model);
    await frame();
    const content = $('.nbchat-msg[data-streaming="true"] [data-testid="content"]');
    let renders = 0;
    const orig = content.replaceChildren.bind(content);
    content.replaceChildren = (...nodes) => {
      renders += 1;
      orig(...nodes);
    };
    for (let i = 1; i <= 50; i++) delta(model, i, `w${i} `);
    expect(renders).toBe(0);
    await frame();
    expect(renders).toBe(1);
    expect(liveText(el)).toContain("w50");
    expect($('[data-id="u1"]')).toBe(user);
  });

  it("drops duplicates", () => {
    const { model } = setup();
    startStreaming(model);
    delta(model, 1, "a");
    delta(model, 2, "b");
    delta(model, 2, "b");
    delta(model, 1, "a");
    expect(ensureState(model).state.draft.text).toBe("ab");
    expect(model.intents("snapshot-request")).toHaveLength(0);
  });

  it("drops deltas of a stale request (stopped before the next one started)", async () => {
    const { model, el } = setup();
    startStreaming(model, "r1", "a1");
    delta(model, 1, "old ");
    // r1 is stopped and committed, r2 starts; a late chunk of r1 arrives
    model.update({ ...chat([message({ id: "a1", content: "old ", status: "stopped" })]), streaming: {}, status: "idle" });
    delta(model, 2, "LATE", "r1");
    startStreaming(model, "r2", "a2");
    delta(model, 3, "LATE AGAIN", "r1");
    delta(model, 1, "new", "r2");
    await frame();
    expect(ensureState(model).state.draft).toMatchObject({ request_id: "r2", text: "new" });
    expect(liveText(el)).toBe("new");
  });

  it("buffers deltas that arrive before the streaming trait names their request", async () => {
    const { model, el } = setup();
    delta(model, 1, "ear", "r9");
    delta(model, 2, "ly", "r9");
    expect(ensureState(model).state.draft).toBeNull();
    startStreaming(model, "r9", "a9");
    await frame();
    expect(ensureState(model).state.draft).toMatchObject({ seq: 2, text: "early" });
    expect(liveText(el)).toBe("early");
  });

  it("keeps the early buffer small", () => {
    const { model } = setup();
    for (let r = 0; r < 10; r++) delta(model, 1, "x", `r-${r}`);
    expect(ensureState(model).state.replyDraft.early.size).toBeLessThanOrEqual(4);
  });

  it("a gap sends snapshot-request; the snapshot replaces the text; held deltas follow", async () => {
    const { model, el } = setup();
    startStreaming(model);
    delta(model, 1, "a");
    delta(model, 4, "d"); // 2 and 3 lost
    const reqs = model.intents("snapshot-request");
    expect(reqs).toHaveLength(1);
    delta(model, 5, "e"); // still waiting: no second request
    expect(model.intents("snapshot-request")).toHaveLength(1);
    // a snapshot of another request is ignored
    model.emit({ type: "snapshot", id: "other", request_id: "r0", seq: 9, content: "WRONG" });
    expect(ensureState(model).state.draft.text).toBe("a");
    model.emit({ type: "snapshot", id: reqs[0].id, request_id: "r1", seq: 3, content: "abc" });
    expect(ensureState(model).state.draft).toMatchObject({ seq: 5, text: "abcde" });
    delta(model, 6, "f");
    await frame();
    expect(liveText(el)).toBe("abcdef");
  });

  it("an out-of-order delta fills the gap without waiting for the snapshot", () => {
    const { model } = setup();
    startStreaming(model);
    delta(model, 1, "a");
    delta(model, 3, "c");
    delta(model, 2, "b");
    expect(ensureState(model).state.draft).toMatchObject({ seq: 3, text: "abc" });
  });

  it("a snapshot older than the draft does not roll it back", () => {
    const { model } = setup();
    startStreaming(model);
    delta(model, 1, "a");
    delta(model, 2, "b");
    model.emit({ type: "snapshot", id: "x", request_id: "r1", seq: 1, content: "a" });
    expect(ensureState(model).state.draft.text).toBe("ab");
  });

  it("a view rendered mid-stream requests a snapshot and shows it", async () => {
    const model = fakeModel({
      streaming: { id: "a1", request_id: "r1", model: "demo", created_at: "2026-01-01T00:00:00Z" },
      status: "streaming",
    });
    const el = document.createElement("div");
    const dispose = widget.initialize({ model });
    const cleanup = widget.render({ model, el });
    const reqs = model.intents("snapshot-request");
    expect(reqs).toHaveLength(1);
    expect(el.querySelector('[data-testid="stop"]')).not.toBeNull();
    // a second view does not ask again while the first request is in flight
    const cleanup2 = widget.render({ model, el: document.createElement("div") });
    expect(model.intents("snapshot-request")).toHaveLength(1);
    delta(model, 8, "!"); // mid-stream delta: held
    model.emit({ type: "snapshot", id: reqs[0].id, request_id: "r1", seq: 7, content: "so far" });
    await frame();
    expect(liveText(el)).toBe("so far!");
    cleanup2();
    cleanup();
    dispose();
  });

  it("an unanswered snapshot-request is sent again, until answered or the reply ends", async () => {
    vi.useFakeTimers();
    try {
      const model = fakeModel({
        streaming: { id: "a1", request_id: "r1", model: "demo", created_at: "2026-01-01T00:00:00Z" },
        status: "streaming",
      });
      const el = document.createElement("div");
      const dispose = widget.initialize({ model });
      const cleanup = widget.render({ model, el });
      expect(model.intents("snapshot-request")).toHaveLength(1); // lost on the way, say
      vi.advanceTimersByTime(SNAPSHOT_RETRY_MS + 10);
      const reqs = model.intents("snapshot-request");
      expect(reqs).toHaveLength(2);
      model.emit({ type: "snapshot", id: reqs[1].id, request_id: "r1", seq: 3, content: "abc" });
      vi.advanceTimersByTime(3 * SNAPSHOT_RETRY_MS);
      expect(model.intents("snapshot-request")).toHaveLength(2); // answered: no more
      // unanswered again, but the reply ends: the retries stop
      delta(model, 5, "!");
      expect(model.intents("snapshot-request")).toHaveLength(3);
      model.update({ streaming: {}, status: "idle" });
      vi.advanceTimersByTime(3 * SNAPSHOT_RETRY_MS);
      expect(model.intents("snapshot-request")).toHaveLength(3);
      cleanup();
      dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it("a snapshot answered with no stream in progress clears the pending request", () => {
    const { model } = setup();
    startStreaming(model);
    delta(model, 2, "x");
    const [req] = model.intents("snapshot-request");
    model.emit({ type: "snapshot", id: req.id, request_id: null, seq: 0, content: "" });
    expect(ensureState(model).state.replyDraft.awaiting).toBeNull();
  });

  it("commit replaces the draft with the committed message", async () => {
    const { model, el, $, $$ } = setup(chat([message({ id: "u1", role: "user", content: "q" })]));
    startStreaming(model, "r1", "a1");
    delta(model, 1, "Hello **wor");
    await frame();
    expect(liveText(el)).toContain("Hello");
    model.update({
      ...chat([
        message({ id: "u1", role: "user", content: "q" }),
        message({ id: "a1", content: "Hello **world**", usage: { prompt: 3, completion: 2, total: 5 }, finish_reason: "stop" }),
      ]),
      streaming: {},
      status: "idle",
    });
    await frame();
    expect($('[data-streaming="true"]')).toBeNull();
    expect(ensureState(model).state.draft).toBeNull();
    const committed = $$('.nbchat-msg[data-id="a1"]');
    expect(committed).toHaveLength(1);
    expect(committed[0].dataset.status).toBe("complete");
    expect(committed[0].querySelector("strong").textContent).toBe("world");
    expect(committed[0].querySelector('[data-testid="tokens-out"]').textContent).toBe("2");
  });

  it("commit via recent alone (before streaming clears) also drops the draft", async () => {
    const { model, $ } = setup();
    startStreaming(model, "r1", "a1");
    delta(model, 1, "x");
    model.update(chat([message({ id: "a1", content: "x" })]));
    await frame();
    expect(ensureState(model).state.draft).toBeNull();
    expect($('[data-streaming="true"]')).toBeNull();
    expect($('[data-id="a1"]').dataset.status).toBe("complete");
  });

  it("an unclosed code fence mid-stream renders as a code block", async () => {
    const { model, el } = setup();
    startStreaming(model);
    delta(model, 1, "Here:\n\n```python\ndef f(x):\n    return x");
    await frame();
    const live = el.querySelector('[data-streaming="true"]');
    expect(live.querySelector("pre code").textContent).toContain("return x");
    expect(live.querySelector('[data-testid="copy-code"]')).not.toBeNull();
  });
});
