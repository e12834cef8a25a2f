// Model-level state of the chat panel: the intent channel, the kernel-message dispatch table
// and the draft of the reply in progress, rebuilt from numbered `delta` messages.
//
// It lives at model level (created in `initialize`) so that no delta is missed before a view
// renders, and so that every view of the same model shares one draft. It owns the
// conversation store (conversation.js) for the same reasons.

import { Conversation } from "./conversation.js";

/** @typedef {import("./types").Model} Model */
/** @typedef {import("./types").Draft} Draft */
/** @typedef {import("./types").DraftEvent} DraftEvent */
/** @typedef {import("./types").Streaming} Streaming */
/** @typedef {import("./types").KernelMessage} KernelMessage */
/** @typedef {import("./types").DeltaMessage} DeltaMessage */
/** @typedef {import("./types").SnapshotMessage} SnapshotMessage */
/** @typedef {import("./types").AckMessage} AckMessage */
/** @typedef {import("./types").ErrorMessage} ErrorMessage */
/** @typedef {import("./types").IntentType} IntentType */

/** Intent types the front end may send; mirrors `INTENT_TYPES` in `nbchat/_messages.py`. */
export const INTENT_TYPES = /** @type {const} */ ([
  "send",
  "stop",
  "retry",
  "clear",
  "snapshot-request",
  "settings",
]);

/** Deltas that arrive before the `streaming` trait names their request: at most this many ids. */
const MAX_EARLY_REQUESTS = 4;
/** ...and at most this many deltas per id (a few flushes' worth). */
const MAX_EARLY_DELTAS = 1000;
/** Out-of-order deltas held while a gap is being filled. */
const MAX_HELD_DELTAS = 1000;
/** Unanswered intents remembered. */
const MAX_PENDING = 64;
/** Finished request ids remembered so that their late deltas are dropped, not buffered. */
const MAX_ENDED = 32;
/**
 * A snapshot-request still unanswered after this long is sent again. A request sent while a
 * reloaded page is still wiring its comm can be lost; without this the draft would wait forever.
 */
export const SNAPSHOT_RETRY_MS = 1500;

let counter = 0;
/** A fresh intent id. */
export function freshId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  counter += 1;
  return `nbchat-${Date.now().toString(36)}-${counter}`;
}

/**
 * Per-model state shared by `initialize` and every view.
 */
