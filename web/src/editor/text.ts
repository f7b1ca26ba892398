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
