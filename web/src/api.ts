/**
 * The learner side of the ClaraTeach HTTP API (`POST /api/join`, docs/protocol.md §1).
 *
 * Every failure becomes a `JoinError` whose `kind` the join page maps to one message, so the
 * UI never inspects status codes itself.
 */

export interface JoinRequest {
  /** The workshop code exactly as typed; the server normalises case, spaces and dashes. */
  code: string;
  /** Present when resuming a seat (this device or another). */
  reconnectCode?: string;
  /** Reused for a double-submitted join so the server hands out one seat, not two. */
  clientNonce?: string;
  /** Optional name shown to the instructor (≤ 40 characters; on a rejoin it replaces the old one). */
  displayName?: string;
}

export interface JoinResult {
  token: string;
  endpoint: string;
  seat: number;
  reconnectCode: string;
  workshop: { id: string; name: string };
  /** The workshop's current broadcast when the learner joined (null: none). */
  broadcast?: Broadcast | null;
}

export interface Broadcast {
  message: string;
  sent_at: string;
}

/** A `{message, sent_at}` object of strings, else null. */
export function parseBroadcast(raw: unknown): Broadcast | null {
  const b = raw as Record<string, unknown> | null;
  if (!b || typeof b !== "object" || typeof b.message !== "string" || typeof b.sent_at !== "string") return null;
  return { message: b.message, sent_at: b.sent_at };
}

export type JoinErrorKind =
  | "not_available" // unknown code or workshop not running: deliberately indistinguishable
  | "full"
  | "rate_limited"
  | "invalid_reconnect_code"
  | "invalid_input"
  | "network"
  | "server";

export class JoinError extends Error {
  constructor(
    readonly kind: JoinErrorKind,
    message: string,
    /** Seconds to wait before retrying, from `Retry-After` (rate limiting only). */
    readonly retryAfterSeconds: number | null = null,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = "JoinError";
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** Turn an unsuccessful join response into the `JoinError` the UI understands. */
export function classifyJoinFailure(
  status: number,
  body: ErrorBody | null,
  retryAfterHeader: string | null,
  withReconnectCode: boolean,
): JoinError {
  const code = typeof body?.error?.code === "string" ? body.error.code : "";
  const message = typeof body?.error?.message === "string" ? body.error.message : `HTTP ${status}`;
  if (status === 429 || code === "rate_limited") {
    return new JoinError("rate_limited", message, parseRetryAfter(retryAfterHeader), status);
  }
  if (status === 409 || code === "workshop_full") return new JoinError("full", message, null, status);
  if (code === "invalid_reconnect_code") {
    return new JoinError("invalid_reconnect_code", message, null, status);
  }
  if (code === "workshop_not_available" || code === "invalid_code" || status === 404) {
    // A 404 while presenting a reconnect code with no specific code is still "no such workshop".
    return new JoinError("not_available", message, null, status);
  }
  if (status === 400 || status === 422) {
    return new JoinError(withReconnectCode ? "invalid_reconnect_code" : "invalid_input", message, null, status);
  }
  return new JoinError("server", message, null, status);
}

/** `Retry-After` as seconds: either delta-seconds or an HTTP date; null if absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /** `POST /api/join`; resolves with the seat or rejects with a `JoinError`. */
  async join(request: JoinRequest): Promise<JoinResult> {
    const body: Record<string, string> = { code: request.code };
    if (request.reconnectCode) body.reconnect_code = request.reconnectCode;
    if (request.clientNonce) body.client_nonce = request.clientNonce;
    if (request.displayName?.trim()) body.display_name = request.displayName.trim();
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}/api/join`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
      });
    } catch (exc) {
      throw new JoinError("network", exc instanceof Error ? exc.message : String(exc));
    }
    const parsed = await response.json().catch(() => null);
    if (!response.ok) {
      throw classifyJoinFailure(
        response.status,
        parsed as ErrorBody | null,
        response.headers.get("Retry-After"),
        Boolean(request.reconnectCode),
      );
    }
    return parseJoinResult(parsed);
  }
}

/** Validate the join response shape; a malformed success is a server error, not a crash. */
export function parseJoinResult(raw: unknown): JoinResult {
  const r = (raw ?? {}) as Record<string, unknown>;
  const workshop = (r.workshop ?? {}) as Record<string, unknown>;
  if (
    typeof r.token !== "string" ||
    typeof r.endpoint !== "string" ||
    typeof r.seat !== "number" ||
    typeof r.reconnect_code !== "string" ||
    typeof workshop.id !== "string"
  ) {
    throw new JoinError("server", "The server sent an incomplete join response.");
  }
  return {
    token: r.token,
    endpoint: r.endpoint.replace(/\/+$/, ""),
    seat: r.seat,
    reconnectCode: r.reconnect_code,
    workshop: { id: workshop.id, name: typeof workshop.name === "string" ? workshop.name : workshop.id },
    broadcast: parseBroadcast(r.broadcast),
  };
}
