/** Deciding whether bytes from the workspace can be edited as text. */

/** Files above this are not opened in the editor (the terminal is better for them). */
export const MAX_EDITABLE_BYTES = 2 * 1024 * 1024;

export type Decoded = { ok: true; text: string } | { ok: false; reason: string };

/** UTF-8 text with no NUL bytes is editable; anything else is refused with a reason. */
export function decodeEditable(bytes: Uint8Array): Decoded {
  if (bytes.byteLength > MAX_EDITABLE_BYTES) {
    return { ok: false, reason: "This file is too large for the editor. Use the terminal instead." };
  }
  if (bytes.includes(0)) {
    return { ok: false, reason: "This looks like a binary file, so it can't be edited here." };
  }
  try {
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { ok: false, reason: "This file isn't UTF-8 text, so it can't be edited here." };
  }
}

/** The smallest single replacement turning `before` into `after` (common prefix and suffix
 * kept), so a reload from disk maps the cursor and selection instead of resetting them. */
export function minimalChange(before: string, after: string): { from: number; to: number; insert: string } | null {
  if (before === after) return null;
  let start = 0;
  const shorter = Math.min(before.length, after.length);
  while (start < shorter && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before.charCodeAt(endBefore - 1) === after.charCodeAt(endAfter - 1)) {
    endBefore--;
    endAfter--;
  }
  return { from: start, to: endBefore, insert: after.slice(start, endAfter) };
}
