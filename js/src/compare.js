// nbchat comparison widget: anywidget front-end module (AFM). Wiring only; the pieces are
// compare-state.js (drafts per slot, the intent channel), compare-view.js (columns, vote bar),
// and the chat panel's composer.js, message-list.js and render-text.js (same rendering, same
// sanitizer).

import { Composer } from "./composer.js";
import { disposeCompareState, ensureCompareState } from "./compare-state.js";
import { Column, VoteBar } from "./compare-view.js";
import { copyText, h, perFrame } from "./dom.js";

/** @typedef {import("./compare-types").CompareModel} CompareModel */
/** @typedef {import("./compare-types").RoundState} RoundState */
/** @typedef {import("./compare-types").Slot} Slot */

export const NOT_CONNECTED = "Not connected to the kernel — run the cell to reconnect.";
/** Column drafts rendered per second at most, all columns together (each render is a layout). */
export const COLUMN_RENDERS_PER_S = 30;

/** @param {{model: CompareModel}} props */
function initialize({ model }) {
  ensureCompareState(model);
  return () => disposeCompareState(model);
}

/** @param {{model: CompareModel, el: HTMLElement}} props */
function render({ model, el }) {
  const { state, created } = ensureCompareState(model);
  state.views += 1;
  if (created) state.ownedByViews = true;
  const ac = new AbortController();
  const { signal } = ac;
  /** @type {[string, () => void][]} */
  const modelListeners = [];
  const listen = (/** @type {string} */ event, /** @type {() => void} */ fn) => {
    model.on(event, fn);
    modelListeners.push([event, fn]);
  };

  const backend = h("span", { className: "nbchat-backend", testid: "backend" });
  const header = h("div", { className: "nbchat-header" }, [
    h("span", { className: "nbchat-title", text: "nbchat compare" }),
    h("span", { className: "nbchat-dot", attrs: { "aria-hidden": "true" } }),
    backend,
  ]);
  const notice = h("div", { className: "nbchat-banner nbchat-notice", testid: "notice" });
  const offline = h("div", {
    className: "nbchat-banner nbchat-offline",
    testid: "not-connected",
    text: NOT_CONNECTED,
    attrs: { role: "alert" },
  });
  notice.hidden = offline.hidden = true;
  const votebar = new VoteBar();
  const cols = h("div", { className: "nbchat-cols", testid: "columns" });
  const composer = new Composer((action) => act(action, null), signal);
  const root = h("div", { className: "nbchat nbchat-compare", testid: "compare" }, [
    header,
    notice,
    offline,
    votebar.el,
    cols,
    composer.el,
  ]);
  // the host is the size container of the narrow layout (compare.css)
  const host = h("div", { className: "nbchat-compare-host" }, [root]);
  el.append(host);

  /** @type {Column[]} */
  let columns = [];
  /** @param {HTMLElement | null} btn */
  const slotOf = (btn) => Number(/** @type {HTMLElement | null} */ (btn?.closest(".nbchat-col"))?.dataset.slot ?? -1);

  /** @type {Record<string, (btn: HTMLElement | null) => void>} */
  const actions = {
    send: () => {
      const text = composer.take();
      if (text) composer.sent(state.ask("send", { text }), text);
    },
    stop: () => state.ask("stop"),
    retry: (btn) => {
      if (model.get("status") !== "streaming" && slotOf(btn) >= 0) state.ask("retry", { slot: slotOf(btn) });
    },
    "vote-best": (btn) => state.ask("vote", { kind: "best", slot: slotOf(btn) }),
    "vote-tie": () => state.ask("vote", { kind: "tie", slot: -1 }),
    "vote-bad": () => state.ask("vote", { kind: "bad", slot: -1 }),
    copy: (btn) => {
      const col = columns[slotOf(btn)];
      const id = /** @type {HTMLElement | null} */ (btn?.closest(".nbchat-msg"))?.dataset.id ?? "";
      if (col) void copyText(col.list.textOf(id, state.liveDraft(col.slot)));
    },
    "copy-code": (btn) => void copyText(btn?.closest(".nbchat-code")?.querySelector("code")?.textContent ?? ""),
    jump: (btn) => columns[slotOf(btn)]?.list.scrollToBottom(),
  };
  /** @param {string} action @param {HTMLElement | null} btn */
  const act = (action, btn) => actions[action]?.(btn);
  root.addEventListener(
    "click",
    (e) => {
      const btn = /** @type {HTMLElement | null} */ (/** @type {Element} */ (e.target)?.closest?.("[data-action]") ?? null);
      if (!btn || !root.contains(btn) || /** @type {HTMLButtonElement} */ (btn).disabled) return;
      act(btn.dataset.action ?? "", btn);
    },
    { signal },
  );

  // ---- rendering --------------------------------------------------------------------------
  // One column's draft renders per frame (a render is a layout: three in one frame would make
  // one long task), the one waiting longest first, and at most COLUMN_RENDERS_PER_S renders a
  // second in all: a lone streaming column renders at every batch of deltas (20/s), three
  // take turns, each about every 100 ms.
  /** @type {Set<number>} slots whose draft changed since it was last rendered (oldest first) */
  const dirty = new Set();
  let lastRender = -Infinity;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let draftTimer;
  const draftFrame = perFrame(() => {
    const wait = lastRender + 1000 / COLUMN_RENDERS_PER_S - performance.now();
    if (wait > 0) {
      clearTimeout(draftTimer);
      draftTimer = setTimeout(() => draftFrame.schedule(), wait);
      return;
    }
    const [slot] = dirty;
    if (slot === undefined) return;
    dirty.delete(slot);
    columns[slot]?.list.renderDraft(state.liveDraft(slot));
    lastRender = performance.now();
    if (dirty.size) draftFrame.schedule();
  });

  const rounds = () => state.rounds();
  const onSlots = () => {
    /** @type {Slot[]} */
    const slots = model.get("slots") ?? [];
    if (slots.length !== columns.length) {
      for (const c of columns) c.destroy();
      columns = slots.map((_, i) => new Column(i));
      cols.replaceChildren(...columns.map((c) => c.el));
      root.style.setProperty("--nbchat-cols", String(Math.max(1, slots.length)));
    }
    const blind = Boolean(model.get("blind"));
    slots.forEach((s, i) => columns[i].setSlot(s, blind));
    onRounds();
  };
  const onVote = () => {
    const all = rounds();
    const last = all[all.length - 1];
    const idle = model.get("status") !== "streaming";
    const shown = Boolean(model.get("blind")) && Boolean(last) && idle && last.replies.every(Boolean);
    /** @type {Slot[]} */
    const slots = model.get("slots") ?? [];
    votebar.update(shown, last?.vote ?? null, slots.map((s) => s.label), slots.map((s) => (s.hidden ? "" : s.name)));
    for (const c of columns) c.setVote(shown, last?.vote ?? null);
  };
  function onRounds() {
    const all = rounds();
    const streaming = model.get("status") === "streaming";
    for (const c of columns) {
      const hadLive = c.list.live?.id;
      c.update(all, state.liveReply(c.slot), streaming);
      if (c.list.live && c.list.live.id !== hadLive) c.list.renderDraft(state.liveDraft(c.slot));
    }
    onVote();
  }
  const onStatus = () => {
    const status = model.get("status") ?? "idle";
    composer.setStreaming(status === "streaming");
    root.dataset.status = status;
    if (status === "streaming") notice.hidden = true;
    onRounds();
  };
  const onBackend = () => {
    backend.textContent = model.get("backend") ?? "";
    backend.title = backend.textContent;
    root.dataset.blind = String(Boolean(model.get("blind")));
  };

  listen("change:slots", onSlots);
  listen("change:streaming", onRounds);
  listen("change:status", onStatus);
  listen("change:backend", onBackend);
  // once per committed reply or resolved page (deltas are custom messages, not trait changes)
  state.conversation.on("change", onRounds);
  const unsubscribe = state.subscribe((event) => {
    if (event.kind === "draft") {
      dirty.add(event.slot);
      draftFrame.schedule();
    } else if (event.kind === "connection") {
      offline.hidden = event.connected;
      root.dataset.connected = String(event.connected);
      composer.setConnected(event.connected);
      if (event.intent?.type === "send") composer.settle(event.intent.id, event.connected);
    } else {
      notice.textContent = `Error: ${event.message}`;
      notice.hidden = false;
    }
  });

  onBackend();
  onSlots();
  onStatus();
  state.ensureDraftsKnown();
  for (const c of columns) c.list.renderDraft(state.liveDraft(c.slot));

  return () => {
    ac.abort();
    for (const [event, fn] of modelListeners) model.off(event, fn);
    modelListeners.length = 0;
    unsubscribe();
    state.conversation.off("change", onRounds);
    draftFrame.cancel();
    clearTimeout(draftTimer);
    for (const c of columns) c.destroy();
    host.remove();
    state.views = Math.max(0, state.views - 1);
    if (state.ownedByViews && state.views === 0) disposeCompareState(model);
  };
}

export default { initialize, render };
