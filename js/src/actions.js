// What the panel's buttons do. Every button carries `data-action="<name>"` and one delegated
// click listener runs `ACTIONS[name]`; keys (Enter, Esc in the composer) run the same actions.

import { BRANCH_ACTIONS } from "./branches.js";
import { copyText, icon } from "./dom.js";
import { RAW_ACTIONS } from "./raw-view.js";

/** @typedef {import("./chat-state.js").ChatState} ChatState */
/** @typedef {import("./types").Model} Model */

/** How long a copy button says "Copied" (ms). */
export const COPIED_MS = 1200;

/**
 * What the actions act on.
 * @typedef {object} ActionContext
 * @property {Model} model
 * @property {ChatState} state
 * @property {import("./composer.js").Composer} composer
 * @property {import("./message-list.js").MessageList} list
 * @property {import("./usage-view.js").UsageView} usage
 * @property {(btn: HTMLElement, ok: boolean) => void} flash
 * @property {() => void} clear
 * @property {() => void} undoClear
 */

/** @type {Record<string, (ctx: ActionContext, btn: HTMLElement | null) => void>} */
export const ACTIONS = {
  send: (ctx) => {
    const text = ctx.composer.take();
    if (text) ctx.composer.sent(ctx.state.sendIntent("send", { text }), text);
  },
  stop: (ctx) => {
    ctx.state.sendIntent("stop");
  },
  clear: (ctx) => ctx.clear(),
  "undo-clear": (ctx) => ctx.undoClear(),
  retry: (ctx) => {
    if (ctx.model.get("status") !== "streaming") ctx.state.sendIntent("retry");
  },
  copy: (ctx, btn) => {
    const id = /** @type {HTMLElement | null} */ (btn?.closest(".nbchat-msg"))?.dataset.id ?? "";
    void copyText(ctx.list.textOf(id, ctx.state.liveDraft())).then((ok) => btn && ctx.flash(btn, ok));
  },
  "copy-code": (ctx, btn) => {
    const code = btn?.closest(".nbchat-code")?.querySelector("code");
    void copyText(code?.textContent ?? "").then((ok) => btn && ctx.flash(btn, ok));
  },
  jump: (ctx) => ctx.list.scrollToBottom(),
  usage: (ctx) => ctx.usage.setOpen(!ctx.usage.open),
  // edit, edit-send, edit-cancel, switch-branch, download-md
  ...BRANCH_ACTIONS,
  // raw, copy-curl: the Raw view of a reply (raw-view.js)
  ...RAW_ACTIONS,
};

/**
 * Run the action of every `[data-action]` button clicked inside `root`.
 * @param {HTMLElement} root
 * @param {ActionContext} ctx
 * @param {AbortSignal} signal
 */
export function delegateClicks(root, ctx, signal) {
  root.addEventListener(
    "click",
    (e) => {
      const target = /** @type {Element | null} */ (e.target);
      const btn = /** @type {HTMLElement | null} */ (target?.closest?.("[data-action]") ?? null);
      if (!btn || !root.contains(btn) || /** @type {HTMLButtonElement} */ (btn).disabled) return;
      const run = ACTIONS[btn.dataset.action ?? ""];
      if (run) run(ctx, btn);
    },
    { signal },
  );
}

/**
 * Say "Copied" on a copy button for a moment: an icon button shows a check (its label says
 * it), a text button its text.
 * @param {Set<ReturnType<typeof setTimeout>>} timers cleared when the view goes
 * @returns {(btn: HTMLElement, ok: boolean) => void}
 */
export function copiedFlash(timers) {
  return (btn, ok) => {
    if (!ok) return;
    const svg = btn.querySelector("svg");
    const label = btn.getAttribute("aria-label") ?? "";
    const text = btn.textContent;
    if (svg) {
      svg.replaceWith(icon("check"));
      btn.setAttribute("aria-label", "Copied");
      btn.title = "Copied";
    } else btn.textContent = "Copied";
    btn.classList.add("nbchat-copied");
    const t = setTimeout(() => {
      timers.delete(t);
      if (svg) {
        btn.querySelector("svg")?.replaceWith(svg);
        btn.setAttribute("aria-label", label);
        btn.title = label;
      } else btn.textContent = text;
      btn.classList.remove("nbchat-copied");
    }, COPIED_MS);
    timers.add(t);
  };
}
