/**
 * The agent's preview API for one seat (docs/preview.md), shared by the learner's Ports
 * panel and the cockpit's shadow pane.
 *
 * `openPreview` asks the agent for a one-time URL and navigates a window opened
 * synchronously in the click (so popup blockers allow it) and cut off from this page
 * (`opener = null`): the preview runs learner code, which must never reach this page or its
 * storage. Everything the agent returns is used as data, never as HTML.
 */
import { toast } from "../ui/toast";

export const POLL_MS = 3000;

export interface PortInfo {
  port: number;
  origin: string;
  shared: boolean;
  listening: boolean;
}

/** Where a seat's previews are asked for: the agent's endpoint and a bearer token. */
export interface PreviewSource {
  endpoint: string;
  seat: number;
  token(): Promise<string>;
}

export async function previewRequest(source: PreviewSource, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${await source.token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`${source.endpoint}/seats/${source.seat}/preview/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

/** The seat's ports, or `null` when the agent could not be asked (try again later). */
export async function listPorts(source: PreviewSource): Promise<PortInfo[] | null> {
  try {
    const response = await previewRequest(source, "GET", "ports");
    if (!response.ok) return null;
    const body = (await response.json()) as { ports?: unknown };
    return Array.isArray(body.ports) ? body.ports.filter(isPortInfo) : null;
  } catch {
    return null; /* offline or the host restarting */
  }
}

function isPortInfo(value: unknown): value is PortInfo {
  const info = value as PortInfo;
  return typeof info === "object" && info !== null && Number.isInteger(info.port) && typeof info.shared === "boolean" && typeof info.listening === "boolean";
}

/** Call from a click handler: the window must be opened before the first `await`. */
export async function openPreview(source: PreviewSource, port: number): Promise<void> {
  const win = window.open("about:blank", "_blank");
  try {
    const response = await previewRequest(source, "POST", `ports/${port}/open`);
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
