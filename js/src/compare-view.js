// The pieces of the comparison's view: a column (its head and its own scrolling message list,
// the chat panel's MessageList, so replies render and are sanitized exactly as in the panel,
// footers included: tokens, TTFT, speed, cost, finish reason) and the vote bar of blind mode.

import { button, h } from "./dom.js";
import { MessageList } from "./message-list.js";

/** @typedef {import("./compare-types").Slot} Slot */
/** @typedef {import("./compare-types").RoundState} RoundState */
/** @typedef {import("./compare-types").Vote} Vote */
/** @typedef {import("./types").ChatMessage} ChatMessage */

/**
 * A column's messages: each prompt, then the slot's reply to it (once committed).
 * User messages are kept by prompt id, so an unchanged one is the same object (MessageList
 * skips it without comparing).
 * @param {RoundState[]} rounds
 * @param {number} slot
 * @param {Map<string, ChatMessage>} users
 * @returns {ChatMessage[]}
 */
export function columnMessages(rounds, slot, users) {
  /** @type {ChatMessage[]} */
  const out = [];
  for (const r of rounds) {
    let user = users.get(r.prompt_id);
    if (!user || user.content !== r.prompt) {
      user = /** @type {ChatMessage} */ ({
        id: `prompt-${r.prompt_id}`,
        role: "user",
        content: String(r.prompt ?? ""),
        status: "complete",
        created_at: r.created_at,
      });
      users.set(r.prompt_id, user);
    }
    out.push(user);
    const reply = r.replies?.[slot];
    if (reply) out.push(reply);
  }
  return out;
}

export class Column {
  /** @param {number} slot */
  constructor(slot) {
    this.slot = slot;
    this.list = new MessageList();
    this.list.empty.textContent = "Replies appear here.";
    /** @type {Map<string, ChatMessage>} */
    this.users = new Map();
    this.title = h("span", { className: "nbchat-col-title", testid: "column-label" });
    this.name = h("span", { className: "nbchat-col-name", testid: "column-model" });
    this.best = button("Best", "This reply is the best", {
      testid: "vote-best",
      action: "vote-best",
      className: "nbchat-btn nbchat-vote-btn",
    });
    this.head = h("div", { className: "nbchat-col-head" }, [this.title, this.name, this.best]);
    this.el = h("section", { className: "nbchat-col", testid: "column" }, [
      this.head,
      h("div", { className: "nbchat-body" }, [this.list.el, this.list.jump]),
    ]);
    this.el.dataset.slot = String(slot);
    // Scrolling reads the layout: while several columns render in one frame, each one's scroll
    // waits until all have written (one layout per frame, not one per column).
    const scroll = this.list.afterChange.bind(this.list);
    this.deferring = false;
    this.scrollPending = false;
    this.list.afterChange = () => {
      if (this.deferring) this.scrollPending = true;
      else scroll();
    };
    this.flushScroll = () => {
      this.deferring = false;
      if (this.scrollPending) scroll();
      this.scrollPending = false;
    };
  }

  /**
   * @param {Slot} slot
   * @param {boolean} blind
   */
  setSlot(slot, blind) {
    const label = String(slot?.label ?? "");
    this.title.textContent = label;
    // blind mode: the letter, then the model once revealed; otherwise the label says it all
    const name = blind && !slot?.hidden ? String(slot?.name ?? "") : "";
    this.name.textContent = name;
    this.name.hidden = !name;
    this.el.dataset.hidden = String(Boolean(slot?.hidden));
    this.el.setAttribute("aria-label", name ? `${label}: ${name}` : `Column ${label}`);
    this.title.title = name || label;
  }

  /**
   * @param {RoundState[]} rounds
   * @param {import("./compare-types").StreamingSlot | null} live
   * @param {boolean} streaming
   */
  update(rounds, live, streaming) {
    const messages = columnMessages(rounds, this.slot, this.users);
    this.list.update(messages, live ? /** @type {any} */ (live) : null);
    this.list.setStreaming(streaming);
  }

  /**
   * The best-reply button: shown in blind mode once every reply of the latest prompt is in.
   * @param {boolean} shown
   * @param {Vote | null} vote
   */
  setVote(shown, vote) {
    this.best.hidden = !shown;
    const chosen = vote?.kind === "best" && vote.slot === this.slot;
    this.best.setAttribute("aria-pressed", String(chosen));
    this.best.textContent = chosen ? "Best ✓" : "Best";
    this.el.dataset.voted = chosen ? "best" : "";
  }

  destroy() {
    this.list.destroy();
    this.el.remove();
  }
}

export class VoteBar {
  constructor() {
    this.text = h("span", { className: "nbchat-vote-text", testid: "vote-text" });
    this.tie = button("Tie", "The replies are about as good", {
      testid: "vote-tie",
      action: "vote-tie",
      className: "nbchat-btn nbchat-vote-btn",
    });
    this.bad = button("All bad", "Every reply is bad", {
      testid: "vote-bad",
      action: "vote-bad",
      className: "nbchat-btn nbchat-vote-btn",
    });
    this.el = h("div", { className: "nbchat-votebar", testid: "votebar" }, [this.text, this.tie, this.bad]);
    this.el.hidden = true;
  }

  /**
   * @param {boolean} shown
   * @param {Vote | null} vote
   * @param {string[]} labels the slots' labels
   * @param {string[]} names the slots' revealed names
   */
  update(shown, vote, labels, names) {
    this.el.hidden = !shown;
    this.tie.setAttribute("aria-pressed", String(vote?.kind === "tie"));
    this.bad.setAttribute("aria-pressed", String(vote?.kind === "bad"));
    if (!vote) this.text.textContent = "Which reply is best? The models are named after your vote.";
    else if (vote.kind === "best") {
      const who = names[vote.slot] ? `${labels[vote.slot]} (${names[vote.slot]})` : labels[vote.slot];
      this.text.textContent = `You voted ${who} best.`;
    } else this.text.textContent = vote.kind === "tie" ? "You voted a tie." : "You voted: all bad.";
  }
}
