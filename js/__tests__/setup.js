// jsdom has no canvas, Path2D or matchMedia; uPlot needs all three (matchMedia when it loads).
// The stubs draw nothing: tests assert on the data handed to the chart, never on pixels.

if (typeof window.matchMedia !== "function") {
  window.matchMedia = (query) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener() {},
    removeListener() {},
    addEventListener() {},
    removeEventListener() {},
    dispatchEvent: () => false,
  });
}

if (typeof globalThis.Path2D !== "function") {
  globalThis.Path2D = class Path2D {
    constructor() {
      return new Proxy(this, { get: (t, k) => (k in t ? t[k] : () => {}) });
    }
  };
}

/** A 2D context whose every method does nothing (measureText measures 6 px per character). */
function fakeContext(canvas) {
  const state = { canvas, measureText: (text) => ({ width: String(text).length * 6 }) };
  return new Proxy(state, {
    get: (t, k) => (k in t ? t[k] : () => {}),
    set: (t, k, v) => {
      t[k] = v;
      return true;
    },
  });
}
HTMLCanvasElement.prototype.getContext = function getContext() {
  return fakeContext(this);
};
