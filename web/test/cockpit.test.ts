import { describe, expect, it } from "vitest";
import { takeToken } from "../src/pages/instructor/auth";
import type { Progress, RoomSeat, SeatActivity } from "../src/pages/instructor/client";
import {
  errorSummary,
  handQueue,
  histogramRows,
  keep,
  moneyLine,
  NO_ERRORS,
  NO_FILTERS,
  shortAge,
  stepOf,
  tileFor,
} from "../src/pages/instructor/tiles";

const seat = (over: Partial<RoomSeat> = {}): RoomSeat => ({
  seat: 1,
  claimed: true,
  claim: { host: 0, joined_at: "", last_seen: "", display_name: null },
  requests: 0,
  tokens: 0,
  cost_usd: 0,
  budget_usd: null,
  budget_share: null,
  model_paused: false,
  errors: NO_ERRORS,
  ...over,
});
const active: SeatActivity = { sockets: 1, shadows: 0, input_age: 5, output_age: 1, foreground: "claude", hand: null };

describe("seat tiles", () => {
  it("tells free, joined, connected and disconnected apart", () => {
    expect(tileFor(seat({ claimed: false, claim: null }), undefined).state).toBe("free");
    expect(tileFor(seat(), undefined).state).toBe("joined");
    expect(tileFor(seat(), active).state).toBe("connected");
    expect(tileFor(seat(), { ...active, sockets: 0, shadows: 2 }).state).toBe("disconnected");
  });

  it("filters disconnected, idle and over-budget seats", () => {
    const gone = tileFor(seat(), { ...active, sockets: 0 });
    const busy = tileFor(seat(), active);
    const idle = tileFor(seat(), { ...active, input_age: 700 });
    const rich = tileFor(seat({ budget_usd: 1, budget_share: 0.85 }), active);
    expect(keep(gone, { ...NO_FILTERS, disconnected: true })).toBe(true);
    expect(keep(busy, { ...NO_FILTERS, disconnected: true })).toBe(false);
    expect(keep(idle, { ...NO_FILTERS, idleMinutes: 10 })).toBe(true);
    expect(keep(busy, { ...NO_FILTERS, idleMinutes: 10 })).toBe(false);
    expect(keep(rich, { ...NO_FILTERS, overBudget: true })).toBe(true);
    expect(keep(busy, { ...NO_FILTERS, overBudget: true })).toBe(false);
    expect(keep(busy, NO_FILTERS)).toBe(true);
    const asking = tileFor(seat({ seat: 4 }), { ...active, hand: { text: "help", waited: 90 } });
    const longer = tileFor(seat({ seat: 7 }), { ...active, hand: { text: "", waited: 300 } });
    expect(keep(asking, { ...NO_FILTERS, raisedHand: true })).toBe(true);
    expect(keep(busy, { ...NO_FILTERS, raisedHand: true })).toBe(false);
    expect(handQueue([busy, asking, longer]).map((t) => t.seat)).toEqual([7, 4]);
  });

  it("counts model errors, filters on them and names them as the CLI does", () => {
    const failing = tileFor(seat({ errors: { ...NO_ERRORS, upstream_unreachable: 2, key_refused: 1 } }), active);
    const fine = tileFor(seat(), active);
    expect(failing.errorCount).toBe(3);
    expect(errorSummary(failing.errors)).toBe("2 unreachable, 1 key refused");
    expect(errorSummary(fine.errors)).toBe("");
    expect(keep(failing, { ...NO_FILTERS, modelErrors: true })).toBe(true);
    expect(keep(fine, { ...NO_FILTERS, modelErrors: true })).toBe(false);
  });

  it("takes the host's live error counters when they are ahead of the stored ones", () => {
    const stored = { ...NO_ERRORS, key_refused: 1 };
    const live = { ...NO_ERRORS, key_refused: 3, paused_refused: 1 };
    const tile = tileFor(seat({ errors: stored }), { ...active, model: { paused: false, errors: live } });
    expect(tile.errors).toEqual({ ...NO_ERRORS, key_refused: 3, paused_refused: 1 });
    expect(tileFor(seat({ errors: live }), { ...active, model: { paused: false, errors: stored } }).errorCount).toBe(4);
  });

  it("carries the display name and the seat's model pause", () => {
    const named = tileFor(seat({ claim: { host: 0, joined_at: "", last_seen: "", display_name: "<b>Ada</b>" }, model_paused: true }), active);
    expect(named.name).toBe("<b>Ada</b>");
    expect(named.modelPaused).toBe(true);
    expect(tileFor(seat({ claimed: false, claim: null }), undefined).name).toBeNull();
  });

  it("writes ages and the money line compactly", () => {
    expect([shortAge(null), shortAge(42.7), shortAge(300), shortAge(7300)]).toEqual(["–", "42s", "5m", "2h"]);
    const cost = { estimate: null, so_far: { vm_usd: 0.5, model_usd: 1 }, final: null };
    expect(moneyLine("running", 3, 10, cost, 1.234)).toBe("running · 3/10 seats · model $1.23 · VMs $0.50 so far");
  });
});

