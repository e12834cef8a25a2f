// The comparison widget without a browser: its vocabulary mirrors the Python one, batched
// deltas reach each column, gaps ask for a snapshot, blind votes, sanitized text, cleanup.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import compare, { COLUMN_RENDERS_PER_S } from "../src/compare.js";
import { COMPARE_HANDLERS, COMPARE_INTENT_TYPES, ensureCompareState } from "../src/compare-state.js";
import { columnMessages } from "../src/compare-view.js";
import { fakeModel, fakePage } from "./fake-model.js";
import { frame, message, settle } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
const read = (rel) => readFileSync(join(here, rel), "utf8");
const python = read("../../nbchat/panel/compare_vocabulary.py");
const pyTuple = (name) => {
  const m = new RegExp(`^${name}\\s*(?::[^=]*)?=\\s*\\(([^)]*)\\)`, "m").exec(python);
  if (!m) throw new Error(`${name} not found`);
  return [...m[1].matchAll(/["']([^"']+)["']/g)].map((x) => x[1]);
};

const SLOTS = ["demo", "demo · max_tokens=30", "echo"].map((label) => ({
  label,
  name: label,
  model: label.split(" ")[0],
  params: {},
  hidden: false,
}));

const mounted = [];
function mount(traits = {}) {
  const model = fakeModel({
    slots: SLOTS,
    pages: [],
    recent: [],
    streaming: [{}, {}, {}],
    status: "idle",
    blind: false,
    system: "",
    backend: "demo model (offline) · http://127.0.0.1:1",
    ...traits,
  });
  const el = document.createElement("div");
  document.body.append(el);
  const disposeInit = compare.initialize({ model });
  const cleanup = compare.render({ model, el });
  const entry = { model, el, cleanup, disposeInit };
  mounted.push(entry);
  return entry;
}
afterEach(() => {
  for (const m of mounted.splice(0)) {
    m.cleanup();
    m.disposeInit();
    m.el.remove();
  }
});

const round = (replies = [null, null, null], over = {}) => ({
  id: over.prompt_id ?? "p1",
  prompt_id: "p1",
  prompt: "Which is best?",
  created_at: "2026-01-01T00:00:00Z",
  replies,
  vote: null,
  ...over,
});
const live = (i) => ({ id: `a${i}`, request_id: `r${i}` });
const columnText = (el, slot) =>
  el.querySelector(`[data-slot="${slot}"] .nbchat-msg[data-streaming="true"] [data-testid="content"]`)
    ?.textContent ?? null;

describe("the comparison's vocabulary mirrors compare_vocabulary.py", () => {
  it("intents and kernel messages", () => {
    expect([...COMPARE_INTENT_TYPES].sort()).toEqual(pyTuple("INTENT_TYPES").sort());
    expect(Object.keys(COMPARE_HANDLERS).sort()).toEqual(pyTuple("KERNEL_MESSAGE_TYPES").sort());
    const dts = read("../src/compare-types.d.ts");
    for (const t of [...pyTuple("INTENT_TYPES"), ...pyTuple("KERNEL_MESSAGE_TYPES")]) {
      expect(dts).toContain(`type: "${t}"`);
    }
  });
});

