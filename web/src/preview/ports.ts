/**
 * The Ports panel: listening ports detected in the learner's seat, each with Open (the app
 * preview at its own origin, see docs/preview.md) and "Share with instructor".
 *
 * Open asks the agent for a one-time URL and navigates a window opened synchronously in the
 * click (so popup blockers allow it) and cut off from this page (`opener = null`): the
 * preview runs learner code, which must never reach this page or its storage.
 */
import type { Seat } from "../seat";
import { clear, h } from "../ui/dom";
import { toast } from "../ui/toast";
import "./ports.css";

const POLL_MS = 3000;

interface PortInfo {
  port: number;
  origin: string;
  shared: boolean;
  listening: boolean;
}

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

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const { endpoint, seat } = this.seat.session;
    const headers: Record<string, string> = { Authorization: `Bearer ${await this.seat.token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${endpoint}/seats/${seat}/preview/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  }

  private async poll(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    try {
      const response = await this.request("GET", "ports");
      if (response.ok) this.render(((await response.json()) as { ports: PortInfo[] }).ports);
    } catch {
      /* offline or the host restarting: the next poll tries again */
    }
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
      open.addEventListener("click", () => void this.open(info.port));
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

  private async open(port: number): Promise<void> {
    const win = window.open("about:blank", "_blank");
    try {
      const response = await this.request("POST", `ports/${port}/open`);
      if (!response.ok) throw new Error(`the host said ${response.status}`);
      const { url } = (await response.json()) as { url: string };
      if (win === null) {
        toast("Allow pop-ups for this page to open previews.", "error");
        return;
      }
      win.opener = null;
      win.location.href = url;
    } catch (error) {
      win?.close();
      toast(`Could not open port ${port}: ${(error as Error).message}`, "error");
    }
  }

  private async share(port: number, box: HTMLInputElement): Promise<void> {
    try {
      const response = await this.request("PUT", `ports/${port}/shared`, { shared: box.checked });
      if (!response.ok) throw new Error(`the host said ${response.status}`);
    } catch (error) {
      box.checked = !box.checked;
      toast(`Could not change sharing: ${(error as Error).message}`, "error");
    }
  }
}
