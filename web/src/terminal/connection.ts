/**
 * One learner's terminal link to the workspace agent, kept alive across network blips.
 *
 * State machine (shown to the learner):
 *   connecting ──open──▶ connected ──drop──▶ reconnecting ──open──▶ connected …
 *        └──────────────┴──── workshop stopped / seat gone / stop() ──▶ disconnected (final)
 *
 * On every (re)connect the agent replays the screen, so the sink is reset before the first
 * byte of the new socket. Output is acknowledged only once the sink has processed it
 * (flow control, see flowControl.ts). The token is offered as a subprotocol, never in the URL.
 */
import { backoffDelay } from "./backoff";
import { AckBatcher } from "./flowControl";
import {
  ackMessage,
  CLOSE_FORBIDDEN,
  CLOSE_TOKEN_EXPIRED,
  CLOSE_WORKSHOP_STOPPED,
  parseServerControl,
  resizeMessage,
  terminalSubprotocols,
  terminalUrl,
} from "./protocol";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

export interface StateChange {
  state: ConnectionState;
  /** Human explanation (why we are reconnecting or disconnected). */
  detail?: string;
  /** When reconnecting: milliseconds until the next attempt. */
  retryInMs?: number;
  /** When connected: the agent marked this viewer read-only. */
  readonly?: boolean;
}

/** Where terminal output goes (xterm in the app, a recorder in tests). */
export interface TerminalSink {
  /** Clear the screen and modes: the agent is about to replay the current screen. */
  reset(): void;
  /** Render `data`; call `done` once it has been processed (drives acks). */
  write(data: Uint8Array, done: () => void): void;
}

/** What the connection needs from the seat (see seat.ts). */
export interface SeatAccess {
  readonly session: { endpoint: string; seat: number };
  token(): Promise<string>;
  refresh(): Promise<unknown>;
}

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface ConnectionOptions {
  seat: SeatAccess;
  sink: TerminalSink;
  onState: (change: StateChange) => void;
  /** Decide whether a failed token refresh means the seat is gone for good. */
  isPermanentLoss: (error: unknown) => boolean;
  createSocket?: (url: string, protocols: string[]) => WebSocket;
  timers?: Timers;
  random?: () => number;
}

const defaultTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** `WebSocket.OPEN`, spelled out so the module also runs where there is no WebSocket global. */
const SOCKET_OPEN = 1;

/** After this many attempts that never opened, re-join before retrying (the token may be refused). */
const REFRESH_AFTER_FAILED_OPENS = 2;

export class TerminalConnection {
  private socket: WebSocket | null = null;
  private state: ConnectionState = "connecting";
  private attempt = 0;
  private failedOpens = 0;
  private refreshBeforeNext = false;
  private retryTimer: unknown = null;
  private stopped = false;
  /** A 4401 reconnects at once only the first time after a good hello (no tight loop). */
  private refreshedSinceHello = false;
  /** The agent's last `error` control message; explains the close that follows it. */
  private lastServerError = "";
  private size: { cols: number; rows: number } | null = null;
  private readonly acks: AckBatcher;
  private readonly timers: Timers;
  private readonly createSocket: (url: string, protocols: string[]) => WebSocket;

  constructor(private readonly options: ConnectionOptions) {
    this.timers = options.timers ?? defaultTimers;
    this.createSocket = options.createSocket ?? ((url, protocols) => new WebSocket(url, protocols));
    this.acks = new AckBatcher((bytes) => this.sendText(ackMessage(bytes)), 16 * 1024, 20, this.timers);
  }

