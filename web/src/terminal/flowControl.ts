/**
 * Client half of the terminal flow control (docs/protocol.md §3, the xterm.js model).
 *
 * The agent stops reading the PTY while `sent - acked > window`. We acknowledge bytes only
 * after xterm has *processed* them (its write callback), so a slow browser slows the shell
 * instead of queueing megabytes. Acks are batched: immediately once `threshold` bytes are
 * pending, otherwise after a short timer, so an idle prompt is still fully acknowledged.
 */
export interface AckScheduler {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realScheduler: AckScheduler = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class AckBatcher {
  private pending = 0;
  private timer: unknown = null;

  constructor(
    private readonly sendAck: (bytes: number) => void,
    private threshold = 16 * 1024,
    private readonly delayMs = 20,
    private readonly scheduler: AckScheduler = realScheduler,
  ) {}

  /**
   * Fit the batch size to the agent's window (from `hello`): never hold back more than a
   * quarter of it, so a small window cannot stall on acks waiting for the timer.
   */
  adaptToWindow(windowBytes: number): void {
    if (windowBytes > 0) this.threshold = Math.max(1, Math.min(this.threshold, Math.floor(windowBytes / 4)));
  }

  /** Record that xterm finished processing `bytes` more output bytes. */
  processed(bytes: number): void {
    if (bytes <= 0) return;
    this.pending += bytes;
    if (this.pending >= this.threshold) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = this.scheduler.set(() => {
        this.timer = null;
        this.flush();
      }, this.delayMs);
    }
  }

  /** Send whatever is pending now. */
  flush(): void {
    if (this.timer !== null) {
      this.scheduler.clear(this.timer);
      this.timer = null;
    }
    if (this.pending > 0) {
      const bytes = this.pending;
      this.pending = 0;
      this.sendAck(bytes);
    }
  }

  /** Forget pending bytes (the socket they belonged to is gone; a new one starts at zero). */
  reset(): void {
    if (this.timer !== null) this.scheduler.clear(this.timer);
    this.timer = null;
    this.pending = 0;
  }
}
