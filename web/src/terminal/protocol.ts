/** Wire details of the agent terminal WebSocket (docs/protocol.md §3). */

export const TERMINAL_SUBPROTOCOL = "clarateach.terminal.v1";

/** Close codes the agent uses, and what the client does about each. */
export const CLOSE_TOKEN_EXPIRED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_WORKSHOP_STOPPED = 4410;

/** The token travels in a subprotocol, never the URL (URLs end up in logs). */
export function terminalSubprotocols(token: string): string[] {
  return [TERMINAL_SUBPROTOCOL, `bearer.${token}`];
}

/** `http(s)://host` + seat → `ws(s)://host/seats/N/terminal`. */
export function terminalUrl(endpoint: string, seat: number): string {
  const url = new URL(`${endpoint.replace(/\/+$/, "")}/seats/${seat}/terminal`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export type ServerControl =
  | { type: "hello"; seat: number; readonly: boolean; window: number }
  | { type: "error"; code: string; message: string };

/** Parse a server text frame; unknown or malformed messages are ignored (null). */
export function parseServerControl(text: string): ServerControl | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== "object") return null;
  const m = raw as Record<string, unknown>;
  if (m.type === "hello") {
    return {
      type: "hello",
      seat: typeof m.seat === "number" ? m.seat : 0,
      readonly: m.readonly === true,
      window: typeof m.window === "number" ? m.window : 256 * 1024,
    };
  }
  if (m.type === "error") {
    return {
      type: "error",
      code: typeof m.code === "string" ? m.code : "error",
      message: typeof m.message === "string" ? m.message : "",
    };
  }
  return null;
}

export const resizeMessage = (cols: number, rows: number): string =>
  JSON.stringify({ type: "resize", cols, rows });

export const ackMessage = (bytes: number): string => JSON.stringify({ type: "ack", bytes });
