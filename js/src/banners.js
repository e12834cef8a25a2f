// The three lines between the conversation and the composer (and above it): the panel's error
// (when no message shows it already), a notice from the kernel (an intent it refused), and
// "not connected".

import { h } from "./dom.js";

/** @typedef {import("./types").ChatMessage} ChatMessage */

/** What the panel says while the kernel does not answer. */
export const NOT_CONNECTED = "Not connected to the kernel — run the cell to reconnect.";

export class Banners {
  constructor() {
    this.error = h("div", { className: "nbchat-banner", testid: "panel-error" });
    this.notice = h("div", { className: "nbchat-banner nbchat-notice", testid: "notice" });
    this.offline = h("div", {
      className: "nbchat-banner nbchat-offline",
      testid: "not-connected",
      text: NOT_CONNECTED,
      attrs: {
        role: "alert",
        title:
          "The kernel did not answer: it was restarted, or the cell has not run since the notebook " +
          "was opened (or the kernel is busy).",
      },
    });
    this.error.hidden = this.notice.hidden = this.offline.hidden = true;
  }

  /**
   * The `error` trait, unless a message of the conversation shows it, or a reply streams.
   * @param {string} error
   * @param {ChatMessage[]} messages
   * @param {boolean} streaming
   */
  showError(error, messages, streaming) {
    const shown = messages.some((m) => m.status === "error" && m.error === error);
    this.error.textContent = error ? `Error: ${error}` : "";
    this.error.hidden = !error || shown || streaming;
  }

  /** @param {string | null} message null hides it */
  showNotice(message) {
    if (message === null) this.notice.hidden = true;
    else {
      this.notice.textContent = message;
      this.notice.hidden = false;
    }
  }

  /** @param {boolean} connected */
  setConnected(connected) {
    this.offline.hidden = connected;
  }
}
