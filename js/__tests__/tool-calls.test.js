// Every tool call of a reply is shown, in order (issue 10 item 12); none is ever run.
import { afterEach, describe, expect, it } from "vitest";
import { chat, message, setup, unmountAll } from "./helpers.js";

afterEach(unmountAll);

describe("tool calls", () => {
  it("shows each of a reply's tool calls, in order", () => {
    const calls = [
      { name: "weather", arguments: '{"city": "Paris"}', id: "c1" },
      { name: "describe", arguments: "{}", id: "c2" },
      { name: "rm", arguments: '{"path": "/"}', id: "c3" },
    ];
    const { $ } = setup(chat([message({ content: "", tool_request: calls[0], tool_calls: calls })]));
    const shown = [...$(".nbchat-msg").querySelectorAll('[data-testid="tool-request"]')];
    expect(shown).toHaveLength(3);
    expect(shown.map((el) => el.querySelector(".nbchat-tool-title")?.textContent)).toEqual([
      "Tool request: weather (not executed)",
      "Tool request: describe (not executed)",
      "Tool request: rm (not executed)",
    ]);
  });

  it("falls back to tool_request for messages saved before tool_calls", () => {
    const { $ } = setup(chat([message({ tool_request: { name: "one", arguments: "{}", id: null } })]));
    expect($(".nbchat-msg").querySelectorAll('[data-testid="tool-request"]')).toHaveLength(1);
  });
});
