/**
 * The Ports panel: listening ports detected in the learner's seat, each with Open (the app
 * preview at its own origin, see docs/preview.md) and "Share with instructor".
 *
 * Open: `openPreview` (a window cut off from this page, see ./open.ts).
 */
import type { Seat } from "../seat";
import { clear, h } from "../ui/dom";
import { toast } from "../ui/toast";
import { listPorts, openPreview, POLL_MS, previewRequest, type PortInfo, type PreviewSource } from "./open";
import "./ports.css";

export class PortsPanel {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLElement;
  private readonly list: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly seat: Seat) {
    this.button = h("button", { type: "button", class: "btn", id: "ports-button", "aria-expanded": "false", "aria-controls": "ports-panel" }, "Ports");
    this.list = h("ul", { class: "ports-list", id: "ports-list" });
    this.panel = h(
      "section",
      { class: "ports-panel", id: "ports-panel", "aria-label": "Ports", hidden: true },
      h("h2", {}, "Ports in your seat"),
      h("p", { class: "help" }, "Servers listening in your seat (start yours with --host 0.0.0.0 or 127.0.0.1). Each opens at its own private address."),
      this.list,
    );
    this.button.addEventListener("click", () => this.toggle());
    this.render([]);
  }

  toggle(): void {
    this.panel.hidden = !this.panel.hidden;
    this.button.setAttribute("aria-expanded", String(!this.panel.hidden));
    if (!this.panel.hidden) void this.poll();
    else if (this.timer !== null) clearTimeout(this.timer);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private source(): PreviewSource {
    const { endpoint, seat } = this.seat.session;
    return { endpoint, seat, token: () => this.seat.token() };
  }

  private async poll(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    const ports = await listPorts(this.source()); // null: offline, the next poll tries again
    if (ports !== null) this.render(ports);
    if (!this.stopped && !this.panel.hidden) this.timer = setTimeout(() => void this.poll(), POLL_MS);
  }

  private render(ports: PortInfo[]): void {
    clear(this.list);
    if (ports.length === 0) {
      this.list.append(h("li", { class: "ports-empty" }, "Nothing is listening in your seat yet."));
      return;
    }
    for (const info of ports) {
      const open = h("button", { type: "button", class: "btn small primary", "data-port": info.port }, "Open");
      const share = h("input", { type: "checkbox", "data-port": info.port, checked: info.shared });
      open.addEventListener("click", () => void openPreview(this.source(), info.port));
      share.addEventListener("change", () => void this.share(info.port, share));
      this.list.append(
        h(
          "li",
          { class: "port-row", "data-port": info.port },
          h("span", { class: "port-number" }, `Port ${info.port}`),
          info.listening ? null : h("span", { class: "port-idle" }, "(not listening)"),
          open,
          h("label", { class: "port-share" }, share, " Share with instructor"),
        ),
      );
    }
  }

  private async share(port: number, box: HTMLInputElement): Promise<void> {
    try {
      const response = await previewRequest(this.source(), "PUT", `ports/${port}/shared`, { shared: box.checked });
      if (!response.ok) throw new Error(`the host said ${response.status}`);
    } catch (error) {
      box.checked = !box.checked;
      toast(`Could not change sharing: ${(error as Error).message}`, "error");
    }
  }
}
