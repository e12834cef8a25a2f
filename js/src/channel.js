// The intent channel: the one place that sends custom messages to the kernel, and that knows
// whether the kernel is there to hear them.
//
// Every intent carries a fresh `id`, and the kernel always answers it (`ack`, `error`, or for a
// snapshot-request a `snapshot`; STYLE.md §1.4). An intent left unanswered for
// `ANSWER_TIMEOUT_MS` means the panel is not connected: the kernel was restarted, or the
// notebook was reopened without running the cell (the widget is rebuilt from saved state, with
// no comm behind it), and `model.send` then drops the message without a word. Any later answer
// means it is connected again (a kernel busy in a cell answers late, not never).

/** @typedef {import("./types").Model} Model */
/** @typedef {import("./types").Intent} Intent */
/** @typedef {import("./types").IntentType} IntentType */

/** Intent types the front end may send; mirrors `INTENT_TYPES` in the Python vocabulary. */
export const INTENT_TYPES = /** @type {const} */ ([
  "send",
  "stop",
  "retry",
  "clear",
  "undo-clear",
  "snapshot-request",
  "settings",
  "edit",
  "switch-branch",
  "raw-request",
]);

/** An intent unanswered after this long (ms) means the panel is not connected. */
export const ANSWER_TIMEOUT_MS = 1500;
/** Unanswered intents remembered. */
const MAX_PENDING = 64;

let counter = 0;
/** A fresh intent id. */
export function freshId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  counter += 1;
  return `nbchat-${Date.now().toString(36)}-${counter}`;
}

/**
 * @typedef {object} ChannelEvents
 * @property {(intent: Intent) => void} unanswered an intent got no answer in time (now not connected)
 * @property {(intent: Intent | null) => void} answered an intent was answered, or the kernel spoke
 *   again after an unanswered one (the intent, if still known)
 */

export class IntentChannel {
  /**
   * @param {Model} model
   * @param {ChannelEvents} events
   * @param {readonly string[]} [types] the intent types this widget may send (the comparison
   *   widget has a vocabulary of its own)
   */
  constructor(model, events, types = INTENT_TYPES) {
    this.model = model;
    this.events = events;
    this.types = types;
    /** @type {Map<string, Intent>} intents sent and not yet answered */
    this.pending = new Map();
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    this.timers = new Map();
    /** False once an intent went unanswered, until the next answer. */
    this.connected = true;
  }

  /**
   * Send an intent, stamped with a fresh id. The only place that calls `model.send`.
   * @template {IntentType} T
   * @param {T} type
   * @param {import("./types").IntentBody<T>} [body]
   * @returns {string} the intent id
   */
  send(type, body) {
    if (!this.types.includes(type)) throw new Error(`nbchat: unknown intent ${type}`);
    const id = freshId();
    const intent = /** @type {Intent} */ ({ ...(body ?? {}), type, id });
    this.pending.set(id, intent);
    // The kernel answers every intent; if it never does, do not grow without bound.
    if (this.pending.size > MAX_PENDING) this.forget(/** @type {string} */ (this.pending.keys().next().value));
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        if (!this.pending.has(id)) return;
        this.connected = false;
        this.events.unanswered(intent);
      }, ANSWER_TIMEOUT_MS),
    );
    try {
      this.model.send(intent);
    } catch (err) {
      // A model whose comm is closed may throw: that is "not connected" too, found out at once.
      console.warn("nbchat: not connected to the kernel:", String(err));
      this.forget(id);
      this.connected = false;
      // (after the caller has learnt the id, as for an answer that never comes)
      queueMicrotask(() => this.events.unanswered(intent));
    }
    return id;
  }

  /**
   * The kernel answered intent `id` (or spoke unasked, `id` null): it is there.
   * @param {string | null | undefined} id
   */
  answer(id) {
    const intent = (id && this.pending.get(id)) || null;
    if (id) this.forget(id);
    const reconnected = !this.connected;
    this.connected = true;
    if (intent || reconnected) this.events.answered(intent);
  }

  /** @param {string} id */
  forget(id) {
    this.pending.delete(id);
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  dispose() {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
  }
}
