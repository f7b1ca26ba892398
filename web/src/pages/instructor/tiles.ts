/**
 * Pure seat-tile rules: what one tile says, and which tiles a filter keeps. No DOM here, so
 * the rules are unit-tested (web/test/cockpit.test.ts).
 */
import type { ModelErrors, Progress, RoomSeat, SeatActivity, SeatProgress } from "./client";

export type SeatState = "free" | "joined" | "connected" | "disconnected";

export interface Tile {
  seat: number;
  state: SeatState;
  /** The learner's display name (text only), or null. */
  name: string | null;
  host: number | null;
  /** Seconds since the learner's last keystroke (null: never, or unknown). */
  idleSeconds: number | null;
  foreground: string | null;
  shadows: number;
  requests: number;
  tokens: number;
  costUsd: number;
  budgetUsd: number | null;
  budgetShare: number | null;
  hand: { text: string; waited: number } | null;
  /** Content pack progress: "step 3/5 · 2✓" (null: no pack, or nothing reported). */
  step: string | null;
  stepTitle: string | null;
  modelPaused: boolean;
  errors: ModelErrors;
  /** Sum of the model error counters. */
  errorCount: number;
}

export interface Filters {
  disconnected: boolean;
  /** Keep seats idle for more than this many minutes (null: off). */
  idleMinutes: number | null;
  overBudget: boolean;
  raisedHand: boolean;
  /** Keep seats with at least one model error. */
  modelErrors: boolean;
}

export const NO_FILTERS: Filters = {
  disconnected: false,
  idleMinutes: null,
  overBudget: false,
  raisedHand: false,
  modelErrors: false,
};
export const NO_ERRORS: ModelErrors = {
  upstream_unreachable: 0,
  key_refused: 0,
  budget_refused: 0,
  rate_refused: 0,
  paused_refused: 0,
};
const ERROR_WORDS: [keyof ModelErrors, string][] = [
  ["upstream_unreachable", "unreachable"],
  ["key_refused", "key refused"],
  ["budget_refused", "over budget"],
  ["rate_refused", "rate-limited"],
  ["paused_refused", "paused"],
];

/** "2 unreachable, 1 key refused" ("" without errors); the same words as the CLI. */
export function errorSummary(errors: ModelErrors): string {
  return ERROR_WORDS.filter(([k]) => errors[k] > 0)
    .map(([k, word]) => `${errors[k]} ${word}`)
    .join(", ");
}
export const BUDGET_WARNING = 0.8;

/** `activity` is undefined when the seat's host could not be asked (then "joined"). */
export function tileFor(seat: RoomSeat, activity: SeatActivity | undefined, progress?: Progress | null): Tile {
  let state: SeatState = "free";
  if (seat.claimed) {
    if (activity === undefined) state = "joined";
    else state = activity.sockets > 0 ? "connected" : "disconnected";
  }
  // Stored counters (last usage report) and the host's live ones: counters only grow, so the
  // larger is the fresher; the live view shows an error within a second.
  const errors = { ...NO_ERRORS, ...(seat.errors ?? {}) };
  const live = activity?.model?.errors;
  if (live) for (const k of Object.keys(errors) as (keyof ModelErrors)[]) errors[k] = Math.max(errors[k], live[k] ?? 0);
  return {
    seat: seat.seat,
    state,
    name: seat.claim?.display_name ?? null,
    host: seat.claim?.host ?? null,
    idleSeconds: activity?.input_age ?? null,
    foreground: activity?.foreground ?? null,
    shadows: activity?.shadows ?? 0,
    requests: seat.requests,
    tokens: seat.tokens,
    costUsd: seat.cost_usd,
    budgetUsd: seat.budget_usd,
    budgetShare: seat.budget_share,
    hand: activity?.hand ?? null,
    ...stepOf(seat.seat, progress ?? null),
    modelPaused: seat.model_paused ?? false, // the workshop-wide pause shows in the grid header
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
  };
}

/** The tile's step line: 1-based step of the pack and how many checks passed. */
export function stepOf(seat: number, progress: Progress | null): { step: string | null; stepTitle: string | null } {
  const steps = progress?.content?.steps ?? [];
  if (!Array.isArray(steps) || !steps.length || !Array.isArray(progress?.seats)) return { step: null, stepTitle: null };
  const entry: SeatProgress | undefined = progress.seats.find((s) => s.seat === seat);
  if (!entry) return { step: null, stepTitle: null };
  const index = Math.min(entry.step, steps.length - 1);
  const passed = entry.checks_passed.length;
  return {
    step: `step ${index + 1}/${steps.length}` + (passed ? ` · ${passed}✓` : ""),
    stepTitle: `${steps[index].title}; checks passed: ${entry.checks_passed.join(", ") || "none"}`,
  };
}

/** Histogram rows: label, seat count and bar width (percent of the busiest step). */
export function histogramRows(progress: Progress | null): { label: string; seats: number; width: number }[] {
  const rows = Array.isArray(progress?.histogram) ? progress.histogram : [];
  const most = Math.max(1, ...rows.map((r) => r.seats));
  return rows.map((r) => ({ label: `${r.step + 1}. ${r.title}`, seats: r.seats, width: Math.round((100 * r.seats) / most) }));
}

export function keep(tile: Tile, filters: Filters): boolean {
  if (filters.disconnected && tile.state !== "disconnected") return false;
  if (filters.idleMinutes !== null) {
    if (tile.state === "free") return false;
    if (tile.idleSeconds !== null && tile.idleSeconds <= filters.idleMinutes * 60) return false;
  }
  if (filters.overBudget && !(tile.budgetShare !== null && tile.budgetShare >= BUDGET_WARNING)) return false;
  if (filters.raisedHand && tile.hand === null) return false;
  if (filters.modelErrors && tile.errorCount === 0) return false;
  return true;
}

/** The help queue: raised hands, longest wait first. */
export function handQueue(tiles: Tile[]): Tile[] {
  return tiles.filter((t) => t.hand !== null).sort((a, b) => (b.hand?.waited ?? 0) - (a.hand?.waited ?? 0));
}

/** "42s", "5m", "2h": short enough for a 500-seat grid. */
export function shortAge(seconds: number | null): string {
  if (seconds === null) return "–";
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h`;
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return `$${value.toFixed(2)}`;
}

/** The header line: status, seats taken, model spend and VM cost so far (or the estimate). */
export function moneyLine(
  status: string,
  taken: number,
  seats: number,
  cost: { estimate: { vm_usd: number | null; model_usd: number | null } | null; so_far: { vm_usd: number | null; model_usd: number | null } | null; final: { vm_usd: number | null; model_usd: number | null } | null } | null,
  modelSpend: number,
): string {
  const figures = cost?.final ?? cost?.so_far ?? null;
  const label = cost?.final ? "final" : "so far";
  const vm = figures ? `VMs ${usd(figures.vm_usd)} ${label}` : `VMs est. ${usd(cost?.estimate?.vm_usd)}`;
  return `${status} · ${taken}/${seats} seats · model ${usd(modelSpend)} · ${vm}`;
}
