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
