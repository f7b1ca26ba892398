/**
 * A guide page's Markdown as safe DOM: `marked` renders it, DOMPurify sanitises the result
 * into a fragment (never assigned through innerHTML here). A content pack is untrusted on the
 * learner's origin: no script, event handler, frame, form, style or `javascript:` URL
 * survives; links open in a new tab without an opener or referrer.
 */
import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false, async: false });

const FORBID_TAGS = ["style", "iframe", "frame", "object", "embed", "form", "input", "button", "textarea", "select", "link", "meta", "base", "svg", "math"];
const FORBID_ATTR = ["style", "srcset", "formaction", "action", "target"];
const SAFE_URL = /^(https?:|mailto:|#)/i;

export function renderMarkdown(markdown: string): DocumentFragment {
  const html = marked.parse(markdown) as string;
  const fragment = DOMPurify.sanitize(html, {
    RETURN_DOM_FRAGMENT: true,
    FORBID_TAGS,
    FORBID_ATTR,
    ALLOW_DATA_ATTR: false,
  });
  for (const link of Array.from(fragment.querySelectorAll("a"))) {
    const href = link.getAttribute("href") ?? "";
    if (!SAFE_URL.test(href.trim())) link.removeAttribute("href");
    else if (!href.startsWith("#")) {
      link.setAttribute("target", "_blank");
      link.setAttribute("rel", "noopener noreferrer");
    }
  }
  for (const image of Array.from(fragment.querySelectorAll("img"))) {
    const src = image.getAttribute("src") ?? "";
    if (!/^https:/i.test(src.trim())) image.removeAttribute("src");
    image.setAttribute("referrerpolicy", "no-referrer");
    image.setAttribute("loading", "lazy");
  }
  return fragment;
}
