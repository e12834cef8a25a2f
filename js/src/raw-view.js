// The Raw view of a reply: what went over the wire (issue 15). Collapsed by default; opening it
// sends one `raw-request` intent and the kernel answers with the record (`raw`), which lives in
// the kernel until then (it is never in the synced state). It shows the request body (the
// whole history, re-sent every turn), the response events with their arrival times, and a
// "Copy as curl" whose command names `$SPELLBOOK_API_KEY` / `$OPENAI_API_KEY`, never the key
// (the kernel masks every credential header as `***` before anything leaves it). Every string
// is set as text (textContent or `codeBlock`), never parsed as HTML.

import { button, copyText, h } from "./dom.js";
import { codeBlock } from "./render-text.js";

/** @typedef {import("./types").RawMessage} RawMessage */
/** @typedef {import("./actions.js").ActionContext} ActionContext */

/** The curl command of each open Raw view (what "Copy as curl" copies). */
const curls = new WeakMap();

/** The footer's toggle of a reply's Raw view. */
export function rawToggle() {
  const b = button("Raw", "Show what was sent and received (raw request and events)", {
    testid: "raw-toggle",
    action: "raw",
    className: "nbchat-btn nbchat-btn-ghost nbchat-raw-toggle",
  });
  b.setAttribute("aria-expanded", "false");
  return b;
}

/** @param {number} n */
const fmt = (n) => n.toLocaleString("en-US");

/**
 * The Raw view's content for one answer.
 * @param {RawMessage} raw
 */
export function renderRaw(raw) {
  const attempts = Array.isArray(raw.attempts) ? raw.attempts : [];
  const events = Array.isArray(raw.events) ? raw.events : [];
  const last = attempts[attempts.length - 1];
  const messages = /** @type {{messages?: unknown[]}} */ (last?.body ?? {}).messages;
  /** @type {HTMLElement[]} */
  const parts = [
    h("div", {
      className: "nbchat-raw-summary",
      testid: "raw-summary",
      text:
        `${attempts.length} ${attempts.length === 1 ? "attempt" : "attempts"} · ` +
        `${fmt(raw.event_count ?? 0)} events (${fmt(events.length)} kept) · ` +
        `${fmt(raw.bytes ?? 0)} bytes received`,
    }),
  ];
  for (const [i, a] of attempts.entries()) {
    const status = a.status ?? a.error ?? "no response";
    const headers = Object.entries(a.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
    parts.push(
      h("div", { className: "nbchat-raw-attempt", testid: "raw-attempt", text: `${i + 1}. ${a.method} ${a.url} → ${status} (+${Number(a.sent ?? 0).toFixed(3)} s)` }),
      h("pre", { className: "nbchat-raw-headers", testid: "raw-headers", text: headers.join("\n") }),
    );
  }
  const count = Array.isArray(messages) ? messages.length : 0;
  parts.push(
    h("div", { className: "nbchat-raw-heading", text: `Request body: the whole conversation, re-sent (${count} ${count === 1 ? "message" : "messages"})` }),
    h("div", { className: "nbchat-raw-body", testid: "raw-body" }, [codeBlock(JSON.stringify(last?.body ?? null, null, 2), "json")]),
    h("div", { className: "nbchat-raw-heading", text: "Response events (seconds after sending)" }),
  );
  const lines = events.map((e, i) => {
    const gap = i === 200 && raw.omitted ? `… ${fmt(raw.omitted)} events not kept …\n` : "";
    const name = e.event && e.event !== "message" ? `event: ${e.event}  ` : "";
    return `${gap}+${Number(e.t ?? 0).toFixed(3)} s  ${name}${e.data}`;
  });
  parts.push(
    h("pre", { className: "nbchat-raw-events", testid: "raw-events", text: lines.join("\n") }),
    h("div", { className: "nbchat-raw-curl" }, [
      button("Copy as curl", "Copy the request as a curl command (the key as an environment variable)", { testid: "copy-curl", action: "copy-curl" }),
      h("pre", { className: "nbchat-raw-curl-text", testid: "raw-curl", text: String(raw.curl ?? "") }),
    ]),
  );
  return parts;
}

/**
 * Open or close the Raw view of the reply whose toggle is `btn`.
 * @param {ActionContext} ctx
 * @param {HTMLElement | null} btn
 */
function toggleRaw(ctx, btn) {
  const node = /** @type {HTMLElement | null} */ (btn?.closest(".nbchat-msg"));
  if (!btn || !node) return;
  const open = node.querySelector(":scope > .nbchat-raw");
  if (open) {
    open.remove();
    btn.setAttribute("aria-expanded", "false");
    return;
  }
  const box = h("div", { className: "nbchat-raw", testid: "raw-view", attrs: { role: "region", "aria-label": "Raw request and response" } }, [
    h("div", { className: "nbchat-raw-summary", text: "Loading…" }),
  ]);
  node.append(box);
  btn.setAttribute("aria-expanded", "true");
  void ctx.state.ask("raw-request", { message_id: node.dataset.id ?? "" }).then((answer) => {
    if (!box.isConnected) return;
    if (answer.type === "raw") {
      curls.set(box, String(answer.curl ?? ""));
      box.replaceChildren(...renderRaw(answer));
    } else box.replaceChildren(h("div", { className: "nbchat-raw-summary", testid: "raw-error", text: String(answer.message ?? "no answer") }));
  });
}

/** The actions of this module, merged into `ACTIONS` (actions.js). */
export const RAW_ACTIONS = {
  raw: toggleRaw,
  "copy-curl": (/** @type {ActionContext} */ ctx, /** @type {HTMLElement | null} */ btn) => {
    const box = btn?.closest(".nbchat-raw");
    void copyText(box ? (curls.get(box) ?? "") : "").then((ok) => btn && ctx.flash(btn, ok));
  },
};
