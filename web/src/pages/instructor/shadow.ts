/**
 * A read-only live view of one seat's terminal: the agent's instructor path (the shadow
 * token from `POST /api/workshops/{id}/shadow-token`). The agent replays the learner's
 * current screen first and ignores every input frame from an instructor token, so nothing
 * typed here can reach the seat; the page also never forwards keys (`disableStdin`).
 * Below the header: the seat's shared app previews (./previews.ts).
 */
import { TerminalView } from "../../terminal/view";
import { h } from "../../ui/dom";
import { SeatPreviews } from "./previews";

export interface ShadowSource {
  endpoint: string;
  seat: number;
  token(): Promise<string>;
  refresh(): Promise<unknown>;
}

export class ShadowPane {
  readonly element: HTMLElement;
  private readonly view: TerminalView;
  private readonly previews: SeatPreviews;

  constructor(source: ShadowSource, onClose: () => void, actions: HTMLElement[] = []) {
    const screen = h("div", { class: "shadow-screen" });
    const state = h("span", { class: "shadow-state", role: "status" }, "connecting…");
    this.previews = new SeatPreviews({ endpoint: source.endpoint, seat: source.seat, token: () => source.token() });
    const close = h("button", { type: "button", class: "shadow-close", "aria-label": `Close shadow of seat ${source.seat}` }, "×");
    this.element = h(
      "section",
      { class: "shadow-pane", "data-seat": source.seat, "aria-label": `Seat ${source.seat} (read-only)` },
      h("header", {}, h("strong", {}, `Seat ${source.seat}`), " read-only · ", state, ...actions, close),
      this.previews.element,
      screen,
    );
    this.view = new TerminalView(screen, {
      seat: { session: { endpoint: source.endpoint, seat: source.seat }, token: () => source.token(), refresh: () => source.refresh() },
      onState: (change) => {
        state.textContent = change.state === "connected" ? "live" : change.state;
      },
      isPermanentLoss: () => false,
    });
    this.view.terminal.options.disableStdin = true;
    close.addEventListener("click", onClose);
  }

  open(): void {
    this.view.open();
    this.previews.start();
  }

  /** The shadow's buffer as text (tests read it through `window.__claraShadows`). */
  text(): string {
    return this.view.reader().text();
  }

  dispose(): void {
    this.previews.stop();
    this.view.dispose();
    this.element.remove();
  }
}
