/**
 * The learner side of the room: the instructor's broadcast as a dismissable banner, and the
 * "I need help" button (raise / lower a hand with an optional short text).
 *
 * Both live on the seat's workspace agent (`GET /seats/{n}/notices`, `PUT|DELETE
 * /seats/{n}/hand`, docs/cockpit.md). The page polls every 1.5 s so a broadcast shows within
 * 2 s; a learner who joins later gets the current one at the first poll. Messages are set
 * with `textContent` only: an instructor's `<script>` is shown, never run.
 */
import "./notices.css";
import type { Broadcast } from "../api";
import { promptText } from "../ui/dialog";
import { h } from "../ui/dom";
import { toast } from "../ui/toast";

export const NOTICES_POLL_MS = 1500;
export const HAND_TEXT_MAX = 140;

export interface NoticeSeat {
  readonly session: { endpoint: string; seat: number; workshopId: string; broadcast?: Broadcast | null };
  token(): Promise<string>;
}

interface Notices {
  broadcast: { message: string; sent_at: string } | null;
  hand: { text: string; waited: number } | null;
}

export class RoomNotices {
  readonly banner: HTMLElement;
  readonly helpButton: HTMLButtonElement;
  private readonly message: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private current: Notices = { broadcast: null, hand: null };

  constructor(
    private readonly seat: NoticeSeat,
    private readonly storage: Storage = window.localStorage,
  ) {
    this.message = h("p", { class: "broadcast-text", id: "broadcast-text" });
    const dismiss = h("button", { type: "button", class: "btn small", "aria-label": "Dismiss message" }, "Dismiss");
    this.banner = h(
      "div",
      { class: "broadcast-banner", id: "broadcast-banner", role: "status", hidden: true },
      h("strong", {}, "From your instructor: "),
      this.message,
      dismiss,
    );
    dismiss.addEventListener("click", () => {
      if (this.current.broadcast) this.storage.setItem(this.dismissKey(), this.current.broadcast.sent_at);
      this.banner.hidden = true;
    });
    this.helpButton = h("button", { type: "button", class: "btn", id: "help-button" }, "I need help");
    this.helpButton.addEventListener("click", () => void this.toggleHand());
  }

  start(): void {
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private dismissKey(): string {
    return `clarateach.broadcast.dismissed.${this.seat.session.workshopId}`;
  }

  private async request(method: string, body?: unknown): Promise<Response> {
    const { endpoint, seat } = this.seat.session;
    const path = method === "GET" ? "notices" : "hand";
    const headers: Record<string, string> = { Authorization: `Bearer ${await this.seat.token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${endpoint}/seats/${seat}/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  }

  private async poll(): Promise<void> {
    try {
      const response = await this.request("GET");
      if (response.ok) this.show((await response.json()) as Notices);
    } catch {
      /* offline or the host restarting: the next poll tries again */
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.poll(), NOTICES_POLL_MS);
  }

  private show(fromHost: Notices): void {
    const notices = { ...fromHost, broadcast: newest(fromHost.broadcast, this.seat.session.broadcast ?? null) };
    this.current = notices;
    const b = notices.broadcast;
    if (b) {
      this.message.textContent = b.message;
      this.banner.hidden = this.storage.getItem(this.dismissKey()) === b.sent_at;
      this.banner.dataset.sentAt = b.sent_at;
    } else {
      this.banner.hidden = true;
    }
    this.helpButton.textContent = notices.hand ? "Hand raised · lower" : "I need help";
    this.helpButton.dataset.raised = String(Boolean(notices.hand));
  }

  private async toggleHand(): Promise<void> {
    if (this.current.hand) {
      const response = await this.request("DELETE").catch(() => null);
      if (response?.ok) this.show({ ...this.current, hand: null });
      return;
    }
    const text = await promptText({
      title: "Ask for help",
      label: "What are you stuck on? (optional)",
      confirmLabel: "Raise my hand",
      validate: (value) => (value.trim().length > HAND_TEXT_MAX ? `At most ${HAND_TEXT_MAX} characters.` : null),
    });
    if (text === null) return;
    const response = await this.request("PUT", { text }).catch(() => null);
    if (!response?.ok) return toast("Could not reach your workspace; try again.", "error");
    this.show({ ...this.current, hand: { text, waited: 0 } });
    toast("Your instructor can see your raised hand.");
  }
}

/** The later of two broadcasts (ISO `sent_at` from the same API clock compare as text). A host
 * that came up after a broadcast has none; the one the learner got at join then shows. */
export function newest(a: Broadcast | null, b: Broadcast | null): Broadcast | null {
  if (!a) return b;
  if (!b) return a;
  return b.sent_at > a.sent_at ? b : a;
}
