import { afterEach, describe, expect, it, vi } from "vitest";
import { BlockScanner, MarkdownStream, md, renderMarkdown } from "../src/render-text.js";
import { chat, frame, message, startStreaming, setup, unmountAll } from "./helpers.js";

afterEach(unmountAll);

/** A small deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cut text into pieces of 1..max characters. */
function pieces(text, seed, max = 40) {
  const rand = rng(seed);
  const out = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(rand() * max);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

const oneShot = (text) => {
  const div = document.createElement("div");
  div.append(renderMarkdown(text));
  return div.innerHTML;
};

/** Like the benchmark's reply: headings, paragraphs, lists, fenced code, quotes. */
function benchReply(sections) {
  const para =
    "Streaming sends the reply as **many small pieces** while it is generated. Each piece is a " +
    "`delta`; the panel *coalesces* them. See https://example.com/docs for details. ";
  let out = "";
  for (let i = 0; i < sections; i++) {
    out += `## Section ${i}\n\n${para}${para}\n\n`;
    out += `- item ${i}.1 with \`code\`\n- item ${i}.2 and a [link](https://example.com/${i})\n  1. nested one\n  2. nested two\n\n`;
    out +=
      i % 2 === 0
        ? "```python\ndef tokens(text: str) -> list[str]:\n    out = []\n\n    for w in text.split():\n        out.append(w)\n    return out\n```\n\n"
        : "```js\nconst x = [1, 2, 3].map((n) => n * 2);\n```\n\n";
    out += `> A quote in section ${i}, with _emphasis_.\n\n`;
  }
  return out;
}

/** Constructs that reach across blank lines or confuse a naive fence scanner. */
const TRICKY = [
  "# Title\n\nSome [ref link][r1] and a footnote-ish [x].\n\n",
  "1. loose item one\n\n2. loose item two\n\n   continued paragraph of item two\n\n3. three\n\n",
  "- tight\n- list\n\n    indented code after a list?\n\n",
  "~~~~markdown\n```\nnot a closing fence for ~~~~\n\n```\n~~~\n~~~~\n\n",
  "````\n```js\ninner\n```\n\n````\n\n",
  "> quote\n>\n> ```py\n> x = 1\n>\n> ```\n\n",
  "- item with code:\n\n  ```bash\n  echo hi\n\n  echo there\n  ```\n\n- next item\n\n",
  "Inline ```not a fence``` here.\n\n```\nno language\n\nstill code\n```\n\n",
  "    indented code\n\n    more indented code\n\nText\n===\n\n",
  "| a | b |\n|---|---|\n| 1 | 2 |\n\n",
  "[r1]: https://example.com/ref\n\nThe end with a trailing line",
].join("");

describe("BlockScanner: the last stable block boundary", () => {
  const boundary = (text) => new BlockScanner().scan(text);

  it("is the start of a top-level line after a blank line outside a fence", () => {
    expect(boundary("a\n\nb")).toBe(3);
    expect(boundary("a\n\n")).toBe(0); // the next block has not started
    expect(boundary("a\n\n  b")).toBe(0); // indented: may continue the previous block
    expect(boundary("a\nb\n\n\nc\n\nd")).toBe(9);
  });

  it("tracks ``` and ~~~ fences of 3+ characters and their closing", () => {
    expect(boundary("```\ncode\n\nmore")).toBe(0);
    expect(boundary("```\ncode\n```\n\nafter")).toBe(14);
    expect(boundary("~~~~\n```\n\nx\n~~~\n\nstill code\n~~~~\n\nout")).toBe(34);
    expect(boundary("````\n```\n\nin")).toBe(0); // a shorter fence does not close
    expect(boundary("```js\nx\n~~~\n\nin")).toBe(0); // another character does not close
    expect(boundary("```js\nx\n``` not a close\n\nin")).toBe(0);
    expect(boundary("a ```inline``` b\n\nc")).toBe(18); // not a fence: info has a backtick
    expect(boundary("- ```\n  x\n\n  y\n  ```\n\nz")).toBe(22); // a fence in a list item
  });

  it("scans incrementally: any split gives the same boundary", () => {
    const text = benchReply(3) + TRICKY;
    for (const seed of [1, 2, 3]) {
      const s = new BlockScanner();
      let acc = "";
      for (const p of pieces(text, seed)) {
        acc += p;
        expect(s.scan(acc)).toBe(boundary(acc));
      }
    }
  });

  it("knows whether the text ends inside a fence (a closing line without \\n closes it)", () => {
    const open = (t) => {
      const s = new BlockScanner();
      s.scan(t);
      return s.openAtEnd(t);
    };
    expect(open("```py\nx = 1\n")).toBe(true);
    expect(open("```py\nx = 1\n``")).toBe(true);
    expect(open("```py\nx = 1\n```")).toBe(false);
    expect(open("```py")).toBe(true);
    expect(open("text ``")).toBe(false);
  });
});

describe("MarkdownStream: incremental rendering of the reply in progress", () => {
  it("renders completed segments once and re-renders only the tail", () => {
    const el = document.createElement("div");
    const s = new MarkdownStream(el);
    const render = vi.spyOn(md, "render");
    s.update("First paragraph.\n\nSecond");
    const first = el.querySelector("p");
    expect(first.textContent).toBe("First paragraph.");
    expect(render.mock.calls.map((c) => c[0])).toEqual(["First paragraph.\n\n", "Second"]);
    render.mockClear();
    s.update("First paragraph.\n\nSecond paragraph.\n\n```py\nx = 1\n");
    s.update("First paragraph.\n\nSecond paragraph.\n\n```py\nx = 1\n```\n\nThird");
    // the first paragraph was not rendered again, its node is kept
    expect(render.mock.calls.some((c) => c[0].includes("First"))).toBe(false);
    expect(el.querySelector("p")).toBe(first);
    expect(el.innerHTML).toBe(oneShot("First paragraph.\n\nSecond paragraph.\n\n```py\nx = 1\n```\n\nThird"));
  });

  it("over a long reply each completed segment is rendered once (linear, not quadratic)", () => {
    const text = benchReply(20);
    const el = document.createElement("div");
    const s = new MarkdownStream(el);
    const render = vi.spyOn(md, "render");
    let frames = 0;
    for (let i = 120; i < text.length + 120; i += 120) {
      s.update(text.slice(0, i));
      frames += 1;
    }
    // the segments partition the text: every completed character was rendered exactly once
    const last = new BlockScanner().scan(text);
    expect(s.stats.segmentChars).toBe(last);
    const rendered = render.mock.calls.reduce((n, c) => n + c[0].length, 0);
    expect(rendered).toBe(s.stats.segmentChars + s.stats.tailChars);
    // a full re-render per frame would pass ~frames * length / 2 characters to markdown-it
    expect(rendered).toBeLessThan(3 * text.length);
    expect(frames * text.length / 2).toBeGreaterThan(20 * rendered);
    // and the result is the one-shot render (this reply has no construct spanning blank lines)
    expect(el.innerHTML).toBe(oneShot(text));
  });

  it("random splits of block-local markdown end in exactly the one-shot DOM", () => {
    const text = benchReply(4);
    for (const seed of [7, 8, 9, 10]) {
      const el = document.createElement("div");
      const s = new MarkdownStream(el);
      let acc = "";
      for (const p of pieces(text, seed, 80)) {
        acc += p;
        s.update(acc);
      }
      expect(el.innerHTML).toBe(oneShot(text));
    }
  });

  it("a replaced (not extended) text starts over", () => {
    const el = document.createElement("div");
    const s = new MarkdownStream(el);
    s.update("old one\n\nold two");
    s.update("new");
    expect(el.innerHTML).toBe(oneShot("new"));
  });

  it("an unfinished code block is plain escaped code until its fence closes", () => {
    const el = document.createElement("div");
    const s = new MarkdownStream(el);
    const highlight = vi.spyOn(md, "render");
    let text = "Intro\n\n~~~~python\ndef f(x):\n    return '<b>' # ```\n```\n\n";
    s.update(text);
    let code = el.querySelector("pre code");
    expect(code.classList.contains("hljs")).toBe(false);
    expect(code.children).toHaveLength(0); // text only, no highlight spans
    expect(code.textContent).toBe("def f(x):\n    return '<b>' # ```\n```\n\n");
    expect(el.querySelector(".nbchat-code-lang").textContent).toBe("python");
    text += "x = 2\n~~~~";
    s.update(text);
    code = el.querySelector("pre code");
    expect(code.classList.contains("hljs")).toBe(true);
    expect(code.querySelector(".hljs-keyword")?.textContent).toBe("def");
    text += "\n\nAfter.";
    s.update(text);
    expect(el.innerHTML).toBe(oneShot(text));
    expect(highlight).toHaveBeenCalled();
  });
});

describe("the reply in progress in the panel", () => {
  /** Stream `text` in random pieces, a frame after some of them; returns the live content. */
  async function stream(model, el, text, seed, onFrame = () => {}) {
    const rand = rng(seed * 31);
    let seq = 0;
    for (const p of pieces(text, seed)) {
      seq += 1;
      model.emit({ type: "delta", request_id: "r1", seq, text: p });
      if (rand() < 0.5) {
        await frame();
        onFrame(el);
      }
    }
    await frame();
    onFrame(el);
    return el.querySelector('.nbchat-msg[data-streaming="true"] [data-testid="content"]');
  }

  const commit = (model, text) =>
    model.update({
      ...chat([message({ id: "a1", content: text, finish_reason: "stop" })]),
      streaming: {},
      status: "idle",
    });

  for (const [name, text] of [
    ["block-local markdown", benchReply(3)],
    ["markdown with constructs spanning blank lines", TRICKY],
    ["both", benchReply(2) + TRICKY + benchReply(1)],
  ]) {
    it(`streamed in random pieces, then committed, equals a one-shot render: ${name}`, async () => {
      for (const seed of [1, 2]) {
        const { model, el, $ } = setup();
        startStreaming(model, "r1", "a1");
        const live = await stream(model, el, text, seed);
        expect(live.textContent.length).toBeGreaterThan(0);
        expect(live.closest(".nbchat-msg").dataset.streaming).toBe("true");
        commit(model, text);
        await frame();
        expect($('[data-streaming="true"]')).toBeNull();
        expect($('[data-id="a1"] [data-testid="content"]').innerHTML).toBe(oneShot(text));
      }
    });
  }

  it("keeps the nodes of completed blocks across frames; completed code blocks have copy buttons", async () => {
    const { model, $ } = setup();
    startStreaming(model);
    model.emit({ type: "delta", request_id: "r1", seq: 1, text: "Para one.\n\n```js\nconst a = 1;\n```\n\nPara" });
    await frame();
    const content = $('[data-streaming="true"] [data-testid="content"]');
    const p = content.querySelector("p");
    const block = content.querySelector(".nbchat-code");
    expect(block.querySelector('[data-testid="copy-code"]')).not.toBeNull();
    expect(block.querySelector(".hljs-keyword")?.textContent).toBe("const");
    const render = vi.spyOn(md, "render");
    model.emit({ type: "delta", request_id: "r1", seq: 2, text: " two." });
    await frame();
    expect(render.mock.calls.map((c) => c[0])).toEqual(["Para two."]);
    expect(content.querySelector("p")).toBe(p);
    expect(content.querySelector(".nbchat-code")).toBe(block);
    expect(content.lastElementChild.textContent).toBe("Para two.");
  });

  it("hostile HTML split across pieces never yields a handler, script or javascript: link", async () => {
    const parts = [
      "Look: <img src=x onerr", "or=alert(1)> and <a href=\"javas", "cript:alert(1)\" oncl",
      "ick=\"x\">hi</a>\n\n[x](javas", "cript:alert(1)) <scr", "ipt>window.__pwned=1</scr", "ipt>\n\n",
      "```html\n<svg onl", "oad=alert(1)><img src=x onerror=alert(1)>\n", "```\n\n<ifr",
      "ame srcdoc=\"<script>parent.__pwned=1</script>\"></iframe> <b style=\"x\" on", "mouseover=alert(1)>b</b>",
    ];
    const check = (root) => {
      // (the panel's own icons are SVG, built node by node, and never inside a message's content)
      expect(root.querySelector("img, script, svg:not(.nbchat-icon), iframe, style")).toBeNull();
      expect(root.querySelector("[data-testid=content] svg")).toBeNull();
      for (const node of root.querySelectorAll("*")) {
        for (const a of node.attributes) {
          expect(a.name.startsWith("on"), `${node.tagName} ${a.name}`).toBe(false);
          expect(/^\s*(javascript|data|vbscript):/i.test(a.value), `${node.tagName} ${a.name}=${a.value}`).toBe(false);
        }
      }
      expect(window.__pwned).toBeUndefined();
    };
    // in the panel, a frame after every piece
    const { model, el } = setup();
    startStreaming(model);
    let seq = 0;
    for (const p of parts) {
      seq += 1;
      model.emit({ type: "delta", request_id: "r1", seq, text: p });
      await frame();
      check(el);
    }
    // and every prefix, character by character
    const text = parts.join("");
    const box = document.createElement("div");
    const s = new MarkdownStream(box);
    for (let i = 1; i <= text.length; i++) {
      s.update(text.slice(0, i));
      check(box);
    }
    expect(box.textContent).toContain("onerror=alert(1)"); // shown as text
  });
});
