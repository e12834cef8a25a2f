// Text rendering. Model output is untrusted: markdown is rendered with raw HTML disabled,
// then sanitized by DOMPurify, and only then highlighted (highlight.js output is sanitized
// again to <span class> before it touches the DOM). User text is rendered as text nodes.

import MarkdownIt from "markdown-it";
import createDOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

hljs.registerLanguage("bash", bash);
hljs.registerLanguage("css", css);
hljs.registerLanguage("javascript", javascript);
hljs.registerLanguage("json", json);
hljs.registerLanguage("markdown", markdown);
hljs.registerLanguage("python", python);
hljs.registerLanguage("shell", shell);
hljs.registerLanguage("sql", sql);
hljs.registerLanguage("typescript", typescript);
hljs.registerLanguage("xml", xml); // also html, svg, xhtml...
hljs.registerLanguage("yaml", yaml);

/** Auto-detection runs all registered grammars: skip it for long blocks and while streaming. */
const MAX_AUTO_DETECT = 20_000;
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/** The markdown renderer (exported for tests: its `render` is spied on). */
export const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
// Remote images in model output can exfiltrate data (and track): `![x](url)` renders as a link.
md.disable("image");

/** @type {import("dompurify").DOMPurify | null} */
let purifier = null;

/** The DOMPurify instance of this module (its hooks never leak into other users of DOMPurify). */
function purify() {
  if (purifier) return purifier;
  const p = createDOMPurify(window);
  p.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeName !== "A") return;
    const el = /** @type {Element} */ (node);
    const href = el.getAttribute("href");
    if (href !== null && !isSafeHref(href)) el.removeAttribute("href");
    el.setAttribute("target", "_blank");
    el.setAttribute("rel", "noopener noreferrer");
  });
  purifier = p;
  return p;
}

/**
 * Only absolute http(s) and mailto links survive (relative links would resolve against the
 * Jupyter server).
 * @param {string} href
 */
export function isSafeHref(href) {
  try {
    return SAFE_PROTOCOLS.has(new URL(href.trim()).protocol);
  } catch {
    return false;
  }
}

/** @type {import("dompurify").Config} */
const SANITIZE_CONFIG = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: [
    "style", "script", "iframe", "frame", "frameset", "object", "embed", "form", "input",
    "button", "textarea", "select", "option", "svg", "math", "foreignObject", "link", "meta",
    "base", "img", "picture", "video", "audio", "source", "track", "template", "dialog",
  ],
  FORBID_ATTR: ["style", "srcset", "formaction", "action", "background", "ping", "id", "name"],
  ALLOW_DATA_ATTR: false,
};

/**
 * Sanitize an HTML string into a fragment of the current document.
 * @param {string} html
 * @returns {DocumentFragment}
 */
export function sanitizeToFragment(html) {
  return purify().sanitize(html, { ...SANITIZE_CONFIG, RETURN_DOM_FRAGMENT: true });
}

/**
 * Highlight one `<code>` element in place.
 * @param {HTMLElement} code
 * @param {string} lang
 * @param {boolean} streaming
 */
export function highlightCode(code, lang, streaming) {
  const text = code.textContent ?? "";
  /** @type {string | null} */
  let html = null;
  let detected = lang;
  try {
    if (lang && hljs.getLanguage(lang)) {
      html = hljs.highlight(text, { language: lang, ignoreIllegals: true }).value;
    } else if (!lang && !streaming && text.length <= MAX_AUTO_DETECT) {
      const res = hljs.highlightAuto(text);
      if (res.language && res.relevance >= 5) {
        html = res.value;
        detected = res.language;
      }
    }
  } catch {
    html = null;
  }
  if (html === null) return detected;
  code.replaceChildren(
    purify().sanitize(html, {
      ALLOWED_TAGS: ["span"],
      ALLOWED_ATTR: ["class"],
      RETURN_DOM_FRAGMENT: true,
    }),
  );
  code.classList.add("hljs");
  return detected;
}

/**
 * Wrap a `<pre>` in a code block with a language label and a copy button.
 * @param {HTMLPreElement} pre
 * @param {string} label
 */
function decorate(pre, label) {
  const doc = pre.ownerDocument;
  const wrap = doc.createElement("div");
  wrap.className = "nbchat-code";
  const bar = doc.createElement("div");
  bar.className = "nbchat-code-bar";
  const lang = doc.createElement("span");
  lang.className = "nbchat-code-lang";
  lang.textContent = label;
  const btn = doc.createElement("button");
  btn.type = "button";
  btn.className = "nbchat-text-btn nbchat-copy-code";
  btn.dataset.testid = "copy-code";
  btn.dataset.action = "copy-code";
  btn.setAttribute("aria-label", "Copy code");
  btn.title = "Copy code";
  btn.textContent = "Copy";
  bar.append(lang, btn);
  pre.replaceWith(wrap);
  wrap.append(bar, pre);
}

