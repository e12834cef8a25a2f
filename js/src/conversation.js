// The conversation, resolved from the paged traits of `ChatPanel` (nbchat/widget.py): the
// messages of `pages` (references to immutable page models, oldest first) followed by `recent`.
//
// Model-level (created with the model's `ChatState` in `initialize`), shared by every view.
// Pages never change once created, so a resolved page is cached by model id and never
// resolved again; the flattened page messages are kept until `pages` changes, and a `recent`
// change only appends the new tail to them. While a page is still resolving, `messages()`
// keeps returning the last complete list: a view never sees a hole or a reordering.

/** @typedef {import("./types").Model} Model */
/** @typedef {import("./types").ChatMessage} ChatMessage */
/** @typedef {import("./types").PageTraits} PageTraits */

const REF_PREFIX = "IPY_MODEL_";

/**
 * @typedef {object} PageEntry
 * @property {Promise<void>} settled settles (never rejects) when the page is resolved or failed
 * @property {boolean} done
 * @property {ChatMessage[] | null} messages null until resolved, and when it failed
 */

/**
 * @param {unknown} value
 * @returns {any[]}
 */
const arrayOf = (value) => (Array.isArray(value) ? value : []);

/**
 * The model id of a widget reference (`"IPY_MODEL_<id>"`), or null if it is not one.
 * @param {unknown} ref
 */
export function refId(ref) {
  return typeof ref === "string" && ref.startsWith(REF_PREFIX) && ref.length > REF_PREFIX.length
    ? ref.slice(REF_PREFIX.length)
    : null;
}

export class Conversation {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    /** @type {Map<string, PageEntry>} pages by model id (only those of the latest `pages`) */
    this.cache = new Map();
    /** The `pages` value (refs joined) last seen: resolved, or resolving. */
    this.target = "";
    /** Bumped on every new `pages` value: only the latest resolution is applied. */
    this.generation = 0;
    /** True while the latest `pages` value is resolving (`messages()` is the previous list). */
    this.resolving = false;
    /** @type {ChatMessage[]} the messages of the resolved pages, flattened, in order */
    this.pageMessages = [];
    /** @type {Set<string>} their ids */
    this.pageIds = new Set();
    /** @type {ChatMessage[]} the last complete conversation */
    this.list = [];
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    this.disposed = false;
    this.sync = this.sync.bind(this);
    model.on("change:pages", this.sync);
    model.on("change:recent", this.sync);
    this.build();
    this.sync();
  }

  /** The conversation: page messages in order, then `recent`. Do not mutate. */
  messages() {
    return this.list;
  }

  /**
   * Is a message with this id in the conversation? (Searches from the end: the newest first.)
   * @param {string} id
   */
  has(id) {
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]?.id === id) return true;
    return false;
  }

  /**
   * @param {"change"} event the conversation changed, or finished resolving
   * @param {() => void} fn
   */
  on(event, fn) {
    if (event === "change") this.listeners.add(fn);
  }

  /**
   * @param {"change"} event
   * @param {() => void} fn
   */
  off(event, fn) {
    if (event === "change") this.listeners.delete(fn);
  }

  dispose() {
    this.disposed = true;
    this.generation += 1;
    this.model.off("change:pages", this.sync);
    this.model.off("change:recent", this.sync);
    this.listeners.clear();
    this.cache.clear();
  }

  emit() {
    for (const fn of [...this.listeners]) {
      // A listener's bug must not break the model's event loop (or leave a rejected promise).
      try {
        fn();
      } catch (err) {
        console.error("nbchat: conversation listener failed", err);
      }
    }
  }

  /** React to `pages` or `recent`. Always reads both traits: their change events may come in either order. */
  sync() {
    if (this.disposed) return;
    const refs = arrayOf(this.model.get("pages"));
    const key = refs.join("\n");
    if (key !== this.target) {
      this.loadPages(refs, key);
      return;
    }
    // The pages in flight are combined with whatever `recent` is when they resolve.
    if (this.resolving) return;
    if (this.build()) this.emit();
  }

  /**
   * Resolve a new `pages` value: at once if every page is cached, else asynchronously.
   * @param {unknown[]} refs
   * @param {string} key
   */
  loadPages(refs, key) {
    this.target = key;
    const generation = ++this.generation;
    /** @type {string[]} */
    const ids = [];
    for (const ref of refs) {
      const id = refId(ref);
      if (id === null) console.error("nbchat: not a widget reference in `pages`:", ref);
      else ids.push(id);
    }
    const entries = ids.map((id) => this.entry(id));
    if (entries.every((e) => e.done)) {
      this.applyPages(ids, entries);
      return;
    }
    this.resolving = true;
    void Promise.all(entries.map((e) => e.settled)).then(() => {
      if (this.disposed || generation !== this.generation) return; // a newer `pages` won
      this.applyPages(ids, entries);
    });
  }

  /**
   * The cache entry of page `id`, resolving it if it is new (or failed before).
   * @param {string} id
   * @returns {PageEntry}
   */
  entry(id) {
    const cached = this.cache.get(id);
    if (cached && !(cached.done && cached.messages === null)) return cached;
    /** @type {PageEntry} */
    const entry = { settled: Promise.resolve(), done: false, messages: null };
    entry.settled = new Promise((resolve) => {
      resolve(this.model.widget_manager.get_model(id));
    })
      .then(
        (page) => {
          entry.messages = arrayOf(/** @type {import("./types").PageModel} */ (page).get("messages"));
        },
        (err) => {
          console.error(`nbchat: page ${id} could not be resolved; the conversation is shown without it`, err);
        },
      )
      .finally(() => {
        entry.done = true;
      });
    this.cache.set(id, entry);
    return entry;
  }

  /**
   * The latest `pages` value is resolved: flatten it once, forget pages no longer used.
   * @param {string[]} ids
   * @param {PageEntry[]} entries
   */
  applyPages(ids, entries) {
    this.resolving = false;
    /** @type {ChatMessage[]} */
    const flat = [];
    for (const e of entries) if (e.messages) for (const m of e.messages) flat.push(m);
    this.pageMessages = flat;
    this.pageIds = new Set(flat.map((m) => m?.id));
    const used = new Set(ids);
    for (const id of [...this.cache.keys()]) if (!used.has(id)) this.cache.delete(id);
    this.build();
    // Also when the list is unchanged: views that waited for the resolution render now.
    this.emit();
  }

  /**
   * Rebuild the list from the cached page messages and the current `recent`.
   * @returns {boolean} whether the list changed
   */
  build() {
    const recent = /** @type {ChatMessage[]} */ (arrayOf(this.model.get("recent")));
    // A message already in a page is not repeated (`pages` and `recent` sent apart).
    const tail = this.pageIds.size ? recent.filter((m) => !this.pageIds.has(m?.id)) : recent;
    const next = this.pageMessages.concat(tail);
    const prev = this.list;
    if (next.length === prev.length && next.every((m, i) => m === prev[i])) return false;
    this.list = next;
    return true;
  }
}
