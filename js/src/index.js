// nbchat chat panel: anywidget front-end module (AFM). Wiring only; the pieces live in
// draft.js (model-level state), conversation.js (the paged conversation), message-list.js,
// composer.js, settings.js, render-text.js.

import { Composer } from "./composer.js";
import { copyText, h } from "./dom.js";
import { disposeState, ensureState } from "./draft.js";
import { MessageList } from "./message-list.js";
import { Settings } from "./settings.js";
import { UsageView } from "./usage-view.js";

/** @typedef {import("./types").Model} Model */
/** @typedef {import("./types").ChatMessage} ChatMessage */
/** @typedef {import("./types").PanelStatus} PanelStatus */

/** How long a copy button says "Copied". */
const COPIED_MS = 1200;

/**
 * Model-level wiring: the draft of the reply in progress must see every delta, and the
 * conversation's pages start resolving, even before (or without) a view.
 * @param {{model: Model}} props
 */
function initialize({ model }) {
  ensureState(model);
  return () => disposeState(model);
}

/**
 * The words announced by the live region for a status change (not for every token).
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

/**
 * @param {{model: Model, el: HTMLElement}} props
 */
function render({ model, el }) {
  const { state, created } = ensureState(model);
  state.views = (state.views ?? 0) + 1;
  if (created) state.ownedByViews = true;
  const conversation = state.conversation;

  const ac = new AbortController();
  const { signal } = ac;
  /** @type {Set<ReturnType<typeof setTimeout>>} */
  const timers = new Set();
  /** @type {[string, (...args: any[]) => void][]} */
  const modelListeners = [];
  /**
   * @param {string} event
   * @param {(...args: any[]) => void} fn
   */
  const listen = (event, fn) => {
    model.on(event, fn);
    modelListeners.push([event, fn]);
  };

  // ---- DOM ----------------------------------------------------------------------------
  const backend = h("span", { className: "nbchat-backend", testid: "backend" });
  const dot = h("span", { className: "nbchat-dot", attrs: { "aria-hidden": "true" } });
  const header = h("div", { className: "nbchat-header" }, [
    h("span", { className: "nbchat-title", text: "nbchat" }),
    dot,
    backend,
  ]);
  // The theme colours are read from the panel's root (declared below) when the chart renders.
  const usage = new UsageView(() => /** @type {Element} */ (root), signal);
  header.append(usage.toggle);
  const banner = h("div", { className: "nbchat-banner", testid: "panel-error" });
  const notice = h("div", { className: "nbchat-banner nbchat-notice", testid: "notice" });
  banner.hidden = true;
  notice.hidden = true;
  const live = h("div", {
    className: "nbchat-sr-only",
    testid: "status",
    attrs: { role: "status", "aria-live": "polite", "aria-atomic": "true" },
  });
  const list = new MessageList();
  const composer = new Composer(
    {
      send: (text) => state.sendIntent("send", { text }),
      stop: () => state.sendIntent("stop"),
      clear: () => state.sendIntent("clear"),
    },
    signal,
  );
  const settings = new Settings((change) => state.sendIntent("settings", change), signal);
  const body = h("div", { className: "nbchat-body" }, [list.el, list.jump]);
  /** @type {HTMLDivElement} */
  const root = h("div", { className: "nbchat", testid: "nbchat" }, [
    header,
    banner,
    usage.el,
    body,
    notice,
    composer.el,
    settings.el,
    live,
  ]);
  el.append(root);

  // ---- announcements --------------------------------------------------------------------
  /** @param {string} text */
  const announce = (text) => {
    if (!text) return;
    // Re-announce identical text: change the node, not only its value.
    live.textContent = live.textContent === text ? `${text}\u00a0` : text;
  };

  // ---- rendering --------------------------------------------------------------------------
  let frame = 0;
  // Looked up at call time (tests and some hosts replace them); timers as a fallback.
  const raf = (/** @type {FrameRequestCallback} */ cb) =>
    typeof window.requestAnimationFrame === "function"
      ? window.requestAnimationFrame(cb)
      : /** @type {number} */ (/** @type {unknown} */ (setTimeout(() => cb(Date.now()), 16)));
  const caf = (/** @type {number} */ id) =>
    typeof window.cancelAnimationFrame === "function" ? window.cancelAnimationFrame(id) : clearTimeout(id);
  const currentDraft = () => {
    const d = state.draft;
    const s = model.get("streaming") ?? {};
    return d && d.request_id === s.request_id ? d : null;
  };
  // While a page of the conversation resolves, the list is frozen as it is (the conversation
  // still being the previous one, a commit would otherwise blink out and back); it catches up
  // on the conversation's next "change".
  let draftStale = false;
  const flushDraft = () => {
    frame = 0;
    if (conversation.resolving) {
      draftStale = true;
      return;
    }
    draftStale = false;
    list.renderDraft(currentDraft());
  };
  /** Coalesce draft updates: at most one render per animation frame. */
  const scheduleDraft = () => {
    if (!frame) frame = raf(flushDraft);
  };

  const renderList = () => {
    if (conversation.resolving) {
      renderBanner();
      return;
    }
    const hadLive = list.live?.id;
    list.update(conversation.messages(), model.get("streaming") ?? {});
    list.setStreaming(model.get("status") === "streaming");
    if (list.live && list.live.id !== hadLive) flushDraft();
    renderBanner();
  };

  const renderBanner = () => {
    const error = model.get("error") ?? "";
    const messages = conversation.messages();
    const shown = messages.some((m) => m.status === "error" && m.error === error);
    banner.textContent = error ? `Error: ${error}` : "";
    banner.hidden = !error || shown || model.get("status") === "streaming";
  };

  /** @type {PanelStatus} */
  let status = model.get("status") ?? "idle";
  /** A status change whose words depend on a conversation still resolving. @type {[PanelStatus, PanelStatus] | null} */
  let deferredAnnouncement = null;
  const onStatus = () => {
    const next = model.get("status") ?? "idle";
    composer.setStreaming(next === "streaming");
    list.setStreaming(next === "streaming");
    root.dataset.status = next;
    if (next !== status) {
      if (conversation.resolving && next !== "streaming") deferredAnnouncement = [status, next];
      else {
        deferredAnnouncement = null;
        announce(announcement(status, next, conversation.messages(), model.get("error")));
      }
    }
    status = next;
    if (next === "streaming") notice.hidden = true;
    renderBanner();
  };

  const onBackend = () => {
    backend.textContent = model.get("backend") ?? "";
    backend.title = backend.textContent;
  };
  const onSettings = () =>
    settings.update({ model: model.get("model"), system: model.get("system"), params: model.get("params") });

  // Once per committed message or resolved page (deltas are custom messages, not trait changes).
  const onConversation = () => {
    renderList();
    if (draftStale) flushDraft();
    usage.setMessages(conversation.messages());
    if (deferredAnnouncement && !conversation.resolving) {
      const [prev, next] = deferredAnnouncement;
      deferredAnnouncement = null;
      announce(announcement(prev, next, conversation.messages(), model.get("error")));
    }
  };
  conversation.on("change", onConversation);
  listen("change:streaming", renderList);
  listen("change:status", onStatus);
  listen("change:error", renderBanner);
  listen("change:backend", onBackend);
  listen("change:model", onSettings);
  listen("change:system", onSettings);
  listen("change:params", onSettings);

  const unsubscribe = state.subscribe((event) => {
    if (event.kind === "draft") scheduleDraft();
    else {
      notice.textContent = event.message;
      notice.hidden = false;
      announce(`Error: ${event.message}`);
    }
  });

  // ---- clicks (one delegated listener) ------------------------------------------------------
  /**
   * @param {HTMLElement} btn
   * @param {boolean} ok
   */
  const flash = (btn, ok) => {
    if (!ok) return;
    const label = btn.textContent;
    btn.textContent = "Copied";
    btn.classList.add("nbchat-copied");
    const t = setTimeout(() => {
      timers.delete(t);
      btn.textContent = label;
      btn.classList.remove("nbchat-copied");
    }, COPIED_MS);
    timers.add(t);
  };
  root.addEventListener(
    "click",
    (e) => {
      const target = /** @type {Element | null} */ (e.target);
      const btn = /** @type {HTMLElement | null} */ (target?.closest?.("[data-action]") ?? null);
      if (!btn || !root.contains(btn)) return;
      switch (btn.dataset.action) {
        case "copy": {
          const id = /** @type {HTMLElement | null} */ (btn.closest(".nbchat-msg"))?.dataset.id ?? "";
          void copyText(list.textOf(id, currentDraft())).then((ok) => flash(btn, ok));
          break;
        }
        case "copy-code": {
          const code = btn.closest(".nbchat-code")?.querySelector("code");
          void copyText(code?.textContent ?? "").then((ok) => flash(btn, ok));
          break;
        }
        case "retry":
          if (model.get("status") !== "streaming") state.sendIntent("retry");
          break;
        case "jump":
          list.scrollToBottom();
          break;
        default:
          break;
      }
    },
    { signal },
  );

  // ---- first paint ----------------------------------------------------------------------------
  onBackend();
  onSettings();
  renderList();
  usage.setMessages(conversation.messages());
  onStatus();
  state.ensureDraftKnown();
  flushDraft();

  return () => {
    ac.abort();
    for (const [event, fn] of modelListeners) model.off(event, fn);
    modelListeners.length = 0;
    conversation.off("change", onConversation);
    unsubscribe();
    if (frame) caf(frame);
    frame = 0;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    list.destroy();
    usage.destroy();
    root.remove();
    state.views = Math.max(0, (state.views ?? 1) - 1);
    if (state.ownedByViews && state.views === 0) disposeState(model);
  };
}

export default { initialize, render };
