/**
 * The workshop's end as the learner page sees it: pure functions of the schedule the agent
 * reports (`GET /seats/{seat}/schedule`) and the page's clock.
 *
 * The agent's answer carries its own time, so a learner whose laptop clock is wrong still
 * sees the right countdown: every comparison uses `Date.now() + offsetMs`.
 */

export interface WorkshopSchedule {
  /** Epoch milliseconds. */
  endsAt: number;
  graceEndsAt: number;
  /** Minutes before the end at which learners are warned, e.g. [15, 5]. */
  warningMinutes: number[];
  /** Server time minus client time when the schedule was read. */
  offsetMs: number;
}

export type Phase = "open" | "ending" | "grace" | "over";

function time(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const parsed = Date.parse(value);
  return Number.isFinite(parsed) ? parsed : null;
}

/** The agent's JSON as a schedule, or `null` when there is none (no end configured). */
export function parseSchedule(raw: unknown, clientNow: number): WorkshopSchedule | null {
  if (typeof raw !== "object" || raw === null) return null;
  const body = raw as Record<string, unknown>;
  const endsAt = time(body.ends_at);
  if (endsAt === null) return null;
  const graceEndsAt = time(body.grace_ends_at) ?? endsAt;
  const serverNow = time(body.server_time);
  const warnings = Array.isArray(body.warning_minutes)
    ? body.warning_minutes.filter((m): m is number => typeof m === "number" && m > 0)
    : [];
  return {
    endsAt,
    graceEndsAt: Math.max(graceEndsAt, endsAt),
    warningMinutes: [...warnings].sort((a, b) => b - a),
    offsetMs: serverNow === null ? 0 : serverNow - clientNow,
  };
}

export function phaseAt(schedule: WorkshopSchedule, serverNow: number): Phase {
  if (serverNow >= schedule.graceEndsAt) return "over";
  if (serverNow >= schedule.endsAt) return "grace";
  const first = schedule.warningMinutes[0];
  if (first !== undefined && schedule.endsAt - serverNow <= first * 60_000) return "ending";
  return "open";
}

/** `1:05:09`, `14:59`, `0:07` (never negative). */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${ss}` : `${minutes}:${ss}`;
}

/**
 * The warning threshold (minutes) that is due now and not shown yet: the smallest one whose
 * time has come, so a page opened with 4 minutes left shows the 5-minute warning once, not
 * the 15-minute one after it. `null` when none is due (or the workshop has ended).
 */
export function dueWarning(schedule: WorkshopSchedule, serverNow: number, shown: ReadonlySet<number>): number | null {
  const left = schedule.endsAt - serverNow;
  if (left <= 0) return null;
  const due = schedule.warningMinutes.filter((m) => left <= m * 60_000);
  if (due.length === 0) return null;
  const smallest = Math.min(...due);
  return shown.has(smallest) ? null : smallest;
}
