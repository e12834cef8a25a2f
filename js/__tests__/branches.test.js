// Edit and branch: the pencil edits a user message in place (Enter sends the `edit` intent, Esc
// cancels), the "‹ 2 / 3 ›" switcher sends `switch-branch`, and the conversation downloads as
// markdown (the same text as ChatPanel.to_markdown()).
import { afterEach, describe, expect, it, vi } from "vitest";
import { toMarkdown } from "../src/branches.js";
import { chat, message, setup, unmountAll } from "./helpers.js";

afterEach(() => {
  unmountAll();
  vi.restoreAllMocks();
});

const tree = () =>
  chat([
    message({ role: "user", id: "u1", content: "one" }),
    message({ id: "a1", content: "one", parent_id: "u1" }),
    message({ role: "user", id: "u2b", content: "two, edited", parent_id: "a1", branches: ["u2a", "u2b", "u2c"] }),
    message({ id: "a2", content: "two, edited", parent_id: "u2b" }),
  ]);

const key = (el, k, opts = {}) =>
  el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true, ...opts }));

describe("edit and branch", () => {
  it("a user message has a pencil; a reply has none", () => {
    const { $ } = setup(tree());
    expect($('[data-id="u1"] [data-testid="edit"]')).not.toBeNull();
    expect($('[data-id="a1"] [data-testid="edit"]')).toBeNull();
  });

  it("the pencil edits in place; Enter sends the edit intent with the new text", () => {
    const { model, $ } = setup(tree());
    $('[data-id="u1"] [data-testid="edit"]').click();
    const input = $('[data-id="u1"] [data-testid="edit-input"]');
    expect(input.value).toBe("one");
    expect($('[data-id="u1"] .nbchat-bubble').hidden).toBe(true);
    expect(input.closest("[data-lm-suppress-shortcuts]")).not.toBeNull();
    input.value = "uno";
    key(input, "Enter", { shiftKey: true }); // a new line, not a send
    expect(model.intents("edit")).toHaveLength(0);
    key(input, "Enter");
    expect(model.intents("edit")).toEqual([expect.objectContaining({ type: "edit", message_id: "u1", text: "uno" })]);
    expect($('[data-id="u1"] [data-testid="edit-input"]')).toBeNull(); // the kernel answers with the new branch
  });

  it("Esc and Cancel leave the message as it was; an empty edit is not sent", () => {
    const { model, $ } = setup(tree());
    $('[data-id="u1"] [data-testid="edit"]').click();
    key($('[data-testid="edit-input"]'), "Escape");
    expect($('[data-testid="edit"].nbchat-edit')).toBeNull();
    expect($('[data-id="u1"] .nbchat-bubble').hidden).toBe(false);
    $('[data-id="u1"] [data-testid="edit"]').click();
    $('[data-testid="edit-input"]').value = "   ";
    $('[data-testid="edit-send"]').click();
    $('[data-testid="edit-cancel"]').click();
    expect(model.intents("edit")).toHaveLength(0);
  });

  it("an edited message shows ‹ 2 / 3 ›; the arrows send switch-branch to its siblings", () => {
    const { model, $, $$ } = setup(tree());
    expect($$('[data-testid="branch"]')).toHaveLength(1);
    expect($('[data-id="u2b"] [data-testid="branch-pos"]').textContent).toBe("2 / 3");
    $('[data-id="u2b"] [data-testid="branch-prev"]').click();
    $('[data-id="u2b"] [data-testid="branch-next"]').click();
    expect(model.intents("switch-branch").map((i) => i.message_id)).toEqual(["u2a", "u2c"]);
  });

  it("the first version's previous arrow is disabled; no switching while a reply streams", () => {
    const first = chat([message({ role: "user", id: "x", branches: ["x", "y"] })]);
    const { model, $ } = setup(first);
    expect($('[data-testid="branch-pos"]').textContent).toBe("1 / 2");
    expect($('[data-testid="branch-prev"]').disabled).toBe(true);
    model.update({ status: "streaming", streaming: { id: "s1", request_id: "r9" } });
    $('[data-testid="branch-next"]').click();
    expect(model.intents("switch-branch")).toHaveLength(0);
  });

  it("the markdown download is ChatPanel.to_markdown()'s text", () => {
    const msgs = [
      message({ role: "user", id: "u1", content: "Hi" }),
      message({ id: "a1", content: "```python\nx = 1\n```", model: "m" }),
    ];
    expect(toMarkdown(msgs, "Be brief.")).toBe(
      "## System\n\nBe brief.\n\n## User\n\nHi\n\n## Assistant (m)\n\n```python\nx = 1\n```\n",
    );
    const { $ } = setup(chat(msgs));
    const created = vi.spyOn(URL, "createObjectURL").mockReturnValue("blob:x");
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    $('[data-testid="download-md"]').click();
    expect(clicked).toHaveBeenCalledTimes(1);
    const blob = created.mock.calls[0][0];
    expect(blob.type).toMatch(/^text\/markdown/);
  });
});
