// Model-level state of the comparison widget, shared by `initialize` and every view: the
// prompts (`pages` + `recent`, resolved by the chat panel's conversation.js), the intent
// channel (channel.js) and one reply draft per slot (draft.js, the chat panel's own), fed by
// the kernel's batched `deltas` messages and `snapshot` answers.
//
// It lives at model level so that no delta is missed before a view renders.

import { IntentChannel } from "./channel.js";
import { Conversation } from "./conversation.js";
import { ReplyDraft } from "./draft.js";

/** @typedef {import("./compare-types").CompareModel} CompareModel */
/** @typedef {import("./compare-types").StreamingSlot} StreamingSlot */
/** @typedef {import("./compare-types").RoundState} RoundState */
/** @typedef {import("./compare-types").CompareIntentType} CompareIntentType */
/** @typedef {import("./compare-types").CompareKernelMessage} CompareKernelMessage */
/** @typedef {import("./types").Draft} Draft */

/** Intent types of the comparison; mirrors `INTENT_TYPES` in compare_vocabulary.py. */
export const COMPARE_INTENT_TYPES = /** @type {const} */ (["send", "stop", "retry", "vote", "snapshot-request"]);

/** One snapshot-request serves every slot that asks within this many ms. */
const SNAPSHOT_SHARE_MS = 250;

/**
 * @typedef {{kind: "draft", slot: number} | {kind: "notice", message: string}
 *   | {kind: "connection", connected: boolean, intent: any}} CompareEvent
 */

export class CompareState {
  /** @param {CompareModel} model */
  constructor(model) {
    this.model = model;
    /** @type {Set<(event: CompareEvent) => void>} */
    this.listeners = new Set();
    this.views = 0;
    this.ownedByViews = false;
    this.channel = new IntentChannel(
      /** @type {any} */ (model),
      {
        unanswered: (intent) => this.emit({ kind: "connection", connected: false, intent }),
        answered: (intent) => this.emit({ kind: "connection", connected: true, intent }),
      },
      COMPARE_INTENT_TYPES,
    );
    /** The prompts: the rounds of `pages` (resolved once) and then `recent`. */
    this.conversation = new Conversation(/** @type {any} */ (model));
    /** @type {ReplyDraft[]} one per slot */
    this.drafts = [];
    /** @type {{id: string, at: number} | null} */
    this.snapshotAsked = null;
    this.onCustom = this.onCustom.bind(this);
    this.onStreaming = this.onStreaming.bind(this);
    model.on("msg:custom", this.onCustom);
    model.on("change:streaming", this.onStreaming);
    this.conversation.on("change", this.onStreaming);
    this.onStreaming();
  }

  dispose() {
    this.model.off("msg:custom", this.onCustom);
    this.model.off("change:streaming", this.onStreaming);
    this.conversation.off("change", this.onStreaming);
    this.conversation.dispose();
    this.channel.dispose();
    for (const d of this.drafts) d.dispose();
    this.listeners.clear();
  }

  /** @param {(event: CompareEvent) => void} fn */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** @param {CompareEvent} event */
  emit(event) {
    for (const fn of [...this.listeners]) fn(event);
  }

  /**
   * Send an intent through the channel (the only sender).
   * @template {CompareIntentType} T
   * @param {T} type
   * @param {import("./compare-types").CompareIntentBody<T>} [body]
   */
  ask(type, body) {
    return this.channel.send(/** @type {any} */ (type), /** @type {any} */ (body));
  }

  /** The prompts shown, oldest first. @returns {RoundState[]} */
  rounds() {
    return /** @type {any} */ (this.conversation.messages());
  }

  /** @param {number} slot @returns {StreamingSlot} */
  streaming(slot) {
    return (this.model.get("streaming") ?? [])[slot] ?? {};
  }

  /**
   * The reply in progress in `slot`, or null when none is, or it is committed already.
   * @param {number} slot
   * @returns {StreamingSlot | null}
   */
  liveReply(slot) {
    const s = this.streaming(slot);
    if (!s.request_id) return null;
    const rounds = this.rounds();
    const last = rounds[rounds.length - 1];
    if (s.id && last && last.replies[slot]?.id === s.id) return null;
    return s;
  }

