// "Conversation cleared · Undo": shown for a few seconds after Clear, so one click is not
// the end of a conversation. Undo asks the kernel to put the cleared messages back.

import { button, h } from "./dom.js";

/** How long the Undo offer stays (ms). */
export const UNDO_MS = 8000;

export class UndoToast {
  /** @param {Set<ReturnType<typeof setTimeout>>} timers cleared when the view goes */
  constructor(timers) {
    this.timers = timers;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** The id of the `clear` intent whose answer brings the offer. */
    this.clearing = "";
    this.undo = button("Undo", "Undo clear: bring the conversation back", {
      testid: "undo-clear",
      action: "undo-clear",
      className: "nbchat-btn nbchat-btn-link",
    });
    this.el = h("div", { className: "nbchat-toast", testid: "toast", attrs: { role: "status" } }, [
      h("span", { text: "Conversation cleared" }),
      h("span", { className: "nbchat-toast-sep", text: "·", attrs: { "aria-hidden": "true" } }),
      this.undo,
    ]);
    this.el.hidden = true;
  }

  /**
   * A `clear` intent went out: offer Undo once the kernel has done it, if there was anything
   * to lose.
   * @param {string} id
   * @param {boolean} hadMessages
   */
  cleared(id, hadMessages) {
    this.clearing = hadMessages ? id : "";
  }

  /**
   * An intent was answered (`ok`) or went unanswered.
   * @param {string} id
   * @param {boolean} ok
   */
  settle(id, ok) {
    if (!this.clearing || id !== this.clearing) return;
    this.clearing = "";
    if (ok) this.show();
  }

  show() {
    this.el.hidden = false;
    this.stopTimer();
    this.timer = setTimeout(() => this.hide(), UNDO_MS);
    this.timers.add(this.timer);
  }

  hide() {
    this.el.hidden = true;
    this.stopTimer();
  }

  stopTimer() {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timers.delete(this.timer);
    this.timer = undefined;
  }
}
