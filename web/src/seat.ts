/**
 * The live seat: the current session plus single-flight token refresh.
 *
 * The terminal and the files client both ask `seat.token()` before talking to the agent and
 * call `seat.refresh()` when the agent says the token is no longer good (HTTP 401, close 4401).
 * Refresh re-joins with the reconnect code, which returns the same seat with a fresh token
 * (and the current endpoint: readers take `seat.session` afresh on every connect/request).
 */
import { ApiClient, JoinError } from "./api";
import { needsRefresh, sessionFromJoin, type SeatSession, SessionStore } from "./session";

export class Seat {
  private inflight: Promise<SeatSession> | null = null;

  constructor(
    private current: SeatSession,
    private readonly api: ApiClient,
    private readonly store: SessionStore,
  ) {}

  get session(): SeatSession {
    return this.current;
  }

  /** A token that is valid for at least a couple of minutes, refreshing first if needed. */
  async token(): Promise<string> {
    if (needsRefresh(this.current)) await this.refresh();
    return this.current.token;
  }

  /**
   * Re-join with the reconnect code. Concurrent callers share one request.
   * Rejects with `JoinError` (`not_available` means the workshop has ended).
   */
  refresh(): Promise<SeatSession> {
    if (!this.inflight) {
      this.inflight = this.api
        .join({ code: this.current.code, reconnectCode: this.current.reconnectCode })
        .then((result) => {
          const next = sessionFromJoin(this.current.code, result);
          this.current = next;
          this.store.save(next);
          return next;
        })
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }
}

/** Whether a refresh failure means the seat is gone for good (vs. try again later). */
export function isPermanentSeatLoss(error: unknown): boolean {
  return (
    error instanceof JoinError && (error.kind === "not_available" || error.kind === "invalid_reconnect_code")
  );
}
