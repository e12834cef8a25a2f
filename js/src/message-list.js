// The scrollable list of messages, keyed by id. Committed messages render once (again only if
// the kernel changes them); the reply in progress is one node, updated at most once per
// animation frame from the model-level draft, incrementally: its completed blocks are rendered
// once and only the unfinished tail again (`MarkdownStream`). The committed message replaces it
// with one full render of the final text.

import { branchSwitcher } from "./branches.js";
import { button, h, iconButton } from "./dom.js";
import { MarkdownStream, renderMarkdown, renderPlain, renderToolRequest } from "./render-text.js";
import { rawToggle } from "./raw-view.js";

/** @typedef {import("./types").ChatMessage} ChatMessage */
/** @typedef {import("./types").Streaming} Streaming */
/** @typedef {import("./types").Draft} Draft */

/** Distance from the bottom (px) that still counts as "at the bottom". */
const NEAR_BOTTOM_PX = 48;
const UNKNOWN = "—";

/**
 * @param {unknown} v
 * @returns {v is number}
 */
function known(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * A duration: under a second in ms ("TTFT 0.00 s" reads like a missing value), else in s.
 * @param {number} s seconds
 */
export function seconds(s) {
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`;
}

/**
 * Why a reply's values are unknown, for the tooltip of those values (or "" if they are not).
 * @param {Partial<ChatMessage>} msg
 */
export function unknownReason(msg) {
  if (known(msg.usage?.completion) && known(msg.tokens_per_second)) return "";
  if (msg.status === "stopped")
    return "Stopped before the server reported usage: the token count and speed of a stopped reply are unknown.";
  if (msg.status === "interrupted")
    return "The stream was cut before the server reported usage: the token count and speed are unknown.";
  if (msg.status === "error") return "The reply failed: the server reported no usage.";
  return "The server did not report usage for this reply.";
}

/**
 * Footer values; unknown values are "—", never 0.
 * @param {Partial<ChatMessage>} msg
 */
export function footerValues(msg) {
  const usage = msg.usage ?? null;
  const fmt = (/** @type {unknown} */ v, /** @type {(n: number) => string} */ f) =>
    known(v) ? f(v) : UNKNOWN;
  /** @type {string} */
  let finish;
  if (msg.status === "error") finish = msg.error || "error";
  else if (msg.status === "stopped") finish = "stopped";
  else if (msg.status === "interrupted") finish = "interrupted";
  else finish = msg.finish_reason || UNKNOWN;
  return {
    tokensIn: fmt(usage?.prompt, (n) => String(n)),
    tokensOut: fmt(usage?.completion, (n) => String(n)),
    ttft: fmt(msg.ttft, seconds),
    tps: fmt(msg.tokens_per_second, (n) => `${n.toFixed(1)} tok/s`),
    latency: fmt(msg.latency, (n) => `${n.toFixed(2)} s`),
    cost: fmt(msg.cost, usd),
    finish,
  };
}

/**
 * US dollars, with the digits a small cost needs ("$0.0042"; under a hundredth of a cent
 * "<$0.0001", never "$0.0000" for a cost that is not zero).
 * @param {number} n
 */
export function usd(n) {
  if (n === 0) return "$0";
  if (n < 0.0001) return "<$0.0001";
  return n < 1 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}

/**
 * @param {string} label
 * @param {string} testid
 * @param {string} value
 */
function stat(label, testid, value) {
  return h("span", { className: "nbchat-stat" }, [
    h("span", { className: "nbchat-stat-label", text: `${label} ` }),
    h("span", { className: "nbchat-stat-value", testid, text: value }),
  ]);
}

/**
 * The footer of a committed reply.
 * @param {Partial<ChatMessage>} msg
 * @param {boolean} withRetry
 */
function footer(msg, withRetry) {
  const v = footerValues(msg);
  const why = unknownReason(msg);
  const out = stat("out", "tokens-out", v.tokensOut);
  const speed = stat("speed", "tps", v.tps);
  if (why) {
    // Say why a value is "—" where it shows (text arrived, but no usage came with it).
    for (const s of [out, speed]) if (s.textContent?.endsWith(UNKNOWN)) s.title = why;
  }
  const stats = h("div", { className: "nbchat-stats" }, [
    ...modelName(msg),
    stat("in", "tokens-in", v.tokensIn),
    out,
    stat("TTFT", "ttft", v.ttft),
    speed,
    costStat(msg, v.cost),
    h("span", { className: "nbchat-stat nbchat-finish", attrs: { title: "finish reason" } }, [
      h("span", { className: "nbchat-stat-value", testid: "finish", text: v.finish }),
    ]),
  ]);
  const acts = actions(withRetry);
  acts.prepend(rawToggle()); // the Raw view (raw-view.js): fetched from the kernel when opened
  return h("div", { className: "nbchat-footer", testid: "footer" }, [stats, acts]);
}

/**
 * The cost of a reply ("—" when unknown, never $0), its price source as the tooltip.
 * @param {Partial<ChatMessage>} msg
 * @param {string} value
 */
function costStat(msg, value) {
  const s = stat("cost", "cost", value);
  s.title = msg.price_source
    ? `Price: ${msg.price_source}`
    : "Cost unknown: no price for this model (nbchat.set_price sets one), or no usage reported.";
  return s;
}

/** @param {Partial<ChatMessage>} msg */
function modelName(msg) {
  return msg.model ? [h("span", { className: "nbchat-stat nbchat-model-name", testid: "model-name", text: msg.model })] : [];
}

/**
 * The footer of the reply in progress: the model and what is happening, no row of "—"
 * (the numbers come with the committed reply).
 * @param {Partial<ChatMessage>} msg
 */
function liveFooter(msg) {
  const stats = h("div", { className: "nbchat-stats" }, [
    ...modelName(msg),
    h("span", { className: "nbchat-stat nbchat-stat-label", testid: "finish", text: "replying…" }),
  ]);
  return h("div", { className: "nbchat-footer", testid: "footer" }, [stats]);
}

/**
 * @param {boolean} withRetry
 * @param {boolean} [withEdit] a user message: the pencil (branches.js)
 */
function actions(withRetry, withEdit = false) {
  const box = h("div", { className: "nbchat-actions" }, [
    iconButton("copy", "Copy message", { testid: "copy", action: "copy" }),
  ]);
  if (withEdit) box.append(iconButton("edit", "Edit (sends a new version; the old one is kept)", { testid: "edit", action: "edit" }));
  if (withRetry) box.append(iconButton("retry", "Retry the last reply", { testid: "retry", action: "retry" }));
  return box;
}

/**
 * Build the node of one committed message.
 * @param {ChatMessage} msg
 * @param {boolean} isLastAssistant
 */
function messageNode(msg, isLastAssistant) {
  const role = msg.role === "user" || msg.role === "system" ? msg.role : "assistant";
  const node = h("div", { className: "nbchat-msg", attrs: { "data-role": role, "data-status": String(msg.status ?? "complete") } });
  node.dataset.id = String(msg.id);
  if (msg.created_at) node.title = String(msg.created_at);
  const content = h("div", { className: "nbchat-content", testid: "content" });
  // User and system text is shown as typed; only model output is rendered as markdown.
  if (role === "assistant") content.append(renderMarkdown(msg.content ?? ""));
  else content.append(renderPlain(msg.content ?? ""));
  const bubble = h("div", { className: "nbchat-bubble" }, [content]);
  // Every tool call of the reply, in order; older messages have only `tool_request`.
  const calls = msg.tool_calls?.length ? msg.tool_calls : msg.tool_request ? [msg.tool_request] : [];
  for (const call of calls) bubble.append(renderToolRequest(call));
  const isError = msg.status === "error";
  if (isError) {
    bubble.append(
      h("div", { className: "nbchat-error", testid: "error" }, [
        h("span", { className: "nbchat-error-text", text: msg.error || "The reply failed." }),
        button("Retry", "Retry", { testid: "retry", action: "retry", className: "nbchat-btn nbchat-btn-danger" }),
      ]),
    );
  }
  node.append(bubble);
  const retryInFooter = !isError && isLastAssistant;
  const foot = role === "assistant" ? footer(msg, retryInFooter) : h("div", { className: "nbchat-footer nbchat-footer-plain" }, [actions(false, role === "user")]);
  const switcher = branchSwitcher(msg); // "‹ 2 / 3 ›" when the message has other versions
  if (switcher) foot.prepend(switcher);
  node.append(foot);
  return node;
}

/**
 * Build the node of the reply in progress.
 * @param {Streaming} streaming
 */
function streamingNode(streaming) {
  const node = h("div", { className: "nbchat-msg", attrs: { "data-role": "assistant", "data-status": "streaming", "data-streaming": "true", "aria-busy": "true" } });
  node.dataset.id = String(streaming.id ?? "");
  const content = h("div", { className: "nbchat-content", testid: "content" });
  content.append(typing());
  node.append(h("div", { className: "nbchat-bubble" }, [content]));
  node.append(liveFooter({ model: streaming.model ?? null }));
  return node;
}

function typing() {
  return h("span", { className: "nbchat-typing", attrs: { "aria-hidden": "true" } }, [
    h("span"), h("span"), h("span"),
  ]);
}

/**
 * @typedef {object} Entry
 * @property {HTMLElement} el
 * @property {string} sig
 * @property {ChatMessage} msg
 * @property {boolean} isLast
 */

export class MessageList {
  constructor() {
    this.el = h("div", {
      className: "nbchat-messages",
      testid: "messages",
      // not role="log": that is a live region and would read out every token
      attrs: { role: "region", "aria-label": "Conversation", tabindex: "0" },
    });
    this.empty = h("div", { className: "nbchat-empty", text: "No messages yet. Say hello!" });
    this.jump = button("Jump to latest ↓", "Jump to latest message", { testid: "jump", action: "jump", className: "nbchat-jump" });
    this.jump.hidden = true;
    /** @type {Map<string, Entry>} */
    this.entries = new Map();
    /** @type {{el: HTMLElement, id: string, content: HTMLElement, stream: MarkdownStream | null} | null} */
    this.live = null;
    /** Follow new content only while the user is at (near) the bottom. */
    this.stick = true;
    this.onScroll = this.onScroll.bind(this);
    this.el.addEventListener("scroll", this.onScroll, { passive: true });
    /** @type {ResizeObserver | null} */
    this.resize = null;
    if (typeof ResizeObserver === "function") {
      // Keeps the view pinned when content grows without a render (fonts, panel resize).
      this.resize = new ResizeObserver(() => {
        if (this.stick) this.scrollToBottom();
      });
      this.resize.observe(this.el);
    }
  }

  destroy() {
    this.el.removeEventListener("scroll", this.onScroll);
    this.resize?.disconnect();
    this.resize = null;
  }

  atBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.el;
    return scrollHeight - scrollTop - clientHeight <= NEAR_BOTTOM_PX;
  }

  onScroll() {
    this.stick = this.atBottom();
    if (this.stick) this.jump.hidden = true;
  }

  scrollToBottom() {
    this.el.scrollTop = this.el.scrollHeight;
    this.stick = true;
    this.jump.hidden = true;
  }

  /** Call after changing content: follow it, or offer to jump. */
  afterChange() {
    if (this.stick) this.scrollToBottom();
    else this.jump.hidden = false;
  }

  /**
   * Reconcile committed messages and the placeholder of the reply in progress.
   * @param {ChatMessage[]} messages
   * @param {Streaming | null} live the reply in progress, not yet committed (`ChatState.liveReply`)
   */
  update(messages, live) {
    const list = Array.isArray(messages) ? messages : [];
    let lastAssistant = "";
    for (const m of list) if (m.role === "assistant") lastAssistant = m.id;
    const streamingId = live ? String(live.id ?? "") : "";
    // While a reply streams, the previous reply is not "the last one" to retry.
    if (streamingId) lastAssistant = "";

    let changed = false;
    const seen = new Set();
    /** @type {Element | null} */
    let cursor = this.el.firstElementChild;
    if (cursor === this.empty) cursor = cursor.nextElementSibling;
    for (const msg of list) {
      const id = String(msg.id);
      seen.add(id);
      const isLast = id === lastAssistant;
      let entry = this.entries.get(id);
      // The same object (a page's messages are kept) cannot have changed: skip the signature.
      if (!entry || entry.msg !== msg || entry.isLast !== isLast) {
        const sig = `${isLast ? 1 : 0}${JSON.stringify(msg)}`;
        if (!entry || entry.sig !== sig) {
          const el = messageNode(msg, isLast);
          if (entry) {
            entry.el.replaceWith(el);
            if (cursor === entry.el) cursor = el;
          }
          entry = { el, sig, msg, isLast };
          this.entries.set(id, entry);
          changed = true;
        } else {
          entry.msg = msg;
          entry.isLast = isLast;
        }
      }
      if (entry.el !== cursor) {
        this.el.insertBefore(entry.el, cursor);
        changed = true;
      } else {
        cursor = cursor.nextElementSibling;
      }
    }
    for (const [id, entry] of this.entries) {
      if (!seen.has(id)) {
        entry.el.remove();
        this.entries.delete(id);
        changed = true;
      }
    }
    // The reply in progress: one node, last.
    if (live && streamingId) {
      if (!this.live || this.live.id !== streamingId) {
        this.live?.el.remove();
        const el = streamingNode(live);
        const content = /** @type {HTMLElement} */ (el.querySelector("[data-testid=content]"));
        this.live = { el, id: streamingId, content, stream: null };
        changed = true;
      }
      if (this.el.lastElementChild !== this.live.el) this.el.append(this.live.el);
    } else if (this.live) {
      this.live.el.remove();
      this.live = null;
      changed = true;
    }
    const isEmpty = list.length === 0 && !this.live;
    if (isEmpty && !this.empty.isConnected) this.el.prepend(this.empty);
    if (!isEmpty && this.empty.isConnected) this.empty.remove();
    if (changed) this.afterChange();
  }

  /**
   * Re-render only the reply in progress from the draft.
   * @param {Draft | null} draft
   */
  renderDraft(draft) {
    if (!this.live) return;
    const live = this.live;
    if (draft && draft.text) {
      live.stream ??= new MarkdownStream(live.content);
      live.stream.update(draft.text);
    } else {
      live.stream = null;
      live.content.replaceChildren(typing());
    }
    this.afterChange();
  }

  /**
   * The raw text of a message (for the copy button).
   * @param {string} id
   * @param {Draft | null} draft
   */
  textOf(id, draft) {
    const entry = this.entries.get(id);
    if (entry) return String(entry.msg.content ?? "");
    if (this.live && this.live.id === id) return draft?.text ?? "";
    return "";
  }

  /** @param {boolean} streaming */
  setStreaming(streaming) {
    for (const b of this.el.querySelectorAll("[data-action=retry], [data-action=edit]")) {
      /** @type {HTMLButtonElement} */ (b).disabled = streaming;
    }
  }
}
