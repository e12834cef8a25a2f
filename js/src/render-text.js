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

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
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
  btn.className = "nbchat-icon-btn nbchat-copy-code";
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
 */
function enhanceCode(root, streaming) {
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    const code = pre.querySelector("code");
    if (!code) continue;
    const m = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
    const lang = m ? m[1].toLowerCase() : "";
    const shown = highlightCode(code, lang, streaming);
    decorate(/** @type {HTMLPreElement} */ (pre), shown || "text");
  }
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
  const frag = sanitizeToFragment(md.render(String(text ?? "")));
  dropLayoutWhitespace(frag);
  enhanceCode(frag, Boolean(opts.streaming));
  return frag;
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