export class ChatState {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    /** @type {Draft | null} */
    this.draft = null;
    /** @type {Map<string, DeltaMessage[]>} deltas whose request is not streaming yet */
    this.early = new Map();
    /** @type {Map<number, string>} deltas past a gap, by seq */
    this.held = new Map();
    /** @type {string[]} request ids that have finished or been replaced */
    this.ended = [];
    /** @type {{request_id: string, id: string} | null} the snapshot-request in flight */
    this.awaiting = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} re-sends an unanswered snapshot-request */
    this.snapshotTimer = undefined;
    /** @type {Map<string, IntentType>} intents sent and not yet answered */
    this.pending = new Map();
    /** @type {Set<(event: DraftEvent) => void>} */
    this.listeners = new Set();
    /** Views rendered on this model. */
    this.views = 0;
    /** True when a view (not `initialize`) created this state, so the last view disposes it. */
    this.ownedByViews = false;
    /** The conversation (`pages` + `recent`), shared by every view. */
    this.conversation = new Conversation(model);

    this.onCustom = this.onCustom.bind(this);
    this.onStreaming = this.onStreaming.bind(this);
    this.onMessages = this.onMessages.bind(this);
    model.on("msg:custom", this.onCustom);
    model.on("change:streaming", this.onStreaming);
    this.conversation.on("change", this.onMessages);
    this.onStreaming();
  }

  /** Remove every model listener this state registered. */
  dispose() {
    clearTimeout(this.snapshotTimer);
    this.model.off("msg:custom", this.onCustom);
    this.model.off("change:streaming", this.onStreaming);
    this.conversation.off("change", this.onMessages);
    this.conversation.dispose();
    this.listeners.clear();
    this.early.clear();
    this.held.clear();
    this.pending.clear();
    this.draft = null;
  }

  /**
   * Subscribe to draft changes and notices; returns the unsubscribe function.
   * @param {(event: DraftEvent) => void} fn
   */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** @param {DraftEvent} event */
  emit(event) {
    for (const fn of [...this.listeners]) fn(event);
  }

  /**
   * Send an intent, stamped with a fresh id. The only place that calls `model.send`.
   * @template {IntentType} T
   * @param {T} type
   * @param {import("./types").IntentBody<T>} [body]
   * @returns {string} the intent id
   */
  sendIntent(type, body) {
    if (!INTENT_TYPES.includes(type)) throw new Error(`nbchat: unknown intent ${type}`);
    const id = freshId();
    this.pending.set(id, type);
    // The kernel answers every intent; if it never does, do not grow without bound.
    if (this.pending.size > MAX_PENDING) this.pending.delete(/** @type {string} */ (this.pending.keys().next().value));
    this.model.send({ ...(body ?? {}), type, id });
    return id;
  }

  /** @returns {Streaming} */
  streaming() {
    return this.model.get("streaming") ?? {};
  }

  /** Is the reply in progress already committed to the conversation? */
  committed() {
    const s = this.streaming();
    if (!s.id) return false;
    return this.conversation.has(s.id);
  }

  /** @param {string} requestId */
  markEnded(requestId) {
    if (this.ended.includes(requestId)) return;
    this.ended.push(requestId);
    if (this.ended.length > MAX_ENDED) this.ended.shift();
    this.early.delete(requestId);
  }

  dropDraft() {
    if (this.draft) this.markEnded(this.draft.request_id);
    const had = this.draft !== null;
    this.draft = null;
    this.held.clear();
    this.awaiting = null;
    if (had) this.emit({ kind: "draft" });
  }

  /** React to the `streaming` trait: start, switch or finish a draft. */
  onStreaming() {
    const s = this.streaming();
    const rid = s.request_id;
    if (!rid || this.committed()) {
      this.dropDraft();
      return;
    }
    if (this.draft && this.draft.request_id === rid) return;
    this.dropDraft();
    this.draft = { request_id: rid, seq: 0, text: "", known: false };
    const early = this.early.get(rid) ?? [];
    this.early.delete(rid);
    for (const d of early) this.applyDelta(d, false);
    this.emit({ kind: "draft" });
  }

  /** The conversation changed: if it gained the message with id === streaming.id, the draft is no longer needed. */
  onMessages() {
    if (this.draft && this.committed()) this.dropDraft();
  }

  /**
   * Ask the kernel for the full text of the reply in progress (deduplicated per request).
   * @returns {boolean} whether a request was sent
   */
  requestSnapshot() {
    const rid = this.streaming().request_id;
    if (!rid) return false;
    if (this.awaiting && this.awaiting.request_id === rid) return false;
    const id = this.sendIntent("snapshot-request");
    this.awaiting = { request_id: rid, id };
    clearTimeout(this.snapshotTimer);
    this.snapshotTimer = setTimeout(() => {
      if (this.awaiting && this.awaiting.id === id) {
        this.awaiting = null;
        this.requestSnapshot(); // sends nothing once the reply has ended
      }
    }, SNAPSHOT_RETRY_MS);
    return true;
  }

  /** A view rendered: if a reply is in progress and its text is unknown, ask for it. */
  ensureDraftKnown() {
    const s = this.streaming();
    if (!s.request_id || this.committed()) return;
    if (!this.draft || this.draft.request_id !== s.request_id) this.onStreaming();
    if (this.draft && !this.draft.known) this.requestSnapshot();
  }

  /**
   * Apply one delta to the draft.
   * @param {DeltaMessage} msg
   * @param {boolean} [notify]
   */
  applyDelta(msg, notify = true) {
    const rid = msg.request_id;
    const seq = Number(msg.seq);
    if (typeof rid !== "string" || !Number.isInteger(seq) || typeof msg.text !== "string") return;
    const d = this.draft;
    if (!d || d.request_id !== rid) {
      // Stale (a stopped or finished request) -> drop. Unknown -> the `streaming` update may
      // still be on its way: buffer a little, keyed by request id.
      if (this.ended.includes(rid)) return;
      if (this.streaming().request_id === rid) {
        // The trait already names this request but no draft is open for it: either it was
        // committed (drop) or the draft must be (re)opened first.
        this.onStreaming();
        if (this.draft && this.draft.request_id === rid) this.applyDelta(msg, notify);
        return;
      }
      let buf = this.early.get(rid);
      if (!buf) {
        if (this.early.size >= MAX_EARLY_REQUESTS) {
          const oldest = this.early.keys().next().value;
          if (oldest !== undefined) this.early.delete(oldest);
        }
        buf = [];
        this.early.set(rid, buf);
      }
      if (buf.length < MAX_EARLY_DELTAS) buf.push(msg);
      return;
    }
    if (seq <= d.seq) return; // duplicate
    if (seq === d.seq + 1) {
      d.text += msg.text;
      d.seq = seq;
      if (seq === 1) d.known = true;
      this.drainHeld();
      if (notify) this.emit({ kind: "draft" });
      return;
    }
    // A gap: hold this delta and ask for the full text so far.
    if (this.held.size < MAX_HELD_DELTAS) this.held.set(seq, msg.text);
    this.requestSnapshot();
  }

  /** Apply held deltas that are now contiguous; forget the ones already covered. */
  drainHeld() {
    const d = this.draft;
    if (!d) return;
    for (const s of [...this.held.keys()]) if (s <= d.seq) this.held.delete(s);
    let next = this.held.get(d.seq + 1);
    while (next !== undefined) {
      this.held.delete(d.seq + 1);
      d.text += next;
      d.seq += 1;
      next = this.held.get(d.seq + 1);
    }
  }

  /** @param {SnapshotMessage} msg */
  applySnapshot(msg) {
    if (msg.id) this.pending.delete(msg.id);
    const d = this.draft;
    if (this.awaiting && (msg.id === this.awaiting.id || msg.request_id === this.awaiting.request_id)) {
      this.awaiting = null;
    }
    if (!d || !msg.request_id || msg.request_id !== d.request_id) return;
    const seq = Number(msg.seq);
    if (!Number.isInteger(seq) || typeof msg.content !== "string") return;
    // A snapshot older than what we already have would roll the text back.
    if (seq < d.seq) return;
    d.text = msg.content;
    d.seq = seq;
    d.known = true;
    this.drainHeld();
    this.emit({ kind: "draft" });
  }

  /** @param {AckMessage} msg */
  applyAck(msg) {
    this.pending.delete(msg.id);
  }

  /** @param {ErrorMessage} msg */
  applyError(msg) {
    if (msg.id) this.pending.delete(msg.id);
    if (this.awaiting && msg.id === this.awaiting.id) this.awaiting = null;
    this.emit({ kind: "notice", message: String(msg.message ?? "unknown error") });
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
 * @type {{[K in import("./types").KernelMessageType]: (state: ChatState, msg: Extract<KernelMessage, {type: K}>) => void}}
 */
export const KERNEL_HANDLERS = {
  delta: (state, msg) => state.applyDelta(msg),
  snapshot: (state, msg) => state.applySnapshot(msg),
  ack: (state, msg) => state.applyAck(msg),
  error: (state, msg) => state.applyError(msg),
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
