// nbchat's widget loader: each panel's `_esm` is this small module; the front end itself
// (code and styles, ~340 kB) lives once per kernel in a shared model (nbchat/panel/bundle.py)
// that every panel references in its `bundle` trait. A notebook saved with widget state then
// holds one copy of the front end, not one per panel (issue 11 item 4).
//
// The code is imported from a Blob URL, as anywidget imports an `_esm` string; the styles
// go into one <style> element per distinct stylesheet.

/** @typedef {{get(name: string): any, widget_manager: {get_model(id: string): Promise<any>}}} Model */
/** @typedef {{initialize?: Function, render?: Function}} Afm */

const REF = "IPY_MODEL_";
/** @type {Map<string, Promise<Afm>>} */
const modules = new Map();

/**
 * @param {string} text
 * @returns {string}
 */
function hash(text) {
  let h = 0;
  for (let i = 0; i < text.length; i += 1) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}

/**
 * @param {string} css
 */
function addStyles(css) {
  if (!css) return;
  const id = `nbchat-css-${hash(css)}`;
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}

/**
 * The front end module of the bundle `model` refers to, imported once.
 * @param {Model} model
 * @returns {Promise<Afm>}
 */
export function frontEnd(model) {
  const ref = String(model.get("bundle") ?? "");
  const id = ref.startsWith(REF) ? ref.slice(REF.length) : ref;
  let loading = modules.get(id);
  if (!loading) {
    loading = (async () => {
      const shared = await model.widget_manager.get_model(id);
      addStyles(String(shared.get("css") ?? ""));
      const url = URL.createObjectURL(
        new Blob([String(shared.get("esm") ?? "")], { type: "text/javascript" }),
      );
      try {
        const mod = await import(/* @vite-ignore */ url);
        return /** @type {Afm} */ (mod.default ?? mod);
      } finally {
        URL.revokeObjectURL(url);
      }
    })();
    loading.catch(() => modules.delete(id)); // a failed load may be retried by the next view
    modules.set(id, loading);
  }
  return loading;
}

export default {
  /**
   * Not awaited by design: anywidget gives `initialize` a short deadline, and the front
   * end's own initialize only subscribes to the model (a delta missed meanwhile is recovered
   * by the snapshot the draft asks for when it sees a gap).
   * @param {{model: Model}} ctx
   */
  initialize(ctx) {
    const ready = frontEnd(ctx.model).then((m) => m.initialize?.(ctx));
    return () => {
      void ready.then((cleanup) => {
        if (typeof cleanup === "function") cleanup();
      });
    };
  },
  /**
   * @param {{model: Model, el: HTMLElement}} ctx
   */
  async render(ctx) {
    const m = await frontEnd(ctx.model); // its initialize (chained first) has run by now
    return m.render?.(ctx);
  },
};
