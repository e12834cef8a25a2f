// The message vocabulary cannot drift: the Python vocabulary module is the source of truth.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { INTENT_TYPES, KERNEL_HANDLERS } from "../src/chat-state.js";

// (paths, not URL objects: under jsdom the global URL is not Node's)
const here = dirname(fileURLToPath(import.meta.url));
const read = (rel) => readFileSync(join(here, rel), "utf8");
// nbchat/panel/vocabulary.py (nbchat/_messages.py before the panel had a package of its own)
const vocabulary = ["../../nbchat/panel/vocabulary.py", "../../nbchat/_messages.py"].find((rel) =>
  existsSync(join(here, rel)),
);
const python = read(vocabulary ?? "../../nbchat/panel/vocabulary.py");
const srcDir = join(here, "../src");
const sources = readdirSync(srcDir)
  .filter((f) => f.endsWith(".js"))
  .map((f) => ({ file: f, text: readFileSync(join(srcDir, f), "utf8") }));

/** The strings of `NAME: tuple[str, ...] = ("a", "b", ...)` in the Python file. */
function pyTuple(name) {
  const m = new RegExp(`^${name}\\s*(?::[^=]*)?=\\s*\\(([^)]*)\\)`, "m").exec(python);
  if (!m) throw new Error(`${name} not found in the vocabulary module`);
  return [...m[1].matchAll(/["']([^"']+)["']/g)].map((x) => x[1]);
}

describe("message vocabulary mirrors the Python vocabulary", () => {
  const kernelTypes = pyTuple("KERNEL_MESSAGE_TYPES");
  const intentTypes = pyTuple("INTENT_TYPES");

  it("parses both tuples", () => {
    expect(kernelTypes).toContain("delta");
    expect(intentTypes).toContain("send");
  });

  it("every kernel message type is handled in the JS dispatch table (and nothing else)", () => {
    for (const t of kernelTypes) expect(typeof KERNEL_HANDLERS[t], t).toBe("function");
    expect(Object.keys(KERNEL_HANDLERS).sort()).toEqual([...kernelTypes].sort());
  });

  it("the JS intent list equals INTENT_TYPES", () => {
    expect([...INTENT_TYPES].sort()).toEqual([...intentTypes].sort());
  });

  it("every intent the JS sends is in INTENT_TYPES, and only sendIntent calls model.send", () => {
    const sent = new Set();
    for (const { text } of sources) {
      // sendIntent(type, ...), or the panel's ctx.state.ask(type, ...) for an intent answered by
      // a message of its own (the comparison widget's state.ask has a vocabulary of its own)
      for (const m of text.matchAll(/(?:sendIntent|ctx\.state\.ask)\(\s*["']([^"']+)["']/g)) sent.add(m[1]);
    }
    expect(sent.size).toBeGreaterThanOrEqual(7);
    for (const t of sent) expect(intentTypes, t).toContain(t);
    for (const t of intentTypes) expect(sent, `${t} is never sent`).toContain(t);
    const senders = sources.filter(({ text }) => /\bmodel\.send\(/.test(text)).map((s) => s.file);
    expect(senders).toEqual(["channel.js"]);
  });

  it("types.d.ts declares the same literals", () => {
    const dts = read("../src/types.d.ts");
    for (const t of [...kernelTypes, ...intentTypes]) expect(dts).toContain(`type: "${t}"`);
  });

  it("an unknown kernel message type is ignored, not thrown", async () => {
    const { fakeModel } = await import("./fake-model.js");
    const { default: widget } = await import("../src/index.js");
    const model = fakeModel();
    const dispose = widget.initialize({ model });
    expect(() => model.emit({ type: "nope" })).not.toThrow();
    expect(() => model.emit(null)).not.toThrow();
    dispose();
  });
});
