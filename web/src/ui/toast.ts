/** Short-lived status messages in a polite live region (errors use role=alert). */
import { h } from "./dom";

let region: HTMLElement | null = null;

function container(): HTMLElement {
  if (!region || !region.isConnected) {
    region = h("div", { class: "toasts", "aria-live": "polite" });
    document.body.append(region);
  }
  return region;
}

export function toast(message: string, kind: "info" | "error" = "info", ms = 4000): void {
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  container().append(item);
  setTimeout(() => item.remove(), kind === "error" ? ms * 2 : ms);
}
