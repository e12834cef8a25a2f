// The draft of the reply in progress, rebuilt from numbered `delta` messages (and `snapshot`
// answers when a view opens mid-stream or sees a gap). Its text is not a trait: re-sending it
// on every update would cost O(n^2) bytes (nbchat's vocabulary module says more).

/** @typedef {import("./types").Draft} Draft */
/** @typedef {import("./types").Streaming} Streaming */
/** @typedef {import("./types").DeltaMessage} DeltaMessage */
/** @typedef {import("./types").SnapshotMessage} SnapshotMessage */

/** Deltas that arrive before the `streaming` trait names their request: at most this many ids. */
const MAX_EARLY_REQUESTS = 4;
/** ...and at most this many deltas per id (a few flushes' worth). */
const MAX_EARLY_DELTAS = 1000;
/** Out-of-order deltas held while a gap is being filled. */
const MAX_HELD_DELTAS = 1000;
/** Finished request ids remembered so that their late deltas are dropped, not buffered. */
const MAX_ENDED = 32;
/**
 * A snapshot-request still unanswered after this long is sent again. A request sent while a
 * reloaded page is still wiring its comm can be lost; without this the draft would wait forever.
 */
export const SNAPSHOT_RETRY_MS = 1500;

/**
 * @typedef {object} DraftHost what the draft needs from the panel's state
 * @property {() => Streaming} streaming the `streaming` trait
 * @property {() => Streaming | null} liveReply the reply in progress if not yet committed
 * @property {() => string} requestSnapshotIntent sends a snapshot-request, returns its id
 * @property {() => void} changed the draft changed
 */

export class ReplyDraft {
  /** @param {DraftHost} host */
  constructor(host) {
    this.host = host;
    /** @type {Draft | null} */
    this.current = null;
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
  }

  dispose() {
    clearTimeout(this.snapshotTimer);
    this.early.clear();
    this.held.clear();
    this.current = null;
  }

  /** @param {string} requestId */
  markEnded(requestId) {
    if (this.ended.includes(requestId)) return;
    this.ended.push(requestId);
    if (this.ended.length > MAX_ENDED) this.ended.shift();
    this.early.delete(requestId);
  }

  drop() {
    if (this.current) this.markEnded(this.current.request_id);
    const had = this.current !== null;
    this.current = null;
    this.held.clear();
    this.awaiting = null;
    if (had) this.host.changed();
  }

  /** Follow the `streaming` trait and the conversation: start, switch or finish the draft. */
  sync() {
    const live = this.host.liveReply();
    const rid = live?.request_id;
    if (!rid) {
      this.drop();
      return;
    }
    if (this.current && this.current.request_id === rid) return;
    this.drop();
    this.current = { request_id: rid, seq: 0, text: "", known: false };
    const early = this.early.get(rid) ?? [];
    this.early.delete(rid);
    for (const d of early) this.applyDelta(d, false);
    this.host.changed();
  }

  /** The conversation changed: if it gained the reply in progress, the draft is no longer needed. */
  onConversation() {
    if (this.current && !this.host.liveReply()) this.drop();
  }

  /**
   * Ask the kernel for the full text of the reply in progress (deduplicated per request).
   * @returns {boolean} whether a request was sent
   */
  requestSnapshot() {
    const rid = this.host.streaming().request_id;
    if (!rid) return false;
    if (this.awaiting && this.awaiting.request_id === rid) return false;
    const id = this.host.requestSnapshotIntent();
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
  ensureKnown() {
    const live = this.host.liveReply();
    if (!live?.request_id) return;
    if (!this.current || this.current.request_id !== live.request_id) this.sync();
    if (this.current && !this.current.known) this.requestSnapshot();
  }

  /**
   * Apply one delta.
   * @param {DeltaMessage} msg
   * @param {boolean} [notify]
   */
  applyDelta(msg, notify = true) {
    const rid = msg.request_id;
    const seq = Number(msg.seq);
    if (typeof rid !== "string" || !Number.isInteger(seq) || typeof msg.text !== "string") return;
    const d = this.current;
    if (!d || d.request_id !== rid) {
      // Stale (a stopped or finished request) -> drop. Unknown -> the `streaming` update may
      // still be on its way: buffer a little, keyed by request id.
      if (this.ended.includes(rid)) return;
      if (this.host.streaming().request_id === rid) {
        // The trait already names this request but no draft is open for it: either it was
        // committed (drop) or the draft must be (re)opened first.
        this.sync();
        if (this.current && this.current.request_id === rid) this.applyDelta(msg, notify);
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
      if (notify) this.host.changed();
      return;
    }
    // A gap: hold this delta and ask for the full text so far.
    if (this.held.size < MAX_HELD_DELTAS) this.held.set(seq, msg.text);
    this.requestSnapshot();
  }

  /** Apply held deltas that are now contiguous; forget the ones already covered. */
  drainHeld() {
    const d = this.current;
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
    const d = this.current;
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
    this.host.changed();
  }

  /**
   * An error answered intent `id`: if it was the snapshot-request in flight, stop waiting.
   * @param {string | null} id
   */
  failed(id) {
    if (this.awaiting && id === this.awaiting.id) this.awaiting = null;
  }
}
