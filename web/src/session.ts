/**
 * The learner's seat, remembered in localStorage so returning to the page resumes it.
 *
 * Holds the workshop code and reconnect code (to re-join and refresh the token), and the
 * current token and agent endpoint. Nothing here is sent anywhere except the API and agent.
 */
import { type Broadcast, type JoinResult, parseBroadcast } from "./api";
import { tokenExpiry } from "./jwt";

export interface SeatSession {
  workshopId: string;
  workshopName: string;
  /** The workshop code as the learner typed it (the server normalises it). */
  code: string;
  seat: number;
  reconnectCode: string;
  token: string;
  /** Workspace agent base URL, e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  /** Token expiry, epoch milliseconds (0 if unreadable). */
  expiresAt: number;
  /** The broadcast current at the last join (the page shows it if its host has none newer). */
  broadcast?: Broadcast | null;
}

const STORAGE_KEY = "clarateach.session.v1";

/** Build the stored session from a successful join. */
export function sessionFromJoin(code: string, result: JoinResult): SeatSession {
  return {
    workshopId: result.workshop.id,
    workshopName: result.workshop.name,
    code,
    seat: result.seat,
    reconnectCode: result.reconnectCode,
    token: result.token,
    endpoint: result.endpoint,
    expiresAt: tokenExpiry(result.token),
    broadcast: result.broadcast ?? null,
  };
}

/** The workshop code as people expect to read it back: upper case, spaces as the dash. */
export function displayCode(code: string): string {
  return code.trim().toUpperCase().replace(/\s+/g, "-");
}

/** True when the token is missing or lapses within `marginMs`. */
export function needsRefresh(session: SeatSession, now: number = Date.now(), marginMs = 120_000): boolean {
  return !session.token || session.expiresAt - marginMs <= now;
}

export class SessionStore {
  constructor(private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem">) {}

  load(): SeatSession | null {
    let raw: string | null;
    try {
      raw = this.storage.getItem(STORAGE_KEY);
    } catch {
      return null; // storage disabled (private mode, policy): behave as a first visit
    }
    if (!raw) return null;
    try {
      const s = JSON.parse(raw) as Partial<SeatSession>;
      if (
        typeof s.workshopId === "string" &&
        typeof s.code === "string" &&
        typeof s.seat === "number" &&
        typeof s.reconnectCode === "string" &&
        typeof s.token === "string" &&
        typeof s.endpoint === "string"
      ) {
        return {
          workshopId: s.workshopId,
          workshopName: typeof s.workshopName === "string" ? s.workshopName : s.workshopId,
          code: s.code,
          seat: s.seat,
          reconnectCode: s.reconnectCode,
          token: s.token,
          endpoint: s.endpoint,
          expiresAt: typeof s.expiresAt === "number" ? s.expiresAt : 0,
          broadcast: parseBroadcast(s.broadcast),
        };
      }
    } catch {
      /* corrupt entry: fall through and forget it */
    }
    this.clear();
    return null;
  }

  save(session: SeatSession): void {
    try {
      this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    } catch {
      /* storage full or disabled: the session still works for this page load */
    }
  }

  clear(): void {
    try {
      this.storage.removeItem(STORAGE_KEY);
    } catch {
      /* nothing to clear */
    }
  }
}
