// The composer: a textarea and one Send/Stop button. Its button and keys run the panel's
// named actions (actions.js); it holds the text until the kernel has it.

import { button, h } from "./dom.js";

/** The textarea grows with its text up to this height (px), then scrolls. */
const MAX_HEIGHT_PX = 160;
/** The placeholder, and the one used where the long one would be cut (the title keeps the hint). */
export const PLACEHOLDER = "Message… (Enter: send · Shift+Enter: new line)";
export const SHORT_PLACEHOLDER = "Message…";
/** Below this width (px) the long placeholder does not fit on one line. */
const LONG_PLACEHOLDER_MIN_PX = 360;

export class Composer {
  /**
   * @param {(action: "send" | "stop") => void} act runs a named action (actions.js)
   * @param {AbortSignal} signal removes every listener when aborted
   */
  constructor(act, signal) {
    this.act = act;
    this.streaming = false;
    this.connected = true;
    /** @type {{id: string, text: string} | null} the last text sent, until the kernel answers */
    this.inFlight = null;
    this.textarea = h("textarea", {
      className: "nbchat-input",
      testid: "composer",
      attrs: {
        "aria-label": "Message",
        placeholder: PLACEHOLDER,
        title: "Enter sends, Shift+Enter adds a line, Esc stops a reply",
        rows: "1",
      },
    });
    this.primary = button("Send", "Send message", { className: "nbchat-btn nbchat-btn-primary", action: "send" });
    this.el = h("div", { className: "nbchat-composer" }, [
      this.textarea,
      h("div", { className: "nbchat-composer-buttons" }, [this.primary]),
    ]);
    // Every keystroke in the composer is the composer's: none reaches the notebook's shortcuts.
    // Lumino (JupyterLab and Notebook 7 alike) matches shortcuts on keydown at the document,
    // in the capture phase in Notebook 7, so stopping propagation here is not enough:
    // `data-lm-suppress-shortcuts` makes it skip keys whose target is inside this element.
    this.el.dataset.lmSuppressShortcuts = "true";
    for (const type of /** @type {const} */ (["keydown", "keypress", "keyup"])) {
      this.textarea.addEventListener(type, (e) => e.stopPropagation(), { signal });
    }
    this.textarea.addEventListener("keydown", (e) => this.onKeyDown(e), { signal });
    this.textarea.addEventListener("input", () => this.autosize(), { signal });
    if (typeof ResizeObserver === "function") {
      const resize = new ResizeObserver(() => this.fitPlaceholder());
      resize.observe(this.textarea);
      signal.addEventListener("abort", () => resize.disconnect(), { once: true });
    }
    this.setStreaming(false);
  }

  /** A placeholder that fits on the one line the empty box shows, never cut mid-word. */
  fitPlaceholder() {
    const w = this.textarea.clientWidth;
    const text = w && w < LONG_PLACEHOLDER_MIN_PX ? SHORT_PLACEHOLDER : PLACEHOLDER;
    if (this.textarea.placeholder !== text) this.textarea.placeholder = text;
  }

  /** @param {KeyboardEvent} e */
  onKeyDown(e) {
    if (e.isComposing) return;
    if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      if (e.shiftKey) this.insertNewline();
      else if (!this.streaming) this.act("send");
    } else if (e.key === "Escape" && this.streaming) {
      e.preventDefault();
      this.act("stop");
    }
  }

  /**
   * Insert a line break at the caret ourselves, so no host handler can swallow it: through
   * `insertText` where the browser has it (it keeps the undo stack and fires `input`), else by
   * editing the value.
   */
  insertNewline() {
    const ta = this.textarea;
    const before = ta.value;
    let done = false;
    try {
      done = typeof document.execCommand === "function" && document.execCommand("insertText", false, "\n");
    } catch {
      done = false;
    }
    if (done && ta.value !== before) return;
    ta.setRangeText("\n", ta.selectionStart, ta.selectionEnd, "end");
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /** The text to send, taken out of the box; "" when there is nothing to send now. */
  take() {
    if (this.streaming || !this.connected) return "";
    const text = this.textarea.value;
    if (!text.trim()) return "";
    this.textarea.value = "";
    this.autosize();
    return text;
  }

  /**
   * `text` went out as intent `id`: remembered until the kernel answers, to be put back if it
   * never does.
   * @param {string} id
   * @param {string} text
   */
  sent(id, text) {
    this.inFlight = { id, text };
  }

  /**
   * An intent was answered, or went unanswered (`ok` false).
   * @param {string} id
   * @param {boolean} ok
   */
  settle(id, ok) {
    const f = this.inFlight;
    if (!f || f.id !== id) return;
    if (ok) {
      // A late answer: the text went after all; take back the copy put back below.
      if (this.textarea.value === f.text) {
        this.textarea.value = "";
        this.autosize();
      }
      this.inFlight = null;
    } else if (!this.textarea.value.trim()) {
      // The kernel never had it: the text goes back in the box, not into the void.
      this.textarea.value = f.text;
      this.autosize();
    }
  }

  autosize() {
    const ta = this.textarea;
    ta.style.height = "auto";
    if (ta.scrollHeight) ta.style.height = `${Math.min(ta.scrollHeight, MAX_HEIGHT_PX)}px`;
  }

  /** @param {boolean} streaming */
  setStreaming(streaming) {
    this.streaming = streaming;
    const b = this.primary;
    b.dataset.testid = streaming ? "stop" : "send";
    b.dataset.action = streaming ? "stop" : "send";
    b.textContent = streaming ? "Stop" : "Send";
    b.setAttribute("aria-label", streaming ? "Stop the reply" : "Send message");
    b.title = streaming ? "Stop the reply (Esc)" : "Send message (Enter)";
    b.classList.toggle("nbchat-btn-stop", streaming);
    this.syncDisabled();
  }

  /** @param {boolean} connected */
  setConnected(connected) {
    this.connected = connected;
    this.syncDisabled();
  }

  syncDisabled() {
    // Stop stays usable; Send waits for a kernel to send to.
    this.primary.disabled = !this.streaming && !this.connected;
    if (this.primary.disabled) this.primary.title = "Not connected: run the panel's cell again";
  }
}
