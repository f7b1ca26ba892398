/**
 * The seat grid: one compact tile per seat (10–500), updated in place on every poll. Only
 * tiles whose text changed are touched, so a 500-seat update is a few hundred text writes.
 */
import { h } from "../../ui/dom";
import type { Progress, RoomSeat, SeatActivity } from "./client";
import { BUDGET_WARNING, type Filters, keep, NO_FILTERS, shortAge, type Tile, tileFor, usd } from "./tiles";

interface TileElements {
  root: HTMLButtonElement;
  idle: HTMLElement;
  detail: HTMLElement;
  bar: HTMLElement;
  step: HTMLElement;
  key: string;
}

export class SeatGrid {
  readonly element: HTMLElement;
  private readonly tiles = new Map<number, TileElements>();
  private filters: Filters = NO_FILTERS;
  private last: Tile[] = [];

  constructor(private readonly onOpen: (seat: number) => void) {
    this.element = h("section", { class: "seat-grid", "aria-label": "Seats" });
  }

  setFilters(filters: Filters): void {
    this.filters = filters;
    this.applyFilters();
  }

  get tilesNow(): Tile[] {
    return this.last;
  }

  update(seats: RoomSeat[], activity: Map<number, SeatActivity>, progress: Progress | null = null): void {
    this.last = seats.map((s) => tileFor(s, activity.get(s.seat), progress));
    for (const tile of this.last) this.render(tile);
    this.applyFilters();
  }

  private applyFilters(): void {
    for (const tile of this.last) {
      const el = this.tiles.get(tile.seat);
      if (el) el.root.hidden = !keep(tile, this.filters);
    }
  }

  private render(tile: Tile): void {
    let el = this.tiles.get(tile.seat);
    if (!el) {
      const idle = h("span", { class: "tile-idle" });
      const detail = h("span", { class: "tile-detail" });
      const bar = h("span", { class: "tile-bar" });
      const step = h("span", { class: "tile-step" });
      const root = h("button", { type: "button", class: "tile", "data-seat": tile.seat },
        h("span", { class: "tile-seat" }, String(tile.seat)), idle, detail, step, h("span", { class: "tile-budget" }, bar));
      root.addEventListener("click", () => this.onOpen(tile.seat));
      el = { root, idle, detail, bar, step, key: "" };
      this.tiles.set(tile.seat, el);
      this.element.append(root);
    }
    const idle = tile.state === "free" ? "" : shortAge(tile.idleSeconds);
    const detail = (tile.hand ? "✋ " : "") + (tile.foreground ?? (tile.requests ? `${tile.requests} req` : ""));
    const share = tile.budgetShare ?? 0;
    const key = [tile.state, idle, detail, share, tile.costUsd, tile.tokens, tile.host, tile.shadows, tile.hand?.text, tile.step, tile.stepTitle].join("|");
    if (key === el.key) return;
    el.key = key;
    el.root.dataset.state = tile.state;
    el.root.classList.toggle("hand", tile.hand !== null);
    el.root.classList.toggle("over-budget", tile.budgetShare !== null && tile.budgetShare >= BUDGET_WARNING);
    el.idle.textContent = idle;
    el.detail.textContent = detail;
    el.step.textContent = tile.step ?? "";
    el.bar.style.width = `${Math.min(100, Math.round(share * 100))}%`;
    el.root.title = [
      `Seat ${tile.seat}: ${tile.state}`,
      tile.host === null ? null : `host ${tile.host}`,
      tile.state === "free" ? null : `last keystroke ${shortAge(tile.idleSeconds)} ago`,
      tile.foreground ? `running ${tile.foreground}` : null,
      `${tile.requests} model requests, ${tile.tokens} tokens, ${usd(tile.costUsd)}` +
        (tile.budgetUsd === null ? "" : ` of ${usd(tile.budgetUsd)}`),
      tile.shadows ? `${tile.shadows} shadow(s) open` : null,
      tile.hand ? `needs help: ${tile.hand.text || "(no text)"}` : null,
      tile.step ? `${tile.step}: ${tile.stepTitle}` : null,
    ]
      .filter(Boolean)
      .join("\n");
    el.root.setAttribute("aria-label", el.root.title.replace(/\n/g, ", "));
  }
}
