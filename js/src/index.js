// nbchat chat panel: anywidget front-end module (AFM). Wiring only; the pieces live in
// chat-state.js (model-level state: conversation.js, channel.js, draft.js), header.js,
// banners.js, message-list.js, composer.js, undo-toast.js, settings.js, usage-view.js,
// announcer.js, actions.js (what every button does) and render-text.js.

import { ACTIONS, copiedFlash, delegateClicks } from "./actions.js";
import { Announcer } from "./announcer.js";
import { Banners, NOT_CONNECTED } from "./banners.js";
import { BudgetBadge } from "./budget-badge.js";
import { disposeState, ensureState } from "./chat-state.js";
import { Composer } from "./composer.js";
import { h, perFrame } from "./dom.js";
import { Header } from "./header.js";
import { MessageList } from "./message-list.js";
import { Settings } from "./settings.js";
import { UndoToast } from "./undo-toast.js";
import { UsageView } from "./usage-view.js";

export { announcement } from "./announcer.js";
export { NOT_CONNECTED } from "./banners.js";

/** @typedef {import("./types").Model} Model */
/** @typedef {import("./types").PanelStatus} PanelStatus */

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
 * @param {{model: Model, el: HTMLElement}} props
 */
function render({ model, el }) {
  const { state, created } = ensureState(model);
  state.views = (state.views ?? 0) + 1;
  if (created) state.ownedByViews = true;
  const { conversation } = state;
  const ac = new AbortController();
  const { signal } = ac;
  /** @type {Set<ReturnType<typeof setTimeout>>} */
  const timers = new Set();
  /** @type {[string, (...args: any[]) => void][]} */
  const modelListeners = [];
  const listen = (/** @type {string} */ event, /** @type {(...args: any[]) => void} */ fn) => {
    model.on(event, fn);
    modelListeners.push([event, fn]);
  };

  // ---- the pieces -----------------------------------------------------------------------
  // The theme colours are read from the panel's root when the chart renders.
  const usage = new UsageView(() => root, signal);
  const header = new Header(usage.toggle);
  const banners = new Banners();
  const budget = new BudgetBadge();
  const list = new MessageList();
  const composer = new Composer((action) => ACTIONS[action]?.(ctx, null), signal);
  const settings = new Settings((change) => state.sendIntent("settings", change), signal);
  const toast = new UndoToast(timers);
  const announcer = new Announcer(
    () => (conversation.resolving ? null : conversation.messages()),
    () => model.get("error") ?? "",
    model.get("status") ?? "idle",
  );
  /** @type {HTMLDivElement} */
  const root = h("div", { className: "nbchat", testid: "nbchat" }, [
    header.el,
    budget.el,
    banners.error,
    usage.el,
    h("div", { className: "nbchat-body" }, [list.el, list.jump]),
    banners.notice,
    banners.offline,
    toast.el,
    composer.el,
    settings.el,
    announcer.el,
  ]);
  el.append(root);
  /** @type {import("./actions.js").ActionContext} */
  const ctx = {
    model,
    state,
    composer,
    list,
    usage,
    flash: copiedFlash(timers),
    clear: () => toast.cleared(state.sendIntent("clear"), conversation.messages().length > 0),
    undoClear: () => {
      toast.hide();
      state.sendIntent("undo-clear");
    },
  };
  delegateClicks(root, ctx, signal);

  // ---- rendering --------------------------------------------------------------------------
  // While a page of the conversation resolves, the list is frozen as it is (a commit would
  // otherwise blink out and back); it catches up on the conversation's next "change".
  let draftStale = false;
  const flushDraft = () => {
    draftStale = conversation.resolving;
    if (!draftStale) list.renderDraft(state.liveDraft());
  };
  const draftFrame = perFrame(flushDraft);

  const renderBanner = () =>
    banners.showError(model.get("error") ?? "", conversation.messages(), model.get("status") === "streaming");
  const renderList = () => {
    if (!conversation.resolving) {
      const hadLive = list.live?.id;
      list.update(conversation.messages(), state.liveReply());
      list.setStreaming(model.get("status") === "streaming");
      if (list.live && list.live.id !== hadLive) flushDraft();
    }
    renderBanner();
  };
  const onStatus = () => {
    const next = model.get("status") ?? "idle";
    composer.setStreaming(next === "streaming");
    list.setStreaming(next === "streaming");
    root.dataset.status = next;
    announcer.statusChanged(next);
    if (next === "streaming") banners.showNotice(null);
    renderBanner();
  };
  const onBackend = () => header.setBackend(model.get("backend") ?? "");
  const onSettings = () =>
    settings.update({
      model: model.get("model"),
      models: model.get("models") ?? [],
      system: model.get("system"),
      params: model.get("params"),
    });
  // Once per committed message or resolved page (deltas are custom messages, not trait changes).
  const onConversation = () => {
    renderList();
    if (draftStale) flushDraft();
    usage.setMessages(conversation.messages());
    announcer.conversationChanged();
    if (conversation.messages().length) toast.hide();
  };
  /** @param {boolean} connected */
  const onConnection = (connected) => {
    banners.setConnected(connected);
    root.dataset.connected = String(connected);
    composer.setConnected(connected);
    if (!connected) announcer.say(NOT_CONNECTED);
  };

  conversation.on("change", onConversation);
  listen("change:streaming", renderList);
  listen("change:status", onStatus);
  listen("change:error", renderBanner);
  listen("change:backend", onBackend);
  listen("change:budget", () => budget.update(model.get("budget")));
  listen("change:model", onSettings);
  listen("change:models", onSettings);
  listen("change:system", onSettings);
  listen("change:params", onSettings);
  const unsubscribe = state.subscribe((event) => {
    if (event.kind === "draft") draftFrame.schedule();
    else if (event.kind === "connection") {
      onConnection(event.connected);
      if (event.intent) composer.settle(event.intent.id, event.connected);
      if (event.intent) toast.settle(event.intent.id, event.connected);
    } else {
      banners.showNotice(event.message);
      announcer.say(`Error: ${event.message}`);
    }
  });

  // ---- first paint ----------------------------------------------------------------------------
  onBackend();
  budget.update(model.get("budget"));
  onSettings();
  renderList();
  usage.setMessages(conversation.messages());
  onStatus();
  onConnection(state.channel.connected);
  state.ensureDraftKnown();
  flushDraft();

  return () => {
    ac.abort();
    for (const [event, fn] of modelListeners) model.off(event, fn);
    modelListeners.length = 0;
    conversation.off("change", onConversation);
    unsubscribe();
    draftFrame.cancel();
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
