// Tiny DOM helpers. Text always goes through textContent, never innerHTML.

/**
 * Create an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {{className?: string, testid?: string, text?: string, attrs?: Record<string, string>}} [opts]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, opts = {}, children = []) {
  const el = document.createElement(tag);
  if (opts.className) el.className = opts.className;
  if (opts.testid) el.dataset.testid = opts.testid;
  if (opts.text !== undefined) el.textContent = opts.text;
  for (const [k, v] of Object.entries(opts.attrs ?? {})) el.setAttribute(k, v);
  if (children.length) el.append(...children);
  return el;
}

/**
 * A button that always has a type and an aria-label.
 * @param {string} label visible text
 * @param {string} ariaLabel
 * @param {{testid?: string, action?: string, className?: string}} [opts]
 */
export function button(label, ariaLabel, opts = {}) {
  const b = h("button", { className: opts.className ?? "nbchat-btn", testid: opts.testid, text: label });
  b.type = "button";
  b.setAttribute("aria-label", ariaLabel);
  b.title = ariaLabel;
  if (opts.action) b.dataset.action = opts.action;
  return b;
}

/**
 * Copy text to the clipboard; fail quietly (no permission, insecure context, old browser).
 * @param {string} text
 * @returns {Promise<boolean>}
 */
export async function copyText(text) {
  try {
    const clip = globalThis.navigator?.clipboard;
    if (!clip || typeof clip.writeText !== "function") return false;
    await clip.writeText(text);
    return true;
  } catch {
    return false;
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Path data of the panel's icons (24×24 grid, stroked; Material-like shapes). */
const ICONS = {
  copy: ["M9 9h10v12H9z", "M5 15V3h10"],
  check: ["M5 12.5l4.5 4.5L19 7"],
  retry: ["M4 12a8 8 0 1 0 2.4-5.7", "M4 4v5h5"],
  clear: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 13h10l1-13"],
  edit: ["M4 20h4L19 9l-4-4L4 16z", "M13.5 6.5l4 4"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
};

/**
 * An inline SVG icon, built node by node (no markup parsed).
 * @param {keyof typeof ICONS} name
 */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `nbchat-icon nbchat-icon-${name}`);
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/**
 * A button showing only an icon; its name is in aria-label and title.
 * @param {keyof typeof ICONS} name
 * @param {string} ariaLabel
 * @param {{testid?: string, action?: string, className?: string}} [opts]
 */
export function iconButton(name, ariaLabel, opts = {}) {
  const b = button("", ariaLabel, { ...opts, className: `nbchat-icon-btn ${opts.className ?? ""}`.trim() });
  b.append(icon(name));
  return b;
}

/**
 * Coalesce calls of `fn` to at most one per animation frame.
 * @param {() => void} fn
 * @returns {{schedule: () => void, cancel: () => void}}
 */
export function perFrame(fn) {
  let id = 0;
  // Looked up at call time (tests and some hosts replace them); timers as a fallback.
  const raf = (/** @type {FrameRequestCallback} */ cb) =>
    typeof window.requestAnimationFrame === "function"
      ? window.requestAnimationFrame(cb)
      : /** @type {number} */ (/** @type {unknown} */ (setTimeout(() => cb(Date.now()), 16)));
  const caf = (/** @type {number} */ n) =>
    typeof window.cancelAnimationFrame === "function" ? window.cancelAnimationFrame(n) : clearTimeout(n);
  return {
    schedule() {
      if (!id)
        id = raf(() => {
          id = 0;
          fn();
        });
    },
    cancel() {
      if (id) caf(id);
      id = 0;
    },
  };
}
