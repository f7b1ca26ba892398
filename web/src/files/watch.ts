/**
 * The page's one live link to the seat's file changes: `WS /seats/N/watch` (docs/protocol.md §3).
 *
 * The token travels as the `bearer.<JWT>` subprotocol, never in the URL. The agent sends
 * `changes` (coalesced workspace-relative paths) or `resync` (too many: list again). After any
 * reconnect the page resyncs too, since changes made while it was away were not sent. A close
 * with 4401 (token expired) or 4403 refreshes the token first; the link stops for good when
 * `stop()` is called or the workshop has ended (`isEnded`).
 */
import { backoffDelay } from "../terminal/backoff";

export const WATCH_SUBPROTOCOL = "clarateach.watch.v1";
const CLOSE_TOKEN_EXPIRED = 4401;
const CLOSE_FORBIDDEN = 4403;

export interface WatchEvents {
  changes(paths: string[]): void;
  resync(): void;
  /** The workspace has more folders than the agent watches live. */
  limited?(): void;
}

export interface WatchSeat {
  readonly session: { endpoint: string; seat: number };
  token(): Promise<string>;
  refresh(): Promise<unknown>;
}

export interface WatchDeps {
  createSocket?: (url: string, protocols: string[]) => WebSocket;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  random?: () => number;
  /** True once the workshop is known to have ended: no more reconnects. */
  isEnded?: () => boolean;
}

export function watchUrl(endpoint: string, seat: number): string {
  const url = new URL(`${endpoint.replace(/\/+$/, "")}/seats/${seat}/watch`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export class WatchConnection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: unknown = null;
  private stopped = false;
  private refreshFirst = false;
  private everOpened = false;
  private readonly createSocket: (url: string, protocols: string[]) => WebSocket;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  constructor(
    private readonly seat: WatchSeat,
    private readonly events: WatchEvents,
    private readonly deps: WatchDeps = {},
  ) {
    this.createSocket = deps.createSocket ?? ((url, protocols) => new WebSocket(url, protocols));
    this.setTimer = deps.setTimer ?? ((fn, ms) => window.setTimeout(fn, ms));
    this.clearTimer = deps.clearTimer ?? ((handle) => window.clearTimeout(handle as number));
  }

  get connected(): boolean {
    return this.socket?.readyState === 1;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.socket) return;
    let token: string;
    try {
      if (this.refreshFirst) await this.seat.refresh();
      this.refreshFirst = false;
      token = await this.seat.token();
    } catch {
      this.retry();
      return;
    }
    if (this.stopped) return;
    const { endpoint, seat } = this.seat.session;
    let socket: WebSocket;
    try {
      socket = this.createSocket(watchUrl(endpoint, seat), [WATCH_SUBPROTOCOL, `bearer.${token}`]);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      if (this.everOpened) this.events.resync(); // changes while away were not sent
      this.everOpened = true;
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket || typeof event.data !== "string") return;
      this.handle(event.data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === CLOSE_TOKEN_EXPIRED || event.code === CLOSE_FORBIDDEN) this.refreshFirst = true;
      this.retry();
    };
    socket.onerror = () => {
      /* followed by close */
    };
  }

  private handle(text: string): void {
    let message: { type?: unknown; paths?: unknown };
    try {
      message = JSON.parse(text) as { type?: unknown; paths?: unknown };
    } catch {
      return;
    }
    if (message.type === "changes" && Array.isArray(message.paths)) {
      this.events.changes(message.paths.filter((p): p is string => typeof p === "string"));
    } else if (message.type === "resync") {
      this.events.resync();
    } else if (message.type === "limited") {
      this.events.limited?.();
    }
  }

  private retry(): void {
    if (this.stopped || this.deps.isEnded?.()) return;
    const delay = backoffDelay(this.attempt, { random: this.deps.random });
    this.attempt += 1;
    this.timer = this.setTimer(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }
}

/** Which of `open` (open tab paths) are affected by `changed` paths (a dir covers its insides). */
export function affectedPaths(open: Iterable<string>, changed: string[]): string[] {
  const hits: string[] = [];
  for (const path of open) {
    if (changed.some((c) => c === path || path.startsWith(`${c}/`))) hits.push(path);
  }
  return hits;
}

/** Whether a tree showing the root and the `expanded` folders must re-list after `changed`. */
export function treeAffected(expanded: ReadonlySet<string>, changed: string[]): boolean {
  return changed.some((path) => {
    const i = path.lastIndexOf("/");
    const parent = i < 0 ? "" : path.slice(0, i);
    return parent === "" || expanded.has(parent);
  });
}
