/**
 * `/instructor`: the cockpit (docs/cockpit.md). Sign-in, the instructor's workshops (the API
 * decides which: an instructor sees their own, an admin all), create / start / stop, and
 * one workshop's room: hosts while they boot, the money line, the seat grid and shadows.
 *
 * One open room costs the API one request per poll (`GET …/room` every 2 s); live terminal
 * activity comes from each host's `/control/activity` (every 1 s) with the shadow token. Every string
 * from the server or a learner is set as text (`h()` never uses innerHTML).
 */
import "./cockpit.css";
import { confirmAction } from "../../ui/dialog";
import { h } from "../../ui/dom";
import { toast } from "../../ui/toast";
import type { AppConfig } from "../../config";
import { ApiRoutes } from "../../routing";
import { forgetToken, saveToken, takeToken } from "./auth";
import { forgetGoogleSession, mountGoogleButton, renewIn } from "./google";
import {
  InstructorClient,
  InstructorError,
  type Progress,
  type Room,
  type SeatActivity,
  type ShadowGrant,
  type Workshop,
} from "./client";
import { modelControls, policyForm } from "./model";
import { SeatGrid } from "./grid";
import { ShadowPane } from "./shadow";
import { type Filters, handQueue, histogramRows, moneyLine, NO_FILTERS, shortAge } from "./tiles";

export const POLL_MS = 2000;
/** Agents' activity is polled faster than the API, so a keystroke shows within ~1 s. */
export const ACTIVITY_POLL_MS = 1000;
const LIST_POLL_MS = 5000;
/** Content pack progress (`GET …/progress`): a second, slower poll (docs/content-packs.md). */
export const PROGRESS_POLL_MS = 5000;
/** Fetch a new shadow token this long before the current one expires. */
const SHADOW_RENEW_MARGIN_S = 120;

declare global {
  interface Window {
    __claraShadows?: Map<number, ShadowPane>;
  }
}

/** The pending "your Google sign-in is about to lapse" timer of the signed-in page. */
let expiryTimer: ReturnType<typeof setTimeout> | null = null;
const EXPIRED = "Your Google sign-in expired; sign in again.";

export function renderInstructor(root: HTMLElement, config: AppConfig): void {
  if (expiryTimer !== null) clearTimeout(expiryTimer);
  expiryTimer = null;
  const token = takeToken(window.sessionStorage, window.location, window.history);
  if (!token) return renderSignIn(root, config);
  const renew = renewIn(token);
  if (renew !== null && renew <= 0) {
    forgetToken(window.sessionStorage);
    return renderSignIn(root, config, EXPIRED, true);
  }
  const client = new InstructorClient(new ApiRoutes(config.apiBaseUrl, config.apiUrls), token);
  let cockpit: Cockpit | null = null;
  const signOut = (notice?: string, reprompt = false) => {
    if (expiryTimer !== null) clearTimeout(expiryTimer);
    expiryTimer = null;
    cockpit?.close();
    forgetToken(window.sessionStorage);
    if (!notice) forgetGoogleSession();
    renderSignIn(root, config, notice, reprompt);
  };
  if (renew !== null) expiryTimer = setTimeout(() => signOut(EXPIRED, true), renew);
  cockpit = new Cockpit(root, client, signOut);
  cockpit.showList();
}

function renderSignIn(root: HTMLElement, config: AppConfig, notice?: string, reprompt = false): void {
  const input = h("input", { type: "password", id: "instructor-token", autocomplete: "off", required: true });
  const signedIn = (token: string) => {
    saveToken(window.sessionStorage, token);
    renderInstructor(root, config);
  };
  const google = config.googleClientId ? h("div", { class: "cockpit-google", id: "google-signin" }) : null;
  const form = h(
    "form",
    { class: "cockpit-signin" },
    h("h1", {}, "ClaraTeach cockpit"),
    notice ? h("p", { class: "notice", role: "alert" }, notice) : null,
    google
      ? h("p", {}, "Sign in with the Google account your deployment lists as an instructor, or paste an ID token.")
      : h("p", {}, "Open the Cockpit link printed by `clarateach local up`, or paste the instructor token."),
    google,
    h("label", { for: "instructor-token" }, google ? "ID token" : "Instructor token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    signedIn(input.value);
  });
  root.replaceChildren(h("main", { class: "cockpit" }, form));
  if (google && config.googleClientId) {
    mountGoogleButton(google, config.googleClientId, signedIn, reprompt).catch((error: unknown) => {
      google.textContent = error instanceof Error ? `${error.message}; paste an ID token instead.` : String(error);
    });
  }
}

