/**
 * A shadow pane's "Previews": the seat's ports its learner shares with the instructor and
 * that are listening, each with Open (the shadow's instructor token may open only shared
 * ports; the agent enforces it). Polled while the pane is open; rendered as text only.
 */
import { listPorts, openPreview, POLL_MS, type PortInfo, type PreviewSource } from "../../preview/open";
import { clear, h } from "../../ui/dom";

export class SeatPreviews {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly source: PreviewSource) {
    this.list = h("ul", { class: "shadow-previews-list" });
    this.element = h(
      "div",
      { class: "shadow-previews", "data-seat": source.seat, "aria-label": `Previews of seat ${source.seat}` },
      h("span", { class: "shadow-previews-title" }, "Previews:"),
      this.list,
    );
    this.render([]);
  }

  start(): void {
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    const ports = await listPorts(this.source);
    if (this.stopped) return;
    if (ports !== null) this.render(ports.filter((p) => p.shared && p.listening));
    this.timer = setTimeout(() => void this.poll(), POLL_MS);
  }

  private render(ports: PortInfo[]): void {
    clear(this.list);
    if (ports.length === 0) {
      this.list.append(h("li", { class: "shadow-previews-empty" }, "none shared"));
      return;
    }
    for (const info of ports) {
      const open = h("button", { type: "button", class: "btn small", "data-port": info.port, "aria-label": `Open port ${info.port} of seat ${this.source.seat}` }, "Open");
      open.addEventListener("click", () => void openPreview(this.source, info.port));
      this.list.append(h("li", { class: "shadow-preview", "data-port": info.port }, h("span", {}, `Port ${info.port}`), " ", open));
    }
  }
}