describe("instructor sign-in", () => {
  it("moves the token from the fragment into storage and off the URL", () => {
    const values = new Map<string, string>();
    const storage = {
      getItem: (k: string) => values.get(k) ?? null,
      setItem: (k: string, v: string) => void values.set(k, v),
      removeItem: (k: string) => void values.delete(k),
    };
    const replaced: string[] = [];
    const location = { hash: "#token=s3cret", pathname: "/instructor", search: "" } as Location;
    const history = { replaceState: (_s: unknown, _t: string, url: string) => void replaced.push(url) } as History;
    expect(takeToken(storage, location, history)).toBe("s3cret");
    expect(replaced).toEqual(["/instructor"]);
    const later = { hash: "", pathname: "/instructor", search: "" } as Location;
    expect(takeToken(storage, later, history)).toBe("s3cret");
  });
});

describe("content pack progress", () => {
  const progress: Progress = {
    content: {
      title: "Claude Code 101",
      steps: [
        { id: "explore", title: "Explore", check: false },
        { id: "explain", title: "Explain", check: true },
        { id: "commit", title: "<b>Commit</b>", check: true },
      ],
    },
    seats: [
      { seat: 1, step: 1, checks_passed: ["explain"] },
      { seat: 2, step: 7, checks_passed: [] },
    ],
    histogram: [
      { step: 0, id: "explore", title: "Explore", seats: 0 },
      { step: 1, id: "explain", title: "Explain", seats: 4 },
      { step: 2, id: "commit", title: "<b>Commit</b>", seats: 2 },
    ],
  };

  it("shows the step reached and the checks passed on the tile", () => {
    expect(tileFor(seat({ seat: 1 }), active, progress).step).toBe("step 2/3 · 1✓");
    expect(tileFor(seat({ seat: 1 }), active, progress).stepTitle).toBe("Explain; checks passed: explain");
    expect(stepOf(2, progress).step).toBe("step 3/3"); // past the end counts as the last
    expect(stepOf(3, progress).step).toBeNull();
    expect(tileFor(seat(), active).step).toBeNull();
  });

  it("scales the histogram to the busiest step and keeps titles as text", () => {
    expect(histogramRows(progress)).toEqual([
      { label: "1. Explore", seats: 0, width: 0 },
      { label: "2. Explain", seats: 4, width: 100 },
      { label: "3. <b>Commit</b>", seats: 2, width: 50 },
    ]);
    expect(histogramRows(null)).toEqual([]);
    // An answer of another shape (an older API) shows nothing rather than breaking the grid.
    const odd = { workshops: [] } as unknown as Progress;
    expect(histogramRows(odd)).toEqual([]);
    expect(tileFor(seat(), active, odd).step).toBeNull();
  });
});
