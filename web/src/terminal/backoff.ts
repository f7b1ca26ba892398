/**
 * Reconnect delays: exponential with "equal jitter" (half fixed, half random), capped.
 *
 * Thirty learners whose host restarts must not reconnect in lock-step, yet the first retry
 * should be quick enough that a blip is barely visible.
 */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
}

/** Delay before reconnect attempt number `attempt` (0 = first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 500, maxMs = 15_000, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