  get currentState(): ConnectionState {
    return this.state;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  /** Skip the backoff wait (the learner clicked "Reconnect", or the browser came back online). */
  retryNow(): void {
    if (this.stopped || this.socket) return;
    this.clearRetry();
    this.attempt = 0;
    void this.connect();
  }

  /** Keystrokes / pasted bytes. Dropped while disconnected: stale keystrokes are worse than none. */
  sendInput(data: Uint8Array): void {
    if (this.socket?.readyState === SOCKET_OPEN) this.socket.send(data);
  }

  /** Remember the size and tell the agent (also re-sent on every reconnect). */
  resize(cols: number, rows: number): void {
    this.size = { cols, rows };
    this.sendText(resizeMessage(cols, rows));
  }

  /** Close for good (leaving the page or the seat). */
  stop(): void {
    this.stopped = true;
    this.clearRetry();
    this.acks.reset();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "client leaving");
    this.setState({ state: "disconnected" }); // the learner chose this: nothing to explain
  }

  private async connect(): Promise<void> {
    this.setState({ state: this.attempt === 0 && this.failedOpens === 0 ? "connecting" : "reconnecting" });
    let token: string;
    try {
      if (this.refreshBeforeNext) {
        this.refreshBeforeNext = false;
        await this.options.seat.refresh();
      }
      token = await this.options.seat.token();
    } catch (error) {
      if (this.options.isPermanentLoss(error)) {
        this.finish("This workshop is no longer running.");
      } else {
        this.scheduleRetry("Can't reach the ClaraTeach server.");
      }
      return;
    }
    if (this.stopped) return;
    const { endpoint, seat } = this.options.seat.session;
    let socket: WebSocket;
    try {
      socket = this.createSocket(terminalUrl(endpoint, seat), terminalSubprotocols(token));
    } catch {
      this.scheduleRetry("Can't open a connection to your workspace.");
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.attempt = 0;
      this.failedOpens = 0;
      this.acks.reset();
      this.options.sink.reset();
      if (this.size) socket.send(resizeMessage(this.size.cols, this.size.rows));
      this.setState({ state: "connected" });
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      if (typeof event.data === "string") {
        this.handleControl(event.data);
        return;
      }
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      this.options.sink.write(bytes, () => {
        if (this.socket === socket) this.acks.processed(bytes.byteLength);
      });
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.acks.reset();
      if (this.stopped) return;
      this.handleClose(event.code, event.reason, opened);
    };
    socket.onerror = () => {
      /* always followed by close, which decides what to do */
    };
  }

  private handleControl(text: string): void {
    const message = parseServerControl(text);
    if (message?.type === "hello") {
      this.acks.adaptToWindow(message.window);
      this.refreshedSinceHello = false;
      this.setState({ state: "connected", readonly: message.readonly });
    } else if (message?.type === "error") {
      this.lastServerError = message.message || message.code;
    }
  }

  private handleClose(code: number, reason: string, opened: boolean): void {
    const serverSaid = this.lastServerError || reason;
    this.lastServerError = "";
    if (code === CLOSE_WORKSHOP_STOPPED) {
      this.finish("The instructor has stopped this workshop.");
      return;
    }
    if (code === CLOSE_TOKEN_EXPIRED) {
      this.refreshBeforeNext = true;
      if (!this.refreshedSinceHello) {
        this.refreshedSinceHello = true;
        this.attempt = 0;
        void this.connect();
        return;
      }
    }
    if (code === CLOSE_FORBIDDEN) this.refreshBeforeNext = true;
    if (!opened) {
      this.failedOpens += 1;
      if (this.failedOpens % REFRESH_AFTER_FAILED_OPENS === 0) this.refreshBeforeNext = true;
    }
    this.scheduleRetry(serverSaid || "Connection to your workspace was lost.");
  }

  private scheduleRetry(detail: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, { random: this.options.random });
    this.attempt += 1;
    this.setState({ state: "reconnecting", detail, retryInMs: delay });
    this.clearRetry();
    this.retryTimer = this.timers.set(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  private finish(detail: string): void {
    this.stopped = true;
    this.clearRetry();
    this.setState({ state: "disconnected", detail });
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.timers.clear(this.retryTimer);
    this.retryTimer = null;
  }

  private sendText(text: string): void {
    if (this.socket?.readyState === SOCKET_OPEN) this.socket.send(text);
  }

  private setState(change: StateChange): void {
    this.state = change.state;
    this.options.onState(change);
  }
}
