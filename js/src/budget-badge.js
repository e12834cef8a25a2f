// What remains of the panel's budget (`ChatPanel(budget=...)`, the `budget` trait): "$1.9850
// of $2.00 left". Hidden without a budget. A request over it is refused before it is sent,
// and the refusal shows as the panel's error.

import { h } from "./dom.js";
import { usd } from "./message-list.js";

/**
 * @param {{limit?: number, spent?: number, remaining?: number} | null | undefined} b
 * @returns {string} "" without a budget
 */
export function budgetText(b) {
  if (!b || typeof b.limit !== "number") return "";
  return `${usd(b.remaining ?? 0)} of ${usd(b.limit)} left`;
}

export class BudgetBadge {
  constructor() {
    this.el = h("div", { className: "nbchat-budget", testid: "budget", attrs: { role: "status" } });
    this.el.hidden = true;
  }

  /** @param {{limit?: number, spent?: number, remaining?: number} | null | undefined} b */
  update(b) {
    const text = budgetText(b);
    this.el.hidden = !text;
    this.el.textContent = text ? `Budget: ${text}` : "";
    this.el.title = text ? `Spent ${usd(b?.spent ?? 0)} of ${usd(b?.limit ?? 0)} (USD)` : "";
  }
}
