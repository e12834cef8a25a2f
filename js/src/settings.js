// The settings drawer: model, system prompt, temperature, max tokens. It shows the trait
// values and sends a `settings` intent on change; it never sets a trait. It also holds the
// conversation's download (as markdown).

import { button, h } from "./dom.js";

/** @typedef {import("./types").Params} Params */
/** @typedef {{model?: string, system?: string, temperature?: number | null, max_tokens?: number | null}} SettingsChange */

/**
 * Parse a number input: "" is null (the backend default), garbage is undefined (send nothing).
 * @param {string} raw
 * @param {boolean} integer
 * @returns {number | null | undefined}
 */
export function parseNumber(raw, integer) {
  const s = raw.trim();
  if (s === "") return null;
  const n = integer ? Number.parseInt(s, 10) : Number.parseFloat(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * @param {string} label
 * @param {HTMLElement} input
 */
function field(label, input) {
  return h("label", { className: "nbchat-field" }, [h("span", { className: "nbchat-field-label", text: label }), input]);
}

let listIds = 0;

export class Settings {
  /**
   * @param {(change: SettingsChange) => void} onChange
   * @param {AbortSignal} signal
   */
  constructor(onChange, signal) {
    this.model = h("input", { testid: "model", attrs: { type: "text", "aria-label": "Model", spellcheck: "false" } });
    // The server's models (the `models` trait) as suggestions: a picker that still takes free text.
    this.models = h("datalist", { testid: "model-options", attrs: { id: `nbchat-models-${++listIds}` } });
    this.model.setAttribute("list", this.models.id);
    /** @type {string[]} */
    this.shownModels = [];
    this.system = h("textarea", { testid: "system", attrs: { "aria-label": "System prompt", rows: "3" } });
    this.temperature = h("input", {
      testid: "temperature",
      attrs: { type: "number", step: "0.1", min: "0", max: "2", "aria-label": "Temperature", placeholder: "default" },
    });
    this.maxTokens = h("input", {
      testid: "max-tokens",
      attrs: { type: "number", step: "1", min: "1", "aria-label": "Max tokens", placeholder: "default" },
    });
    this.el = h("details", { className: "nbchat-settings", testid: "settings" }, [
      h("summary", { text: "Settings" }),
      h("div", { className: "nbchat-settings-grid" }, [
        field("Model", this.model),
        this.models,
        field("Temperature", this.temperature),
        field("Max tokens", this.maxTokens),
        field("System prompt", this.system),
      ]),
      // The conversation shown, as ChatPanel.to_markdown() writes it (branches.js: a Blob).
      h("div", { className: "nbchat-settings-actions" }, [
        button("Download as markdown", "Download the conversation as markdown", { testid: "download-md", action: "download-md" }),
      ]),
    ]);
    const on = (/** @type {HTMLElement} */ el, /** @type {() => void} */ fn) =>
      el.addEventListener("change", fn, { signal });
    on(this.model, () => onChange({ model: this.model.value.trim() }));
    on(this.system, () => onChange({ system: this.system.value }));
    on(this.temperature, () => {
      const v = parseNumber(this.temperature.value, false);
      if (v !== undefined) onChange({ temperature: v });
    });
    on(this.maxTokens, () => {
      const v = parseNumber(this.maxTokens.value, true);
      if (v !== undefined) onChange({ max_tokens: v });
    });
  }

  /**
   * Show trait values, without clobbering a field the user is editing.
   * @param {{model: string, models?: string[], system: string, params: Params}} values
   */
  update(values) {
    const set = (/** @type {HTMLInputElement | HTMLTextAreaElement} */ el, /** @type {string} */ v) => {
      if (el.ownerDocument.activeElement !== el && el.value !== v) el.value = v;
    };
    const p = values.params ?? { temperature: null, max_tokens: null };
    set(this.model, values.model ?? "");
    const models = values.models ?? [];
    if (models.join("\n") !== this.shownModels.join("\n")) {
      this.shownModels = [...models];
      this.models.replaceChildren(...models.map((name) => h("option", { attrs: { value: name } })));
    }
    // No model yet but the server lists several: open the drawer at the picker.
    if (!values.model && models.length) this.el.open = true;
    set(this.system, values.system ?? "");
    set(this.temperature, p.temperature == null ? "" : String(p.temperature));
    set(this.maxTokens, p.max_tokens == null ? "" : String(p.max_tokens));
  }
}
