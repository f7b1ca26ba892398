import { describe, expect, it } from "vitest";
import { dueWarning, formatRemaining, parseSchedule, phaseAt } from "../src/schedule/clock";

const T = Date.parse("2026-05-04T10:00:00Z");
const MIN = 60_000;
const raw = {
  ends_at: "2026-05-04T11:00:00Z",
  grace_ends_at: "2026-05-04T11:10:00Z",
  warning_minutes: [5, 15],
  server_time: "2026-05-04T10:00:00Z",
};

describe("parseSchedule", () => {
  it("reads the agent's answer and the clock offset, largest warning first", () => {
    const s = parseSchedule(raw, T - 90_000); // the laptop is 90 s behind
    expect(s).toEqual({ endsAt: T + 60 * MIN, graceEndsAt: T + 70 * MIN, warningMinutes: [15, 5], offsetMs: 90_000 });
  });

  it("is null without an end, and tolerates junk", () => {
    expect(parseSchedule({ ends_at: null, phase: "unscheduled" }, T)).toBeNull();
    expect(parseSchedule("nope", T)).toBeNull();
    const s = parseSchedule({ ends_at: raw.ends_at, warning_minutes: ["x", -1, 5] }, T);
    expect(s?.graceEndsAt).toBe(T + 60 * MIN);
    expect(s?.warningMinutes).toEqual([5]);
  });
});

describe("phases and warnings", () => {
  const s = parseSchedule(raw, T)!;

  it("moves open -> ending -> grace -> over", () => {
    expect(phaseAt(s, T)).toBe("open");
    expect(phaseAt(s, T + 45 * MIN)).toBe("ending");
    expect(phaseAt(s, T + 60 * MIN)).toBe("grace");
    expect(phaseAt(s, T + 70 * MIN)).toBe("over");
  });

  it("warns once per threshold, the smallest one due first", () => {
    const shown = new Set<number>();
    expect(dueWarning(s, T + 44 * MIN, shown)).toBeNull();
    expect(dueWarning(s, T + 45 * MIN, shown)).toBe(15);
    shown.add(15);
    expect(dueWarning(s, T + 50 * MIN, shown)).toBeNull();
    expect(dueWarning(s, T + 55 * MIN, shown)).toBe(5);
    expect(dueWarning(s, T + 57 * MIN, new Set())).toBe(5); // opened late: no stale 15
    expect(dueWarning(s, T + 60 * MIN, new Set())).toBeNull();
  });

  it("formats the remaining time", () => {
    expect(formatRemaining(3_909_000)).toBe("1:05:09");
    expect(formatRemaining(14 * MIN + 59_500)).toBe("15:00");
    expect(formatRemaining(7_000)).toBe("0:07");
    expect(formatRemaining(-5)).toBe("0:00");
  });
});