/**
 * Highlight and decorate every code block under `root`.
 * @param {ParentNode} root
 * @param {boolean} streaming
 * @param {boolean} [lastOpen] the last code block's fence is not closed yet: it is shown as
 *   plain (escaped) code, not highlighted, until it is complete
 */
function enhanceCode(root, streaming, lastOpen = false) {
  const pres = Array.from(root.querySelectorAll("pre"));
  pres.forEach((pre, i) => {
    const code = pre.querySelector("code");
    if (!code) return;
    const m = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
    const lang = m ? m[1].toLowerCase() : "";
    const shown = lastOpen && i === pres.length - 1 ? lang : highlightCode(code, lang, streaming);
    decorate(/** @type {HTMLPreElement} */ (pre), shown || "text");
  });
}

const BLOCK_CONTAINERS = new Set(["UL", "OL", "BLOCKQUOTE", "TABLE", "THEAD", "TBODY", "TFOOT", "TR"]);

/**
 * markdown-it puts "\n" between blocks; those text nodes are layout, not content, and would
 * make the rendered text longer than the reply.
 * @param {Node} node
 */
function dropLayoutWhitespace(node) {
  for (const child of Array.from(node.childNodes)) {
    if (child.nodeType === 3) {
      if (!/\S/.test(child.nodeValue ?? "")) child.remove();
    } else if (BLOCK_CONTAINERS.has(child.nodeName)) {
      // only lists, quotes and tables hold layout whitespace; p/li/pre text is content
      dropLayoutWhitespace(child);
    }
  }
}

/**
 * Render untrusted markdown to a sanitized, highlighted fragment.
 * An unclosed code fence (mid-stream) renders as a code block running to the end.
 * @param {string} text
 * @param {{streaming?: boolean}} [opts]
 * @returns {DocumentFragment}
 */
export function renderMarkdown(text, opts = {}) {
  return renderBlocks(String(text ?? ""), Boolean(opts.streaming), false);
}

/**
 * The one rendering pipeline: markdown-it (html off) -> DOMPurify -> highlight.js.
 * @param {string} text
 * @param {boolean} streaming
 * @param {boolean} openFence the text ends inside a code fence that is not closed yet
 * @returns {DocumentFragment}
 */
function renderBlocks(text, streaming, openFence) {
  const frag = sanitizeToFragment(md.render(text));
  dropLayoutWhitespace(frag);
  enhanceCode(frag, streaming, openFence);
  return frag;
}

// ---- incremental rendering of the reply in progress -----------------------------------------
//
// Re-rendering the whole growing reply on every frame costs O(length) per frame (markdown-it,
// DOMPurify and highlight.js over 20,000 characters take tens of milliseconds). Instead the
// streamed text is cut at its last *stable* block boundary: the start of a line that follows a
// blank line outside any fenced code block and that starts a new top-level block (its first
// character is not blank, so it is not an indented continuation of a list item or an indented
// code block). What comes before a boundary can no longer change how it renders (except for
// constructs that reach across blank lines, such as link reference definitions or loose lists;
// the committed message is rendered once in full, so those come out right in the end). Each
// completed segment is rendered once and its nodes are kept; only the tail after the last
// boundary is rendered again on each frame.

