// A fake AFM model: get/set/on/off/send/save_changes, plus helpers to play the kernel.

const DEFAULTS = {
  messages: [],
  status: "idle",
  streaming: {},
  model: "demo",
  system: "",
  params: { temperature: null, max_tokens: null },
  backend: "demo model · EGP · http://127.0.0.1:1234",
  error: "",
};

export function fakeModel(traits = {}) {
  const data = { ...DEFAULTS, ...traits };
  /** @type {Map<string, Set<Function>>} */
  const handlers = new Map();
  const sent = [];
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
    widget_manager: {},
    // --- test helpers
    sent,
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
