// The settings' model field offers the server's models (the `models` trait) and still takes
// free text (issue 11 item 2).
import { afterEach, describe, expect, it } from "vitest";
import { setup, unmountAll } from "./helpers.js";

afterEach(unmountAll);

describe("model picker", () => {
  it("offers the server's models and opens the settings when no model is set", () => {
    const { model, $ } = setup({ model: "", models: ["gpt-a", "gpt-b", "gpt-c"] });
    const input = $('[data-testid="model"]');
    const list = $('[data-testid="model-options"]');
    expect(input.getAttribute("list")).toBe(list.id);
    expect([...list.querySelectorAll("option")].map((o) => o.value)).toEqual(["gpt-a", "gpt-b", "gpt-c"]);
    expect($('[data-testid="settings"]').open).toBe(true);

    // picking (or typing) a name sends the settings intent; any text is allowed
    input.value = "my-own-model";
    input.dispatchEvent(new Event("change"));
    expect(model.intents("settings").at(-1)).toMatchObject({ model: "my-own-model" });

    model.update({ models: ["only"] }); // the kernel changes the trait
    expect([...list.querySelectorAll("option")].map((o) => o.value)).toEqual(["only"]);
  });

  it("keeps the drawer closed when a model is set", () => {
    const { $ } = setup({ model: "demo", models: ["demo", "echo"] });
    expect($('[data-testid="settings"]').open).toBe(false);
    expect($('[data-testid="model"]').value).toBe("demo");
  });

  it("gives every view its own list", () => {
    const a = setup({ models: ["x"] });
    const b = setup({ models: ["y"] });
    expect(a.$('[data-testid="model"]').getAttribute("list")).not.toBe(
      b.$('[data-testid="model"]').getAttribute("list"),
    );
  });
});
