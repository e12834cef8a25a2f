// The panel's live region: it announces status changes (a reply starting, ending, failing),
// never every token.

import { h } from "./dom.js";

/** @typedef {import("./types").ChatMessage} ChatMessage */
/** @typedef {import("./types").PanelStatus} PanelStatus */

/**
 * The words announced for a status change.
 * @param {PanelStatus} prev
 * @param {PanelStatus} next
 * @param {ChatMessage[]} messages
 * @param {string} error
 */
export function announcement(prev, next, messages, error) {
  if (next === "streaming") return prev === "streaming" ? "" : "Assistant is replying…";
  const last = [...(messages ?? [])].reverse().find((m) => m.role === "assistant");
  if (next === "error") return `Error: ${error || last?.error || "the reply failed"}`;
  if (prev !== "streaming") return "";
  if (!last) return "Conversation cleared";
  switch (last.status) {
    case "stopped":
      return "Reply stopped";
    case "interrupted":
      return "Reply interrupted";
    case "error":
      return `Error: ${last.error || error || "the reply failed"}`;
    default:
      return "Reply complete";
  }
}

export class Announcer {
  /**
   * @param {() => ChatMessage[] | null} messages the conversation, or null while it resolves
   * @param {() => string} error the `error` trait
   * @param {PanelStatus} status the status at first paint
   */
  constructor(messages, error, status) {
    this.messages = messages;
    this.error = error;
    this.status = status;
    /** A status change whose words depend on a conversation still resolving. @type {[PanelStatus, PanelStatus] | null} */
    this.deferred = null;
    this.el = h("div", {
      className: "nbchat-sr-only",
      testid: "status",
      attrs: { role: "status", "aria-live": "polite", "aria-atomic": "true" },
    });
  }

  /** @param {string} text */
  say(text) {
    if (!text) return;
    // Re-announce identical text: change the node, not only its value.
    this.el.textContent = this.el.textContent === text ? `${text}\u00a0` : text;
  }

  /** @param {PanelStatus} next */
  statusChanged(next) {
    const prev = this.status;
    this.status = next;
    if (next === prev) return;
    const messages = this.messages();
    if (messages === null && next !== "streaming") this.deferred = [prev, next];
    else {
      this.deferred = null;
      this.say(announcement(prev, next, messages ?? [], this.error()));
    }
  }

  /** The conversation changed (or finished resolving): say what waited for it. */
  conversationChanged() {
    const messages = this.messages();
    if (!this.deferred || messages === null) return;
    const [prev, next] = this.deferred;
    this.deferred = null;
    this.say(announcement(prev, next, messages, this.error()));
  }
}
