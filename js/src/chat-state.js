// Model-level state of the chat panel, shared by `initialize` and every view: it owns the
// conversation store (conversation.js), the intent channel (channel.js) and the draft of the
// reply in progress (draft.js), and dispatches the kernel's custom messages to them.
//
// It lives at model level (created in `initialize`) so that no delta is missed before a view
// renders, and so that every view of the same model shares one draft and one conversation.

import { IntentChannel } from "./channel.js";
import { Conversation } from "./conversation.js";
import { ReplyDraft } from "./draft.js";

export { INTENT_TYPES, freshId } from "./channel.js";
export { SNAPSHOT_RETRY_MS } from "./draft.js";

/** @typedef {import("./types").Model} Model */
/** @typedef {import("./types").Draft} Draft */
/** @typedef {import("./types").StateEvent} StateEvent */
/** @typedef {import("./types").Streaming} Streaming */
/** @typedef {import("./types").KernelMessage} KernelMessage */
/** @typedef {import("./types").IntentType} IntentType */

export class ChatState {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    /** @type {Set<(event: StateEvent) => void>} */
    this.listeners = new Set();
    /** Views rendered on this model. */
    this.views = 0;
    /** True when a view (not `initialize`) created this state, so the last view disposes it. */
    this.ownedByViews = false;
    /** The conversation (`pages` + `recent`), shared by every view. */
    this.conversation = new Conversation(model);
    /** @type {Map<string, (answer: any) => void>} intents whose answer is a message (`ask`) */
    this.waiters = new Map();
    this.channel = new IntentChannel(model, {
      unanswered: (intent) => {
        this.settle(intent.id, { type: "error", id: intent.id, message: "The kernel did not answer (not connected)." });
        this.emit({ kind: "connection", connected: false, intent });
      },
      answered: (intent) => this.emit({ kind: "connection", connected: true, intent }),
    });
    this.replyDraft = new ReplyDraft({
      streaming: () => this.streaming(),
      liveReply: () => this.liveReply(),
      requestSnapshotIntent: () => this.sendIntent("snapshot-request"),
      changed: () => this.emit({ kind: "draft" }),
    });

    this.onCustom = this.onCustom.bind(this);
    this.onStreaming = this.onStreaming.bind(this);
    this.onMessages = this.onMessages.bind(this);
    model.on("msg:custom", this.onCustom);
    model.on("change:streaming", this.onStreaming);
    this.conversation.on("change", this.onMessages);
    this.onStreaming();
  }

  /** The draft of the reply in progress, or null. */
  get draft() {
    return this.replyDraft.current;
  }

  /** Remove every model listener this state registered. */
  dispose() {
    this.model.off("msg:custom", this.onCustom);
    this.model.off("change:streaming", this.onStreaming);
    this.conversation.off("change", this.onMessages);
    this.conversation.dispose();
    this.channel.dispose();
    this.replyDraft.dispose();
    this.listeners.clear();
    this.waiters.clear();
  }

  /**
   * Subscribe to draft changes, notices and connection changes; returns the unsubscribe function.
   * @param {(event: StateEvent) => void} fn
   */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** @param {StateEvent} event */
  emit(event) {
    for (const fn of [...this.listeners]) fn(event);
  }

  /**
   * Send an intent (see `IntentChannel.send`).
   * @template {IntentType} T
   * @param {T} type
   * @param {import("./types").IntentBody<T>} [body]
   * @returns {string} the intent id
   */
  sendIntent(type, body) {
    return this.channel.send(type, body);
  }

  /**
   * Send an intent answered by a message of its own (`raw-request` -> `raw`); resolves with
   * that answer, or with the `error` answer (also when the kernel does not answer).
   * @template {IntentType} T
   * @param {T} type
   * @param {import("./types").IntentBody<T>} [body]
   * @returns {Promise<any>}
   */
  ask(type, body) {
    return new Promise((resolve) => this.waiters.set(this.sendIntent(type, body), resolve));
  }

  /**
   * @param {string | null | undefined} id
   * @param {unknown} answer
   */
  settle(id, answer) {
    const resolve = id ? this.waiters.get(id) : undefined;
    if (id) this.waiters.delete(id);
    resolve?.(answer);
  }

  /** @returns {Streaming} */
  streaming() {
    return this.model.get("streaming") ?? {};
  }

  /**
   * The reply in progress, or null when there is none or it is already committed to the
   * conversation. The one place that decides "is the reply committed?".
   * @returns {Streaming | null}
   */
  liveReply() {
    const s = this.streaming();
    if (!s.request_id) return null;
    if (s.id && this.conversation.has(s.id)) return null;
    return s;
  }

  /** The draft, if it belongs to the reply in progress. @returns {Draft | null} */
  liveDraft() {
    const d = this.replyDraft.current;
    const live = this.liveReply();
    return d && live && d.request_id === live.request_id ? d : null;
  }

  /** React to the `streaming` trait: start, switch or finish a draft. */
  onStreaming() {
    this.replyDraft.sync();
  }

  onMessages() {
    this.replyDraft.onConversation();
  }

  /** A view rendered: if a reply is in progress and its text is unknown, ask for it. */
  ensureDraftKnown() {
    this.replyDraft.ensureKnown();
  }

  /**
   * Dispatch one custom message from the kernel.
   * @param {unknown} msg
   */
  onCustom(msg) {
    if (!msg || typeof msg !== "object") return;
    const type = /** @type {{type?: unknown}} */ (msg).type;
    if (typeof type !== "string" || !Object.prototype.hasOwnProperty.call(KERNEL_HANDLERS, type)) return;
    KERNEL_HANDLERS[/** @type {import("./types").KernelMessageType} */ (type)](this, /** @type {any} */ (msg));
  }
}

/**
 * The one dispatch table for kernel -> front-end messages (`KERNEL_MESSAGE_TYPES`).
 * Every message proves the kernel is there; answers settle their intent.
 * @type {{[K in import("./types").KernelMessageType]: (state: ChatState, msg: Extract<KernelMessage, {type: K}>) => void}}
 */
export const KERNEL_HANDLERS = {
  delta: (state, msg) => {
    state.channel.answer(null);
    state.replyDraft.applyDelta(msg);
  },
  snapshot: (state, msg) => {
    state.channel.answer(msg.id);
    state.replyDraft.applySnapshot(msg);
  },
  ack: (state, msg) => state.channel.answer(msg.id),
  raw: (state, msg) => {
    state.channel.answer(msg.id);
    state.settle(msg.id, msg);
  },
  error: (state, msg) => {
    state.channel.answer(msg.id);
    // An asked intent's error goes to whoever asked (the Raw view shows it), not to a banner.
    if (msg.id && state.waiters.has(msg.id)) return state.settle(msg.id, msg);
    state.replyDraft.failed(msg.id);
    state.emit({ kind: "notice", message: String(msg.message ?? "unknown error") });
  },
};

/** @type {WeakMap<object, ChatState>} */
const states = new WeakMap();

/**
 * The state of `model`, created on first use.
 * @param {Model} model
 * @returns {{state: ChatState, created: boolean}}
 */
export function ensureState(model) {
  const existing = states.get(model);
  if (existing) return { state: existing, created: false };
  const state = new ChatState(model);
  states.set(model, state);
  return { state, created: true };
}

/**
 * Forget and dispose the state of `model`.
 * @param {Model} model
 */
export function disposeState(model) {
  const state = states.get(model);
  if (!state) return;
  states.delete(model);
  state.dispose();
}
