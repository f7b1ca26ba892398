/**
 * The workshop's end on the learner page: a countdown in the header, warnings at 15 and 5
 * minutes (a banner on the page and the terminal's status line — never text written into
 * the learner's shell), and after the end "Workshop ended — download your work" until the
 * hosts are deleted.
 */
import { h } from "../ui/dom";
import { dueWarning, formatRemaining, parseSchedule, phaseAt, type Phase, type WorkshopSchedule } from "./clock";

/** How the page reaches the agent for the seat (the `Seat`: current endpoint + token). */
export interface ScheduleAuth {
  readonly session: { endpoint: string; seat: number };
  token(): Promise<string>;
}

export interface ScheduleViewOptions {
  auth: ScheduleAuth;
  /** Starts "Download my work" (the header button's action). */
  download(): void;
  /** Milliseconds between schedule reads (an extension shows up within this). */
  pollMs?: number;
}

const TICK_MS = 1000;

export class ScheduleView {
  /** Header chip: "Ends in 42:10". */
  readonly countdown = h("span", { class: "countdown", id: "workshop-countdown", hidden: true, "aria-live": "off" });
  /** The page's warning / ended banner, above the workspace. */
  readonly banner = h("section", { class: "schedule-banner", id: "schedule-banner", hidden: true, role: "status" });
  /** One line under the terminal. */
  readonly statusLine = h("div", { class: "terminal-status", id: "terminal-status", role: "status", hidden: true });

  private schedule: WorkshopSchedule | null = null;
  private readonly shown = new Set<number>();
  private lastPhase: Phase | null = null;
  private readonly timers: number[] = [];

  constructor(private readonly options: ScheduleViewOptions) {}

  start(): void {
    void this.read();
    this.timers.push(window.setInterval(() => void this.read(), this.options.pollMs ?? 30_000));
    this.timers.push(window.setInterval(() => this.render(), TICK_MS));
  }

  dispose(): void {
    for (const id of this.timers) window.clearInterval(id);
  }

  private async read(): Promise<void> {
    const { auth } = this.options;
    try {
      const token = await auth.token();
      const url = `${auth.session.endpoint.replace(/\/+$/, "")}/seats/${auth.session.seat}/schedule`;
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
      if (!response.ok) return; // keep the last known schedule
      const next = parseSchedule(await response.json(), Date.now());
      if (next && this.schedule) {
        // The clock offset is measured once, at the first read: later reads only move the
        // end (an extension), so the countdown never jumps with network latency.
        next.offsetMs = this.schedule.offsetMs;
        if (next.endsAt > this.schedule.endsAt) this.shown.clear(); // extended: warn again
      }
      this.schedule = next;
      this.render();
    } catch {
      /* offline or the host is gone: keep counting down from what we know */
    }
  }

  private render(): void {
    const schedule = this.schedule;
    if (!schedule) {
      this.countdown.hidden = true;
      return;
    }
    const now = Date.now() + schedule.offsetMs;
    const phase = phaseAt(schedule, now);
    this.countdown.hidden = false;
    this.countdown.dataset.phase = phase;
    if (phase === "open" || phase === "ending") {
      this.countdown.textContent = `Ends in ${formatRemaining(schedule.endsAt - now)}`;
      const minutes = dueWarning(schedule, now, this.shown);
      if (minutes !== null) this.warn(minutes);
      if (phase === "open" && this.lastPhase !== "open") this.clearWarning();
    } else if (phase === "grace") {
      this.countdown.textContent = `Ended · download until ${clockTime(schedule.graceEndsAt)}`;
      if (this.lastPhase !== "grace") this.ended(schedule);
    } else {
      this.countdown.textContent = "Workshop over";
      if (this.lastPhase !== "over") this.over();
    }
    this.lastPhase = phase;
  }

  private warn(minutes: number): void {
    this.shown.add(minutes);
    const text = `The workshop ends in ${minutes} minute${minutes === 1 ? "" : "s"}. Save and download your work.`;
    this.banner.dataset.kind = "warning";
    this.banner.dataset.minutes = String(minutes);
    this.banner.replaceChildren(h("p", {}, text));
    this.banner.hidden = false;
    this.statusLine.dataset.kind = "warning";
    this.statusLine.textContent = `⏱ ${text}`;
    this.statusLine.hidden = false;
  }

  private clearWarning(): void {
    this.banner.hidden = true;
    this.statusLine.hidden = true;
  }

  private ended(schedule: WorkshopSchedule): void {
    const button = h("button", { type: "button", class: "btn primary", id: "ended-download" }, "Download my work");
    button.addEventListener("click", () => this.options.download());
    this.banner.dataset.kind = "ended";
    delete this.banner.dataset.minutes;
    this.banner.replaceChildren(
      h("p", {}, h("strong", {}, "Workshop ended — download your work"), ` (available until ${clockTime(schedule.graceEndsAt)}).`),
      button,
    );
    this.banner.hidden = false;
    this.statusLine.dataset.kind = "ended";
    this.statusLine.textContent = "Workshop ended — download your work.";
    this.statusLine.hidden = false;
  }

  private over(): void {
    this.banner.dataset.kind = "over";
    this.banner.replaceChildren(h("p", {}, "The workshop is over and its machines have been removed."));
    this.banner.hidden = false;
    this.statusLine.dataset.kind = "over";
    this.statusLine.textContent = "Workshop over.";
    this.statusLine.hidden = false;
  }
}

function clockTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