describe("columns", () => {
  it("renders one column per slot with its label", () => {
    const { el } = mount();
    const cols = [...el.querySelectorAll('[data-testid="column"]')];
    expect(cols.map((c) => c.querySelector('[data-testid="column-label"]').textContent)).toEqual(
      SLOTS.map((s) => s.label),
    );
  });

  it("one batched deltas message feeds every column; each renders its own text", async () => {
    const { model, el } = mount();
    model.update({ recent: [round()], streaming: [live(0), live(1), live(2)], status: "streaming" });
    model.emit({
      type: "deltas",
      items: [
        { slot: 0, request_id: "r0", seq: 1, text: "zero " },
        { slot: 1, request_id: "r1", seq: 1, text: "one " },
        { slot: 2, request_id: "r2", seq: 1, text: "two " },
        { slot: 0, request_id: "r0", seq: 2, text: "again" },
      ],
    });
    // one column per frame (COLUMN_RENDERS_PER_S in all): the first frame renders one column
    await frame();
    expect([0, 1, 2].map((s) => columnText(el, s))).toEqual(["zero again", "", ""]);
    expect(COLUMN_RENDERS_PER_S).toBeLessThanOrEqual(60);
    await vi.waitFor(() => expect([0, 1, 2].map((s) => columnText(el, s))).toEqual(["zero again", "one", "two"]), {
      timeout: 1000,
      interval: 5,
    });
    expect(model.intents("snapshot-request")).toHaveLength(0);
    // a commit replaces the draft of that column only
    const done = message({ id: "a1", request_id: "r1", content: "one **bold**", model: "demo" });
    model.update({ recent: [round([null, done, null])], streaming: [live(0), {}, live(2)] });
    expect(el.querySelector('[data-slot="1"] [data-testid="content"] strong')?.textContent).toBe("bold");
    expect(columnText(el, 0)).toBe("zero again");
  });

  it("a gap asks once for a snapshot of every streaming column", async () => {
    const { model, el } = mount();
    model.update({ recent: [round()], streaming: [live(0), live(1), {}], status: "streaming" });
    model.emit({
      type: "deltas",
      items: [
        { slot: 0, request_id: "r0", seq: 3, text: "late" },
        { slot: 1, request_id: "r1", seq: 2, text: "later" },
      ],
    });
    const asked = model.intents("snapshot-request");
    expect(asked).toHaveLength(1);
    model.emit({
      type: "snapshot",
      id: asked[0].id,
      items: [
        { slot: 0, request_id: "r0", seq: 3, content: "all of zero" },
        { slot: 1, request_id: "r1", seq: 2, content: "all of one" },
      ],
    });
    await vi.waitFor(() => expect([columnText(el, 0), columnText(el, 1)]).toEqual(["all of zero", "all of one"]), {
      timeout: 1000,
      interval: 5,
    });
  });

  it("model text is sanitized in every column", async () => {
    const { model, el } = mount();
    model.update({ recent: [round()], streaming: [live(0), live(1), live(2)], status: "streaming" });
    const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>[x](javascript:alert(1))';
    model.emit({ type: "deltas", items: [0, 1, 2].map((slot) => ({ slot, request_id: `r${slot}`, seq: 1, text: evil })) });
    await vi.waitFor(() => expect(columnText(el, 2)).toContain("<img"), { timeout: 1000, interval: 5 });
    for (const slot of [0, 1, 2]) {
      const col = el.querySelector(`[data-slot="${slot}"]`);
      expect(col.querySelector("img, script")).toBeNull();
      expect(col.querySelector("a")?.getAttribute("href") ?? null).toBeNull();
      expect(columnText(el, slot)).toContain("<img src=x");
    }
    expect(window.__pwned).toBeUndefined();
  });

  it("older prompts come from pages, then recent, in every column", async () => {
    const old = round([message({ id: "o0" }), message({ id: "o1", content: "old one" }), null], {
      prompt_id: "p0",
      prompt: "first",
    });
    const { el } = mount({ pages: [fakePage([old])], recent: [round([null, message({ id: "n1", content: "new one" }), null])] });
    await settle();
    const col = el.querySelector('[data-slot="1"]');
    const texts = [...col.querySelectorAll('[data-testid="content"]')].map((c) => c.textContent);
    expect(texts).toEqual(["first", "old one", "Which is best?", "new one"]);
  });

  it("Send, Stop and Retry send intents; Retry names its slot", () => {
    const { model, el } = mount();
    const box = el.querySelector('[data-testid="composer"]');
    box.value = "Compare this";
    el.querySelector('[data-testid="send"]').click();
    expect(model.intents("send")).toMatchObject([{ text: "Compare this" }]);
    model.update({ status: "streaming", streaming: [live(0), live(1), live(2)], recent: [round()] });
    el.querySelector('[data-testid="stop"]').click();
    expect(model.intents("stop")).toHaveLength(1);
    const failed = message({ id: "a2", status: "error", error: "500 from the server", content: "" });
    model.update({ status: "idle", streaming: [{}, {}, {}], recent: [round([message({ id: "a0" }), message({ id: "a1" }), failed])] });
    el.querySelector('[data-slot="2"] [data-testid="error"] [data-action="retry"]').click();
    expect(model.intents("retry")).toMatchObject([{ slot: 2 }]);
  });
});

describe("blind mode", () => {
  const hidden = ["A", "B", "C"].map((label) => ({ label, name: "", model: "", params: {}, hidden: true }));

  it("shows letters, votes when every reply is in, and names the models after the vote", () => {
    const { model, el } = mount({ blind: true, slots: hidden });
    const bar = el.querySelector('[data-testid="votebar"]');
    expect(bar.hidden).toBe(true);
    const replies = [0, 1, 2].map((i) => message({ id: `a${i}`, model: null, content: `reply ${i}` }));
    model.update({ recent: [round(replies)] });
    expect(bar.hidden).toBe(false);
    expect(el.querySelector('[data-testid="columns"]').textContent).not.toContain("demo");
    el.querySelectorAll('[data-testid="vote-best"]')[1].click();
    expect(model.intents("vote")).toMatchObject([{ kind: "best", slot: 1 }]);
    el.querySelector('[data-testid="vote-tie"]').click();
    expect(model.intents("vote")[1]).toMatchObject({ kind: "tie", slot: -1 });
    const revealed = ["demo", "echo", "demo · max_tokens=5"].map((name, i) => ({
      label: "ABC"[i], name, model: name, params: {}, hidden: false,
    }));
    model.update({ slots: revealed, recent: [round(replies, { vote: { kind: "best", slot: 1 } })] });
    const names = [...el.querySelectorAll('[data-testid="column-model"]')].map((n) => n.textContent);
    expect(names).toEqual(["demo", "echo", "demo · max_tokens=5"]);
    expect(el.querySelector('[data-testid="vote-text"]').textContent).toContain("B (echo)");
    expect(el.querySelectorAll('[data-testid="vote-best"]')[1].getAttribute("aria-pressed")).toBe("true");
  });
});

describe("helpers and cleanup", () => {
  it("a column's messages are its prompts and its replies", () => {
    const users = new Map();
    const r = [round([message({ id: "x" }), null, null]), round([null, null, null], { prompt_id: "p2", prompt: "two" })];
    expect(columnMessages(r, 0, users).map((m) => m.id)).toEqual(["prompt-p1", "x", "prompt-p2"]);
    expect(columnMessages(r, 0, users)[0]).toBe(columnMessages(r, 1, users)[0]);
  });

  it("cleanup removes every listener and the DOM", () => {
    const m = mount();
    const before = m.model.listenerCount();
    expect(before).toBeGreaterThan(0);
    m.cleanup();
    m.disposeInit();
    expect(m.model.listenerCount()).toBe(0);
    expect(m.el.querySelector('[data-testid="compare"]')).toBeNull();
    m.cleanup = () => {};
    m.disposeInit = () => {};
    expect(ensureCompareState(fakeModel()).created).toBe(true);
  });
});
