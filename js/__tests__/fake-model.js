// A fake AFM model: get/set/on/off/send/save_changes and a widget manager, plus helpers to
// play the kernel.

const DEFAULTS = {
  pages: [],
  recent: [],
  status: "idle",
  streaming: {},
  model: "demo",
  system: "",
  params: { temperature: null, max_tokens: null },
  backend: "demo model · EGP · http://127.0.0.1:1234",
  error: "",
};

// ---- page models (`MessagePage` in nbchat/_pages.py), shared by every fake model like the
// models of one kernel's widget manager ------------------------------------------------------

/** @type {Map<string, {model_id: string, get: (key: string) => unknown}>} */
const pageModels = new Map();
/** @type {Map<string, Array<() => void>>} get_model calls held back, by model id */
const held = new Map();
let pageCount = 0;

/**
 * A fake page model holding `messages`; returns its reference, `"IPY_MODEL_<id>"`.
 * @param {object[]} messages
 */
export function fakePage(messages) {
  pageCount += 1;
  const id = `page-${pageCount}`;
  const data = { messages, _model_name: "WidgetModel", _model_module: "@jupyter-widgets/base" };
  pageModels.set(id, { model_id: id, get: (key) => data[key] });
  return `IPY_MODEL_${id}`;
}

/** The model id of a page reference. */
export const pageId = (ref) => ref.slice("IPY_MODEL_".length);

/**
 * Hold back the resolution of page `ref`: get_model(id) stays pending until the returned
 * function is called (then it resolves, or rejects if the page does not exist).
 */
export function holdPage(ref) {
  const id = pageId(ref);
  if (!held.has(id)) held.set(id, []);
  return () => {
    const waiting = held.get(id) ?? [];
    held.delete(id);
    waiting.forEach((settle) => settle());
  };
}

/** Forget every page model and held resolution (between tests). */
export function resetPages() {
  pageModels.clear();
  held.clear();
}

export function fakeModel(traits = {}) {
  const data = { ...DEFAULTS, ...traits };
  /** @type {Map<string, Set<Function>>} */
  const handlers = new Map();
  const sent = [];
  /** @type {string[]} model ids asked of the widget manager, in order */
  const getModelCalls = [];
  const fire = (event, ...args) => [...(handlers.get(event) ?? [])].forEach((fn) => fn(...args));
  return {
    get: (key) => data[key],
    set: (key, value) => { data[key] = value; },
    on: (event, fn) => { if (!handlers.has(event)) handlers.set(event, new Set()); handlers.get(event).add(fn); },
    off: (event, fn) => {
      if (!event) handlers.clear();
      else if (!fn) handlers.delete(event);
      else handlers.get(event)?.delete(fn);
    },
    send: (msg) => sent.push(msg),
    save_changes: () => {},
    widget_manager: {
      /** Like ipywidgets' ManagerBase.get_model: a promise of the model; rejects if unknown. */
      get_model: (id) => {
        getModelCalls.push(id);
        return new Promise((resolve, reject) => {
          const settle = () => {
            const page = pageModels.get(id);
            if (page) resolve(page);
            else reject(new Error(`widget model not found: ${id}`));
          };
          const waiting = held.get(id);
          if (waiting) waiting.push(settle);
          else settle();
        });
      },
    },
    // --- test helpers
    sent,
    getModelCalls,
    /** The kernel sends a custom message. */
    emit: (msg) => fire("msg:custom", msg, []),
    /** The kernel changes traits (all set first, then one change event each, like Backbone). */
    update: (patch) => {
      Object.assign(data, patch);
      for (const key of Object.keys(patch)) fire(`change:${key}`);
    },
    listenerCount: () => [...handlers.values()].reduce((n, s) => n + s.size, 0),
    intents: (type) => sent.filter((m) => m.type === type),
  };
}