class Cockpit {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private generation = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly client: InstructorClient,
    private readonly signOut: (notice?: string, reprompt?: boolean) => void,
  ) {}

  /** Stop every timer of this cockpit (the page is being replaced). */
  close(): void {
    this.stopPolling();
  }

  private stopPolling(): void {
    this.generation += 1;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private fail(error: unknown): boolean {
    if (error instanceof InstructorError && error.status === 401) {
      this.stopPolling();
      this.signOut("The server refused the sign-in (expired or not an instructor); sign in again.", true);
      toast("The instructor token was refused; sign in again.", "error");
      return true;
    }
    return false;
  }

  private topBar(...extra: (Node | string)[]): HTMLElement {
    const out = h("button", { type: "button", class: "link" }, "Sign out");
    out.addEventListener("click", () => {
      this.stopPolling();
      this.signOut();
    });
    return h("header", { class: "cockpit-top" }, h("strong", {}, "ClaraTeach cockpit"), ...extra, out);
  }

  // -- workshops list ---------------------------------------------------------------------
  showList(): void {
    this.stopPolling();
    const generation = this.generation;
    const table = h("tbody", {});
    const status = h("p", { class: "cockpit-status", role: "status" }, "Loading workshops…");
    this.root.replaceChildren(
      h(
        "main",
        { class: "cockpit" },
        this.topBar(),
        h("section", { class: "cockpit-list" }, h("h2", {}, "Workshops"), status,
          h("table", { class: "workshops" },
            h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Code"), h("th", {}, "Status"), h("th", {}, "Seats"), h("th", {}, ""))),
            table)),
        this.createForm(),
      ),
    );
    const load = async () => {
      try {
        const workshops = await this.client.list();
        if (generation !== this.generation) return;
        status.textContent = workshops.length ? "" : "No workshops yet.";
        table.replaceChildren(...workshops.map((w) => this.listRow(w)));
      } catch (error) {
        if (this.fail(error)) return;
        status.textContent = error instanceof Error ? error.message : String(error);
      }
      if (generation === this.generation) this.timer = setTimeout(load, LIST_POLL_MS);
    };
    void load();
  }

  private listRow(w: Workshop): HTMLElement {
    const open = h("button", { type: "button", "data-action": "open" }, "Open");
    open.addEventListener("click", () => this.showRoom(w.id));
    return h(
      "tr",
      { "data-workshop": w.id },
      h("td", { class: "workshop-name" }, w.name),
      h("td", {}, h("code", {}, w.code)),
      h("td", { "data-status": w.status }, w.status),
      h("td", {}, String(w.seats)),
      h("td", {}, open, this.startStop(w)),
    );
  }

  private startStop(w: Workshop): HTMLElement | null {
    if (w.status === "created" || w.status === "stopped" || w.status === "failed") {
      const start = h("button", { type: "button", "data-action": "start" }, "Start");
      start.addEventListener("click", () => void this.act(() => this.client.start(w.id), start));
      return start;
    }
    if (w.status === "running" || w.status === "provisioning") {
      const stop = h("button", { type: "button", class: "danger", "data-action": "stop" }, "Stop");
      stop.addEventListener("click", async () => {
        const sure = await confirmAction(
          `Stop ${w.name}?`,
          `Every learner of ${w.name} loses their terminal and the hosts are deleted.`,
          "Stop workshop",
          true,
        );
        if (sure) await this.act(() => this.client.stop(w.id), stop);
      });
      return stop;
    }
    return null;
  }

  private async act(action: () => Promise<Workshop>, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const w = await action();
      toast(`${w.name}: ${w.status}`);
    } catch (error) {
      if (!this.fail(error)) toast(error instanceof Error ? error.message : String(error), "error");
    } finally {
      button.disabled = false;
    }
  }

  private createForm(): HTMLElement {
    const field = (id: string, label: string, input: HTMLInputElement) =>
      h("div", { class: "field" }, h("label", { for: id }, label), input);
    const name = h("input", { id: "create-name", required: true, maxlength: 200 });
    const seats = h("input", { id: "create-seats", type: "number", min: 1, max: 500, value: 10, required: true });
    const perHost = h("input", { id: "create-per-host", type: "number", min: 1, max: 50, placeholder: "default" });
    const key = h("input", { id: "create-key", type: "password", autocomplete: "off", required: true });
    const budget = h("input", { id: "create-budget", type: "number", min: 0, step: "0.01", placeholder: "unlimited" });
    const rpm = h("input", { id: "create-rpm", type: "number", min: 1, placeholder: "60" });
    const error = h("p", { class: "dialog-error", role: "alert" });
    const form = h(
      "form",
      { class: "cockpit-create" },
      h("h2", {}, "New workshop"),
      field("create-name", "Name", name),
      field("create-seats", "Seats", seats),
      field("create-per-host", "Seats per host", perHost),
      field("create-key", "Anthropic API key (sent once, never shown again)", key),
      field("create-budget", "Budget per seat (USD)", budget),
      field("create-rpm", "Model requests per minute per seat", rpm),
      error,
      h("button", { type: "submit" }, "Create"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const defaults: Record<string, number> = {};
      if (budget.value) defaults.budget_usd = Number(budget.value);
      if (rpm.value) defaults.requests_per_minute = Number(rpm.value);
      try {
        const created = await this.client.create({
          name: name.value,
          seats: Number(seats.value),
          seats_per_host: perHost.value ? Number(perHost.value) : undefined,
          api_key: key.value,
          model_policy: Object.keys(defaults).length ? { defaults } : undefined,
        });
        key.value = ""; // sent once; never kept in the page
        toast(`Created ${created.name} (${created.code})`);
        this.showList();
      } catch (exc) {
        key.value = "";
        if (!this.fail(exc)) error.textContent = exc instanceof Error ? exc.message : String(exc);
      }
    });
    return form;
  }

  // -- one workshop's room ----------------------------------------------------------------
  showRoom(workshopId: string): void {
    this.stopPolling();
    const generation = this.generation;
    const back = h("button", { type: "button", class: "link" }, "← Workshops");
    back.addEventListener("click", () => {
      shadows.forEach((pane) => pane.dispose());
      shadows.clear();
      this.showList();
    });
    const title = h("h1", { class: "room-title" });
    const money = h("p", { class: "money-line", role: "status" });
    const actions = h("span", { class: "room-actions" });
    const hosts = h("ol", { class: "host-progress", "aria-label": "Hosts" });
    const histogram = h("ol", { class: "step-histogram", id: "step-histogram", "aria-label": "Seats per step" });
    const report = (error: unknown) => {
      if (!this.fail(error)) toast(error instanceof Error ? error.message : String(error), "error");
    };
    const grid = new SeatGrid(
      (seat) => void openShadow(seat),
      (seat, paused) =>
        void this.client.setModelAccess(workshopId, paused, seat).then(
          () => toast(`Model ${paused ? "paused" : "resumed"} for seat ${seat}.`),
          report,
        ),
    );
    const model = modelControls(this.client, workshopId, report);
    const policy = policyForm(this.client, workshopId, report);
    const filters = this.filterBar((f) => grid.setFilters(f));
    const shadowBox = h("section", { class: "shadows", "aria-label": "Shadows" });
    const hands = h("ol", { class: "hand-queue", id: "hand-queue" });
    const handsBox = h("section", { class: "hands", "aria-label": "Help queue" }, h("h2", {}, "Help queue"), hands);
    const current = h("p", { class: "broadcast-current", id: "broadcast-current" });
    const broadcastBox = this.broadcastForm(workshopId, current);
    const shadows = new Map<number, ShadowPane>();
    window.__claraShadows = shadows;
    this.root.replaceChildren(
      h("main", { class: "cockpit cockpit-room" }, this.topBar(back), title, money, actions, hosts,
        histogram, filters, model.element, grid.element, policy.element, h("div", { class: "room-side" }, broadcastBox, handsBox),
        shadowBox),
    );

    let room: Room | null = null;
    let grant: ShadowGrant | null = null;
    let grantAt = 0;
    let grantInflight: Promise<ShadowGrant> | null = null;
    const shadowGrant = async (force = false): Promise<ShadowGrant> => {
      const fresh = grant && Date.now() - grantAt < (grant.expires_in - SHADOW_RENEW_MARGIN_S) * 1000;
      if (grant && fresh && !force) return grant;
      grantInflight ??= this.client.shadowToken(workshopId).then(
        (g) => {
          grant = g;
          grantAt = Date.now();
          grantInflight = null;
          return g;
        },
        (e) => {
          grantInflight = null;
          throw e;
        },
      );
      return grantInflight;
    };
    const endpointOf = (seat: number): string | null => {
      const host = room?.workshop.hosts.find((x) => x.seat_first <= seat && seat <= x.seat_last);
      return host?.endpoint ?? null;
    };
    const openShadow = async (seat: number) => {
      if (shadows.has(seat)) return;
      const endpoint = endpointOf(seat);
      if (!endpoint) return toast(`Seat ${seat}'s host is not ready yet.`, "error");
      const closePane = () => {
        pane.dispose();
        shadows.delete(seat);
      };
      const release = h("button", { type: "button", class: "danger", "data-action": "release" }, "Release seat");
      release.addEventListener("click", async () => {
        const sure = await confirmAction(
          `Release seat ${seat}?`,
          `Seat ${seat}'s learner is disconnected and cannot rejoin it; the seat is free for someone else.`,
          `Release seat ${seat}`,
          true,
        );
        if (!sure) return;
        try {
          await this.client.releaseSeat(workshopId, seat);
          toast(`Seat ${seat} released.`);
          closePane();
        } catch (error) {
          if (!this.fail(error)) toast(error instanceof Error ? error.message : String(error), "error");
        }
      });
      const reset = h("button", { type: "button", class: "danger", "data-action": "reset" }, "Reset seat");
      reset.addEventListener("click", async () => {
        const sure = await confirmAction(
          `Reset seat ${seat}?`,
          `Seat ${seat}'s shell restarts and every file in its workspace is deleted. The learner keeps the seat.`,
          `Reset seat ${seat}`,
          true,
        );
        if (!sure) return;
        try {
          await this.client.resetSeat(workshopId, seat);
          toast(`Seat ${seat} reset.`);
        } catch (error) {
          if (!this.fail(error)) toast(error instanceof Error ? error.message : String(error), "error");
        }
      });
      const pane = new ShadowPane(
        { endpoint, seat, token: async () => (await shadowGrant()).token, refresh: () => shadowGrant(true) },
        closePane,
        [reset, release],
      );
      shadows.set(seat, pane);
      shadowBox.append(pane.element);
      pane.open();
    };

    let live = new Map<number, SeatActivity>();
    let progress: Progress | null = null;
    const renderHistogram = () => {
      // Step titles come from the pack: text nodes only (h() never parses HTML).
      histogram.replaceChildren(
        ...histogramRows(progress).map((row) => {
          const bar = h("span", { class: "step-bar" });
          bar.style.width = `${row.width}%`; // CSSOM, not a style attribute (CSP)
          return h("li", { class: "step-row" },
            h("span", { class: "step-label" }, row.label), h("span", { class: "step-track" }, bar),
            h("span", { class: "step-count" }, `${row.seats} seat${row.seats === 1 ? "" : "s"}`));
        }),
      );
    };
    const renderRoom = () => {
      if (!room) return;
      grid.update(room.seats, live, progress);
      current.textContent = room.broadcast ? `Showing: ${room.broadcast.message}` : "No message is showing.";
      hands.replaceChildren(
        ...handQueue(grid.tilesNow).map((t) => {
          const done = h("button", { type: "button", "data-action": "done" }, "Done");
          done.addEventListener("click", async () => {
            const endpoint = endpointOf(t.seat);
            if (!endpoint) return;
            try {
              await this.client.handDone(endpoint, (await shadowGrant()).token, t.seat);
              done.closest("li")?.remove();
            } catch (error) {
              toast(error instanceof Error ? error.message : String(error), "error");
            }
          });
          return h(
            "li",
            { "data-seat": t.seat },
            h("strong", {}, `Seat ${t.seat}`),
            ` waiting ${shortAge(t.hand?.waited ?? 0)}`,
            t.hand?.text ? h("span", { class: "hand-text" }, ` — ${t.hand.text}`) : null,
            done,
          );
        }),
      );
      if (!hands.childElementCount) hands.append(h("li", { class: "empty" }, "Nobody is waiting."));
    };

    // The API: one request per POLL_MS, whatever the seat count (fixed rate).
    const poll = async () => {
      const started = Date.now();
      try {
        const fresh = await this.client.room(workshopId);
        if (generation !== this.generation) return;
        room = fresh;
        const w = fresh.workshop;
        title.textContent = w.name;
        const taken = fresh.seats.filter((s) => s.claimed).length;
        money.textContent = `${moneyLine(w.status, taken, w.seats, w.cost, fresh.totals.cost_usd ?? 0)} · code ${w.code}`;
        actions.replaceChildren(...[this.startStop(w)].filter((x): x is HTMLElement => x !== null));
        model.update(w.model_paused);
        policy.update(fresh.policy);
        hosts.replaceChildren(
          ...w.hosts.map((host) =>
            h(
              "li",
              { "data-host": host.index, "data-status": host.status },
              `Host ${host.index} (seats ${host.seat_first}–${host.seat_last}): ${host.status}`,
              host.error ? h("span", { class: "host-error" }, ` — ${host.error}`) : null,
            ),
          ),
        );
        renderRoom();
      } catch (error) {
        if (this.fail(error)) return;
        money.textContent = error instanceof Error ? error.message : String(error);
      }
      if (generation === this.generation) this.timer = setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
    };
    // The hosts (not the API): live terminal activity every ACTIVITY_POLL_MS.
    const pollActivity = async () => {
      if (generation !== this.generation) return;
      const started = Date.now();
      if (room) {
        live = await this.activity(room, shadowGrant);
        if (generation !== this.generation) return;
        renderRoom();
      }
      setTimeout(pollActivity, Math.max(0, ACTIVITY_POLL_MS - (Date.now() - started)));
    };
    const pollProgress = async () => {
      if (generation !== this.generation) return;
      try {
        progress = await this.client.progress(workshopId);
        if (generation !== this.generation) return;
        renderHistogram();
        renderRoom();
      } catch {
        // The room poll reports API trouble; progress is best effort.
      }
      setTimeout(pollProgress, PROGRESS_POLL_MS);
    };
    void poll();
    void pollActivity();
    void pollProgress();
  }

  /** Every ready host's activity, merged by seat; a host that cannot be asked is skipped. */
  private async activity(room: Room, grant: () => Promise<ShadowGrant>): Promise<Map<number, SeatActivity>> {
    const merged = new Map<number, SeatActivity>();
    const ready = room.workshop.hosts.filter((x) => x.status === "ready" && x.endpoint);
    if (!ready.length || !room.seats.some((s) => s.claimed)) return merged;
    let token: string;
    try {
      token = (await grant()).token;
    } catch {
      return merged;
    }
    const reports = await Promise.allSettled(ready.map((x) => this.client.activity(x.endpoint as string, token)));
    for (const report of reports) {
      if (report.status !== "fulfilled") continue;
      for (const [seat, value] of Object.entries(report.value)) merged.set(Number(seat), value);
    }
    return merged;
  }

  private broadcastForm(workshopId: string, current: HTMLElement): HTMLElement {
    const text = h("textarea", { id: "broadcast-message", maxlength: 500, rows: 2, placeholder: "Message to every learner (500 characters)" });
    const error = h("p", { class: "dialog-error", role: "alert" });
    const form = h("form", { class: "broadcast-form" }, h("label", { for: "broadcast-message" }, "Broadcast"), text, error,
      h("button", { type: "submit" }, "Send to everyone"), current);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        await this.client.broadcast(workshopId, text.value);
        current.textContent = `Showing: ${text.value.trim()}`;
        text.value = "";
      } catch (exc) {
        if (!this.fail(exc)) error.textContent = exc instanceof Error ? exc.message : String(exc);
      }
    });
    return form;
  }

  private filterBar(onChange: (f: Filters) => void): HTMLElement {
    const disconnected = h("input", { type: "checkbox", id: "filter-disconnected" });
    const idle = h("input", { type: "checkbox", id: "filter-idle" });
    const minutes = h("input", { type: "number", id: "filter-idle-minutes", min: 1, value: 5, class: "narrow" });
    const budget = h("input", { type: "checkbox", id: "filter-budget" });
    const hand = h("input", { type: "checkbox", id: "filter-hand" });
    const errors = h("input", { type: "checkbox", id: "filter-errors" });
    const emit = () =>
      onChange({
        ...NO_FILTERS,
        disconnected: disconnected.checked,
        idleMinutes: idle.checked ? Math.max(1, Number(minutes.value) || 1) : null,
        overBudget: budget.checked,
        raisedHand: hand.checked,
        modelErrors: errors.checked,
      });
    for (const input of [disconnected, idle, minutes, budget, hand, errors]) input.addEventListener("change", emit);
    return h(
      "fieldset",
      { class: "filters" },
      h("legend", {}, "Show only"),
      h("label", {}, disconnected, " disconnected"),
      h("label", {}, idle, " idle more than ", minutes, " min"),
      h("label", {}, budget, " over 80 % of budget"),
      h("label", {}, hand, " raised hand"),
      h("label", {}, errors, " model errors"),
    );
  }
}