  /** @param {number} slot @returns {Draft | null} the draft of the reply in progress */
  liveDraft(slot) {
    const d = this.drafts[slot]?.current ?? null;
    const live = this.liveReply(slot);
    return d && live && d.request_id === live.request_id ? d : null;
  }

  /** @param {number} slot */
  draft(slot) {
    while (this.drafts.length <= slot) {
      const i = this.drafts.length;
      this.drafts.push(
        new ReplyDraft({
          streaming: () => /** @type {any} */ (this.streaming(i)),
          liveReply: () => /** @type {any} */ (this.liveReply(i)),
          requestSnapshotIntent: () => this.requestSnapshot(),
          changed: () => this.emit({ kind: "draft", slot: i }),
        }),
      );
    }
    return this.drafts[slot];
  }

  /** One snapshot-request for every slot that needs one now. */
  requestSnapshot() {
    const now = Date.now();
    if (this.snapshotAsked && now - this.snapshotAsked.at < SNAPSHOT_SHARE_MS) return this.snapshotAsked.id;
    const id = this.ask("snapshot-request");
    this.snapshotAsked = { id, at: now };
    return id;
  }

  onStreaming() {
    const n = (this.model.get("streaming") ?? []).length;
    for (let i = 0; i < n; i++) this.draft(i).sync();
  }

  /** A view rendered: ask for the text of any reply in progress it does not know. */
  ensureDraftsKnown() {
    const n = (this.model.get("streaming") ?? []).length;
    for (let i = 0; i < n; i++) this.draft(i).ensureKnown();
  }

  /** @param {unknown} msg */
  onCustom(msg) {
    if (!msg || typeof msg !== "object") return;
    const type = /** @type {{type?: unknown}} */ (msg).type;
    if (typeof type !== "string" || !Object.prototype.hasOwnProperty.call(COMPARE_HANDLERS, type)) return;
    COMPARE_HANDLERS[/** @type {import("./compare-types").CompareKernelMessageType} */ (type)](this, /** @type {any} */ (msg));
  }
}

/** @param {unknown} v */
const isSlot = (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0 && /** @type {number} */ (v) < 64;

/**
 * The one dispatch table for kernel -> front-end messages (`KERNEL_MESSAGE_TYPES`).
 * @type {{[K in import("./compare-types").CompareKernelMessageType]: (state: CompareState, msg: Extract<CompareKernelMessage, {type: K}>) => void}}
 */
export const COMPARE_HANDLERS = {
  deltas: (state, msg) => {
    state.channel.answer(null);
    for (const item of Array.isArray(msg.items) ? msg.items : []) {
      if (!item || !isSlot(item.slot)) continue;
      state.draft(item.slot).applyDelta({ type: "delta", request_id: item.request_id, seq: item.seq, text: item.text });
    }
  },
  snapshot: (state, msg) => {
    state.channel.answer(msg.id);
    for (const item of Array.isArray(msg.items) ? msg.items : []) {
      if (!item || !isSlot(item.slot)) continue;
      const { request_id, seq, content } = item;
      state.draft(item.slot).applySnapshot({ type: "snapshot", id: msg.id, request_id, seq, content });
    }
    // slots the answer does not name have finished: they stop waiting
    for (const d of state.drafts) d.failed(msg.id);
  },
  ack: (state, msg) => state.channel.answer(msg.id),
  error: (state, msg) => {
    state.channel.answer(msg.id);
    for (const d of state.drafts) d.failed(msg.id);
    state.emit({ kind: "notice", message: String(msg.message ?? "unknown error") });
  },
};

/** @type {WeakMap<object, CompareState>} */
const states = new WeakMap();

/** @param {CompareModel} model */
export function ensureCompareState(model) {
  const existing = states.get(model);
  if (existing) return { state: existing, created: false };
  const state = new CompareState(model);
  states.set(model, state);
  return { state, created: true };
}

/** @param {CompareModel} model */
export function disposeCompareState(model) {
  const state = states.get(model);
  if (!state) return;
  states.delete(model);
  state.dispose();
}