/** A fence line: container markers (`>`, list bullets/numbers) and indentation, then ``` or ~~~. */
const FENCE_OPEN = /^(?:[ \t]*(?:>[ \t]?|[-+*][ \t]+|\d{1,9}[.)][ \t]+))*[ \t]*(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^(?:[ \t]*(?:>[ \t]?))*[ \t]*(`{3,}|~{3,})[ \t]*$/;
const BLANK = /^[ \t\r]*$/;

/**
 * @typedef {{ch: string, len: number} | null} Fence
 */

/**
 * The fence state after one line.
 * @param {Fence} fence the state before the line
 * @param {string} line without its "\n"
 * @returns {Fence}
 */
export function fenceAfter(fence, line) {
  if (fence) {
    const m = FENCE_CLOSE.exec(line);
    return m && m[1][0] === fence.ch && m[1].length >= fence.len ? null : fence;
  }
  const m = FENCE_OPEN.exec(line);
  if (!m) return null;
  const ch = m[1][0];
  // a backtick fence's info string cannot contain a backtick (that is inline code)
  if (ch === "`" && m[2].includes("`")) return null;
  return { ch, len: m[1].length };
}

/**
 * Finds the last stable block boundary of a growing text, scanning each line once.
 */
export class BlockScanner {
  constructor() {
    /** Start of the first line not scanned yet (it has no "\n" yet). */
    this.pos = 0;
    /** @type {Fence} the fence open after the scanned lines */
    this.fence = null;
    /** The last scanned line was blank and outside a fence. */
    this.blank = false;
    /** The last stable boundary (an offset at a line start; 0: none). */
    this.boundary = 0;
  }

  /**
   * Scan what was appended (the text must extend the one scanned before).
   * @param {string} text
   * @returns {number} the last stable boundary
   */
  scan(text) {
    for (;;) {
      const at = this.pos;
      if (this.blank && !this.fence && at < text.length && !/[ \t\r\n]/.test(text[at])) {
        this.boundary = at;
      }
      const nl = text.indexOf("\n", at);
      if (nl < 0) break;
      const line = text.slice(at, nl);
      if (this.fence) {
        this.fence = fenceAfter(this.fence, line);
        this.blank = false;
      } else if (BLANK.test(line)) {
        this.blank = true;
      } else {
        this.fence = fenceAfter(null, line);
        this.blank = false;
      }
      this.pos = nl + 1;
    }
    return this.boundary;
  }

  /**
   * Whether the text ends inside a code fence (its last, unfinished line included: markdown-it
   * closes a fence whose closing line has no "\n" yet).
   * @param {string} text
   */
  openAtEnd(text) {
    const rest = text.slice(this.pos);
    return rest ? fenceAfter(this.fence, rest) !== null : this.fence !== null;
  }
}

/**
 * Renders a growing markdown text into `el` incrementally (see above). Every piece goes through
 * the same pipeline as `renderMarkdown` (markdown-it with html off, DOMPurify, highlight.js).
 */
export class MarkdownStream {
  /** @param {HTMLElement} el */
  constructor(el) {
    this.el = el;
    this.text = "";
    this.scanner = new BlockScanner();
    this.done = 0;
    /** @type {ChildNode[]} */
    this.tail = [];
    this.fresh = true;
    this.stats = { segments: 0, segmentChars: 0, tails: 0, tailChars: 0 };
  }

  /** Start over (the next update replaces everything in `el`). */
  reset() {
    this.text = "";
    this.scanner = new BlockScanner();
    /** End of the text rendered into completed segments. */
    this.done = 0;
    /** @type {ChildNode[]} the nodes of the tail (after the completed segments) */
    this.tail = [];
    /** Nothing of this stream is in `el` yet (it still shows something else). */
    this.fresh = true;
    /** Counters (for tests and benchmarks). */
    this.stats = { segments: 0, segmentChars: 0, tails: 0, tailChars: 0 };
  }

  /**
   * Show `text` (usually the previous text plus what arrived since).
   * @param {string} text
   */
  update(text) {
    if (!text.startsWith(this.text)) this.reset(); // replaced (a snapshot), not extended
    this.text = text;
    const boundary = this.scanner.scan(text);
    const add = document.createDocumentFragment();
    if (boundary > this.done) {
      // a completed segment: rendered once, in full (auto-detected languages included)
      const seg = text.slice(this.done, boundary);
      add.append(renderBlocks(seg, false, false));
      this.stats.segments += 1;
      this.stats.segmentChars += seg.length;
      this.done = boundary;
    }
    const rest = text.slice(this.done);
    /** @type {ChildNode[]} */
    let tail = [];
    if (rest) {
      const frag = renderBlocks(rest, true, this.scanner.openAtEnd(text));
      tail = Array.from(frag.childNodes);
      add.append(frag);
      this.stats.tails += 1;
      this.stats.tailChars += rest.length;
    }
    if (this.fresh) {
      this.el.replaceChildren(add);
      this.fresh = false;
    } else {
      for (const node of this.tail) node.remove();
      this.el.append(add);
    }
    this.tail = tail;
  }
}

/**
 * Render text as text: no markup is interpreted.
 * @param {string} text
 */
export function renderPlain(text) {
  const p = document.createElement("div");
  p.className = "nbchat-plain";
  p.textContent = String(text ?? "");
  return p;
}

/**
 * A code block built from text (never parsed as HTML).
 * @param {string} text
 * @param {string} lang
 */
export function codeBlock(text, lang) {
  const pre = document.createElement("pre");
  const code = document.createElement("code");
  code.textContent = text;
  pre.append(code);
  const frag = document.createDocumentFragment();
  frag.append(pre);
  const shown = highlightCode(code, lang, false);
  decorate(pre, shown || "text");
  return frag;
}

/**
 * A tool request is shown, never executed.
 * @param {import("./types").ToolRequest} tool
 */
export function renderToolRequest(tool) {
  const box = document.createElement("div");
  box.className = "nbchat-tool";
  box.dataset.testid = "tool-request";
  const title = document.createElement("div");
  title.className = "nbchat-tool-title";
  title.textContent = `Tool request: ${String(tool.name ?? "?")} (not executed)`;
  let args = tool.arguments;
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch {
      // keep the raw string
    }
  }
  const body = JSON.stringify({ name: tool.name, arguments: args, id: tool.id ?? null }, null, 2);
  box.append(title, codeBlock(body ?? String(args), "json"));
  return box;
}
