// The composer: a textarea and one Send/Stop button, plus Clear. It only sends intents.

import { button, h } from "./dom.js";

/**
 * @typedef {object} ComposerActions
 * @property {(text: string) => void} send
 * @property {() => void} stop
 * @property {() => void} clear
 */

export class Composer {
  /**
   * @param {ComposerActions} actions
   * @param {AbortSignal} signal removes every listener when aborted
   */
  constructor(actions, signal) {
    this.actions = actions;
    this.streaming = false;
    this.textarea = h("textarea", {
      className: "nbchat-input",
      testid: "composer",
      attrs: {
        "aria-label": "Message",
        placeholder: "Message… (Enter to send, Shift+Enter for a new line, Esc to stop)",
        rows: "1",
      },
    });
    this.primary = button("Send", "Send message", { className: "nbchat-btn nbchat-btn-primary" });
    this.clear = button("Clear", "Clear conversation", { testid: "clear", className: "nbchat-btn nbchat-btn-ghost" });
    this.el = h("div", { className: "nbchat-composer" }, [
      this.textarea,
      h("div", { className: "nbchat-composer-buttons" }, [this.primary, this.clear]),
    ]);
    this.textarea.addEventListener("keydown", (e) => this.onKeyDown(e), { signal });
    this.textarea.addEventListener("input", () => this.autosize(), { signal });
    this.primary.addEventListener("click", () => (this.streaming ? this.actions.stop() : this.submit()), { signal });
    this.clear.addEventListener("click", () => this.actions.clear(), { signal });
    this.setStreaming(false);
  }

  /** @param {KeyboardEvent} e */
  onKeyDown(e) {
    if (e.isComposing) return;
    if (e.key === "Enter") {
      // Keep Enter and Shift+Enter away from the notebook's run-cell shortcuts.
      e.stopPropagation();
      if (e.shiftKey) return; // newline
      e.preventDefault();
      if (!this.streaming) this.submit();
    } else if (e.key === "Escape" && this.streaming) {
      e.preventDefault();
      e.stopPropagation();
      this.actions.stop();
    }
  }

  submit() {
    if (this.streaming) return;
    const text = this.textarea.value;
    if (!text.trim()) return;
    this.actions.send(text);
    this.textarea.value = "";
    this.autosize();
  }

  autosize() {
    const ta = this.textarea;
    ta.style.height = "auto";
    if (ta.scrollHeight) ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
  }

  /** @param {boolean} streaming */
  setStreaming(streaming) {
    this.streaming = streaming;
    const b = this.primary;
    b.dataset.testid = streaming ? "stop" : "send";
    b.textContent = streaming ? "Stop" : "Send";
    b.setAttribute("aria-label", streaming ? "Stop the reply" : "Send message");
    b.title = streaming ? "Stop the reply (Esc)" : "Send message (Enter)";
    b.classList.toggle("nbchat-btn-stop", streaming);
  }
}
