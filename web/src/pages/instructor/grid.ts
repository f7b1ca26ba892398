/**
 * The seat grid: one compact tile per seat (10–500), updated in place on every poll. Only
 * tiles whose text changed are touched, so a 500-seat update is a few hundred text writes.
 *
 * A tile is a group of two buttons: the tile itself (opens a shadow) and a small pause /
 * resume button for the seat's model access. The learner's display name is set as text.
 */
import { h } from "../../ui/dom";
import type { Progress, RoomSeat, SeatActivity } from "./client";
import { BUDGET_WARNING, errorSummary, type Filters, keep, NO_FILTERS, shortAge, type Tile, tileFor, usd } from "./tiles";

interface TileElements {
  root: HTMLElement;
  open: HTMLButtonElement;
  name: HTMLElement;
  idle: HTMLElement;
  errors: HTMLElement;
  detail: HTMLElement;
  bar: HTMLElement;
  step: HTMLElement;
  model: HTMLButtonElement;
  key: string;
}

export class SeatGrid {
  readonly element: HTMLElement;
  private readonly tiles = new Map<number, TileElements>();
  private filters: Filters = NO_FILTERS;
  private last: Tile[] = [];

  constructor(
    private readonly onOpen: (seat: number) => void,
    /** Pause (`paused` true) or resume one seat's model access. */
    private readonly onModel: (seat: number, paused: boolean) => void = () => undefined,
  ) {
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
      const name = h("span", { class: "tile-name" });
      const idle = h("span", { class: "tile-idle" });
      const errors = h("span", { class: "tile-errors" });
      const detail = h("span", { class: "tile-detail" });
      const bar = h("span", { class: "tile-bar" });
      const step = h("span", { class: "tile-step" });
      const open = h("button", { type: "button", class: "tile-open" },
        h("span", { class: "tile-head" }, h("span", { class: "tile-seat" }, String(tile.seat)), name),
        h("span", { class: "tile-line" }, idle, errors), detail, step, h("span", { class: "tile-budget" }, bar));
      const model = h("button", { type: "button", class: "tile-model" });
      const root = h("div", { class: "tile", role: "group", "data-seat": tile.seat }, open, model);
      open.addEventListener("click", () => this.onOpen(tile.seat));
      model.addEventListener("click", () => this.onModel(tile.seat, model.dataset.action === "pause-model"));
      el = { root, open, name, idle, errors, detail, bar, step, model, key: "" };
      this.tiles.set(tile.seat, el);
      this.element.append(root);
    }
    const idle = tile.state === "free" ? "" : shortAge(tile.idleSeconds);
    const paused = tile.modelPaused ? "⏸ paused · " : "";
    const detail = paused + (tile.hand ? "✋ " : "") + (tile.foreground ?? (tile.requests ? `${tile.requests} req` : ""));
    const errors = tile.errorCount ? `⚠ ${tile.errorCount}` : "";
    const share = tile.budgetShare ?? 0;
    const key = [tile.state, tile.name, idle, detail, errors, share, tile.costUsd, tile.tokens, tile.host, tile.shadows,
      tile.hand?.text, tile.modelPaused, errorSummary(tile.errors), tile.step, tile.stepTitle].join("|");
    if (key === el.key) return;
    el.key = key;
    el.root.dataset.state = tile.state;
    el.root.classList.toggle("hand", tile.hand !== null);
    el.root.classList.toggle("over-budget", tile.budgetShare !== null && tile.budgetShare >= BUDGET_WARNING);
    el.root.classList.toggle("model-paused", tile.modelPaused);
    el.root.classList.toggle("model-errors", tile.errorCount > 0);
    el.name.textContent = tile.name ?? "";
    el.idle.textContent = idle;
    el.errors.textContent = errors;
    el.detail.textContent = detail;
    el.step.textContent = tile.step ?? "";
    el.bar.style.width = `${Math.min(100, Math.round(share * 100))}%`;
    el.model.dataset.action = tile.modelPaused ? "resume-model" : "pause-model";
    el.model.textContent = tile.modelPaused ? "▶" : "⏸";
    el.model.title = `${tile.modelPaused ? "Resume" : "Pause"} the model for seat ${tile.seat}`;
    el.model.setAttribute("aria-label", el.model.title);
    const title = [
      `Seat ${tile.seat}${tile.name ? ` (${tile.name})` : ""}: ${tile.state}`,
      tile.host === null ? null : `host ${tile.host}`,
      tile.state === "free" ? null : `last keystroke ${shortAge(tile.idleSeconds)} ago`,
      tile.foreground ? `running ${tile.foreground}` : null,
      `${tile.requests} model requests, ${tile.tokens} tokens, ${usd(tile.costUsd)}` +
        (tile.budgetUsd === null ? "" : ` of ${usd(tile.budgetUsd)}`),
      tile.modelPaused ? "model paused for this seat" : null,
      tile.errorCount ? `model errors: ${errorSummary(tile.errors)}` : null,
      tile.shadows ? `${tile.shadows} shadow(s) open` : null,
      tile.hand ? `needs help: ${tile.hand.text || "(no text)"}` : null,
      tile.step ? `${tile.step}: ${tile.stepTitle}` : null,
    ]
      .filter(Boolean)
      .join("\n");
    el.open.title = title;
    el.open.setAttribute("aria-label", title.replace(/\n/g, ", "));
  }
}
