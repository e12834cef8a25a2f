// Edit and branch, and the markdown download. A user message has a pencil: it opens an editor in
// place (Enter sends the edit as the `edit` intent, Esc cancels); a message with other versions
// (`branches`, from the kernel's tree: nbchat/panel/book.py) shows a "‹ 2 / 3 ›" switcher whose
// arrows send `switch-branch`. The kernel owns the conversation: nothing here changes it.

import { button, h } from "./dom.js";

/** @typedef {import("./types").ChatMessage} ChatMessage */
/** @typedef {import("./actions.js").ActionContext} ActionContext */

/**
 * The "‹ 2 / 3 ›" switcher of a message with other versions, or null.
 * @param {Partial<ChatMessage>} msg
 * @returns {HTMLElement | null}
 */
export function branchSwitcher(msg) {
  const ids = Array.isArray(msg.branches) ? msg.branches : [];
  const at = ids.indexOf(String(msg.id));
  if (ids.length < 2 || at < 0) return null;
  const arrow = (/** @type {string} */ text, /** @type {string} */ label, /** @type {number} */ to) => {
    const b = button(text, label, { testid: to < at ? "branch-prev" : "branch-next", action: "switch-branch", className: "nbchat-icon-btn nbchat-branch-btn" });
    b.dataset.target = ids[to] ?? "";
    b.disabled = to < 0 || to >= ids.length;
    return b;
  };
  return h("span", { className: "nbchat-branch", testid: "branch", attrs: { role: "group", "aria-label": "Versions of this message" } }, [
    arrow("‹", "Previous version", at - 1),
    h("span", { className: "nbchat-branch-pos", testid: "branch-pos", text: `${at + 1} / ${ids.length}` }),
    arrow("›", "Next version", at + 1),
  ]);
}

/**
 * The conversation as markdown, as `ChatPanel.to_markdown()` writes it (nbchat/data/export.py).
 * @param {Partial<ChatMessage>[]} messages
 * @param {string} [system]
 */
export function toMarkdown(messages, system) {
  const names = /** @type {Record<string, string>} */ ({ user: "User", assistant: "Assistant", system: "System" });
  const parts = system ? [`## System\n\n${system}\n`] : [];
  for (const m of messages) {
    const role = String(m.role ?? "assistant");
    let heading = names[role] ?? role;
    if (role === "assistant" && m.model) heading += ` (${m.model})`;
    parts.push(`## ${heading}\n\n${m.content ?? ""}\n`);
  }
  return parts.join("\n");
}

/**
 * Open the editor on the user message holding `btn`.
 * @param {ActionContext} ctx
 * @param {HTMLElement | null} btn
 */
function startEdit(ctx, btn) {
  const node = /** @type {HTMLElement | null} */ (btn?.closest(".nbchat-msg"));
  const bubble = /** @type {HTMLElement | null} */ (node?.querySelector(".nbchat-bubble"));
  if (!node || !bubble || node.querySelector(".nbchat-edit")) return;
  const area = h("textarea", {
    className: "nbchat-input nbchat-edit-input",
    testid: "edit-input",
    attrs: { "aria-label": "Edit message", title: "Enter sends the edit as a new branch, Shift+Enter adds a line, Esc cancels", rows: "3" },
  });
  area.value = ctx.list.textOf(node.dataset.id ?? "", null);
  const box = h("div", { className: "nbchat-edit", testid: "edit" }, [
    area,
    h("div", { className: "nbchat-edit-bar" }, [
      button("Cancel", "Cancel the edit", { testid: "edit-cancel", action: "edit-cancel" }),
      button("Send", "Send the edit (a new branch; the old one is kept)", { testid: "edit-send", action: "edit-send", className: "nbchat-btn nbchat-btn-primary" }),
    ]),
  ]);
  // Its keys are its own, as in the composer (see composer.js): Lumino skips them.
  box.dataset.lmSuppressShortcuts = "true";
  for (const type of /** @type {const} */ (["keydown", "keypress", "keyup"])) area.addEventListener(type, (e) => e.stopPropagation());
  area.addEventListener("keydown", (e) => {
    if (e.isComposing) return;
    if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      sendEdit(ctx, area);
    } else if (e.key === "Escape") {
      e.preventDefault();
      cancelEdit(area);
    }
  });
  bubble.hidden = true;
  bubble.after(box);
  area.focus();
}

/** @param {Element | null} el */
function cancelEdit(el) {
  const node = el?.closest(".nbchat-msg");
  node?.querySelector(".nbchat-edit")?.remove();
  const bubble = /** @type {HTMLElement | null} */ (node?.querySelector(".nbchat-bubble") ?? null);
  if (bubble) bubble.hidden = false;
}

/**
 * @param {ActionContext} ctx
 * @param {Element | null} el
 */
function sendEdit(ctx, el) {
  const node = /** @type {HTMLElement | null} */ (el?.closest(".nbchat-msg") ?? null);
  const area = /** @type {HTMLTextAreaElement | null} */ (node?.querySelector(".nbchat-edit-input") ?? null);
  const text = area?.value ?? "";
  if (!node || !text.trim() || ctx.model.get("status") === "streaming") return;
  ctx.state.sendIntent("edit", { message_id: node.dataset.id ?? "", text });
  cancelEdit(area);
}

/**
 * Download `text` as a file: a Blob and a temporary link (nothing asked of the kernel).
 * @param {string} text
 * @param {string} name
 */
export function download(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/markdown;charset=utf-8" }));
  const a = h("a", { attrs: { href: url, download: name } });
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** The actions of this module, merged into `ACTIONS` (actions.js). */
export const BRANCH_ACTIONS = {
  edit: startEdit,
  "edit-send": (/** @type {ActionContext} */ ctx, /** @type {HTMLElement | null} */ btn) => sendEdit(ctx, btn),
  "edit-cancel": (/** @type {ActionContext} */ _ctx, /** @type {HTMLElement | null} */ btn) => cancelEdit(btn),
  "switch-branch": (/** @type {ActionContext} */ ctx, /** @type {HTMLElement | null} */ btn) => {
    const target = btn?.dataset.target;
    if (target && ctx.model.get("status") !== "streaming") ctx.state.sendIntent("switch-branch", { message_id: target });
  },
  "download-md": (/** @type {ActionContext} */ ctx) =>
    download(toMarkdown(ctx.state.conversation.messages(), ctx.model.get("system") ?? ""), "conversation.md"),
};
