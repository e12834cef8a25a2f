// The panel's header: its name, a status dot (coloured by the root's data-status and
// data-connected), the endpoint (cut with an ellipsis, whole in its tooltip), and the Usage
// and Clear buttons (Clear sits here, away from Send).

import { h, iconButton } from "./dom.js";

export class Header {
  /** @param {HTMLElement} usageToggle */
  constructor(usageToggle) {
    this.backend = h("span", { className: "nbchat-backend", testid: "backend" });
    this.clear = iconButton("clear", "Clear conversation", { testid: "clear", action: "clear" });
    this.el = h("div", { className: "nbchat-header" }, [
      h("span", { className: "nbchat-title", text: "nbchat" }),
      h("span", { className: "nbchat-dot", attrs: { "aria-hidden": "true" } }),
      this.backend,
      usageToggle,
      this.clear,
    ]);
  }

  /** @param {string} label the `backend` trait */
  setBackend(label) {
    this.backend.textContent = label;
    this.backend.title = label;
  }
}
