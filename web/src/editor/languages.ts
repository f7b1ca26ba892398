/**
 * Syntax highlighting by file extension. Language packs load on first use so the workspace
 * opens without waiting for parsers nobody needs yet.
 */
import type { Extension } from "@codemirror/state";

type Loader = () => Promise<Extension>;

const loaders: Record<string, Loader> = {
  js: async () => (await import("@codemirror/lang-javascript")).javascript(),
  mjs: async () => (await import("@codemirror/lang-javascript")).javascript(),
  cjs: async () => (await import("@codemirror/lang-javascript")).javascript(),
  jsx: async () => (await import("@codemirror/lang-javascript")).javascript({ jsx: true }),
  ts: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true }),
  tsx: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true, jsx: true }),
  py: async () => (await import("@codemirror/lang-python")).python(),
  md: async () => (await import("@codemirror/lang-markdown")).markdown(),
  markdown: async () => (await import("@codemirror/lang-markdown")).markdown(),
  json: async () => (await import("@codemirror/lang-json")).json(),
  html: async () => (await import("@codemirror/lang-html")).html(),
  htm: async () => (await import("@codemirror/lang-html")).html(),
  css: async () => (await import("@codemirror/lang-css")).css(),
};

/** The extension after the last dot of the file name, lower-cased ("" if none). */
export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** The language support for `path`, or an empty extension for plain text. */
export async function languageFor(path: string): Promise<Extension> {
  const load = loaders[extensionOf(path)];
  if (!load) return [];
  try {
    return await load();
  } catch {
    return []; // a failed chunk load must not stop the file from opening
  }
}
