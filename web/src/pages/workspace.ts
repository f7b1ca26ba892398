/**
 * The workspace: file tree | editor over terminal, with the seat and connection state in
 * the header. Everything talks to the workspace agent through the `Seat` (token refresh).
 */
import { archiveFileName, downloadWorkspace } from "../download";
import { showChanges } from "../editor/changes";
import { EditorPane } from "../editor/pane";
import { FilesClient } from "../files/client";
import { FileTree } from "../files/tree";
import { GuideClient } from "../guide/client";
import { GuidePane } from "../guide/pane";
import { WatchConnection } from "../files/watch";
import { PortsPanel } from "../preview/ports";
import { RoomNotices } from "../room/notices";
import { ScheduleView } from "../schedule/view";
import { isPermanentSeatLoss, type Seat } from "../seat";
import { displayCode } from "../session";
import type { StateChange } from "../terminal/connection";
import { TerminalView, type TerminalReader } from "../terminal/view";
import { confirmAction } from "../ui/dialog";
import { h } from "../ui/dom";
import { splitter } from "../ui/splitter";
import { toast } from "../ui/toast";
import { brand } from "./join";

declare global {
  interface Window {
    /** Test and debugging hook: read the terminal buffer as text. */
    __claraTerm?: TerminalReader;
  }
}

export interface WorkspaceOptions {
  seat: Seat;
  /** First visit after a fresh join: show the "write this down" banner. */
  justJoined: boolean;
  /** The learner chose to leave this seat on this device. */
  onLeave(): void;
}

export function renderWorkspace(root: HTMLElement, options: WorkspaceOptions): () => void {
  const { seat } = options;
  const session = seat.session;
  const files = new FilesClient(seat);

  const status = h("span", { class: "conn-state", id: "connection-state", role: "status", "data-state": "connecting" }, "Connecting…");
  const reconnectNow = h("button", { type: "button", class: "btn small", hidden: true }, "Reconnect now");
  const changesButton = h("button", { type: "button", class: "btn", id: "changes-button", title: "Files changed since you last looked" }, "Changes");
  const download = h("button", { type: "button", class: "btn primary", id: "download-button" }, "Download my work");
  const codeButton = h("button", { type: "button", class: "btn ghost", "aria-expanded": "false" }, "Reconnect code");
  const leave = h("button", { type: "button", class: "btn ghost" }, "Leave seat");
  const guideSlot = h("span", { class: "guide-slot" });
  const schedule = new ScheduleView({ auth: seat, download: () => download.click() });
  const notices = new RoomNotices(seat);
  const ports = new PortsPanel(seat);
  const header = h(
    "header",
    { class: "topbar" },
    brand(),
    h("span", { class: "workshop-name", title: session.workshopName }, session.workshopName),
    h("span", { class: "seat-badge", id: "seat-badge" }, `Seat ${session.seat}`),
    h("span", { class: "spacer" }),
    schedule.countdown,
    status,
    notices.helpButton,
    reconnectNow,
    guideSlot,
    codeButton,
    ports.button,
    changesButton,
    download,
    leave,
  );

  const banner = seatBanner(session.seat, session.reconnectCode, displayCode(session.code));
  banner.hidden = !options.justJoined;
  codeButton.addEventListener("click", () => {
    banner.hidden = !banner.hidden;
    codeButton.setAttribute("aria-expanded", String(!banner.hidden));
  });

  const sidebar = h("aside", { class: "sidebar", "aria-label": "Files" });
  const editorHost = h("section", { class: "editor-pane", "aria-label": "Editor" });
  const terminalHost = h("div", { class: "terminal-host" });
  const terminalPane = h(
    "section",
    { class: "terminal-pane", "aria-label": "Terminal" },
    h("h2", { class: "visually-hidden" }, "Terminal"),
    terminalHost,
    schedule.statusLine,
  );
  const right = h("div", { class: "right-column" });
  const layout = h("div", { class: "workspace" });

  const editor = new EditorPane(editorHost, files, {
    persistKey: `clarateach.tabs.${session.workshopId}.${session.seat}`,
  });
  const tree = new FileTree(sidebar, files, {
    open: (path) => void editor.open(path),
    renamed: (from, to) => editor.renamed(from, to),
    deleted: (path) => editor.deleted(path),
  });
  const terminal = new TerminalView(terminalHost, {
    seat,
    isPermanentLoss: isPermanentSeatLoss,
    onState: (change) => showState(change),
  });

  right.append(
    editorHost,
    splitter({ layout: right, property: "--editor-height", orientation: "horizontal", label: "Resize editor and terminal", min: 0.1, max: 0.85, initial: 0.42, onResize: () => terminal.refit() }),
    terminalPane,
  );
  layout.append(
    sidebar,
    splitter({ layout, property: "--sidebar-width", orientation: "vertical", label: "Resize file list", min: 0.12, max: 0.45, initial: 0.2, onResize: () => terminal.refit() }),
    right,
  );
  root.replaceChildren(h("div", { class: "app" }, header, ports.panel, notices.banner, schedule.banner, banner, layout));

  // The guide pane, only when the workshop has a content pack (the agent says 404 otherwise).
  const guide = new GuidePane(
    new GuideClient(seat),
    terminal,
    (collapsed) => {
      layout.classList.toggle("guide-collapsed", collapsed);
      terminal.refit();
    },
    `clarateach.guide.${session.workshopId}.${session.seat}`,
  );
  void guide
    .start()
    .then((present) => {
      if (!present) return;
      guideSlot.append(guide.expandButton);
      layout.classList.add("with-guide");
      layout.append(
        splitter({ layout, property: "--guide-width", orientation: "vertical", label: "Resize guide", min: 0.18, max: 0.6, initial: 0.3, fromEnd: true, onResize: () => terminal.refit() }),
        guide.element,
      );
      terminal.refit();
    })
    .catch((error: Error) => toast(`The guide could not be loaded: ${error.message}`, "error"));
  document.title = `Seat ${session.seat} · ${session.workshopName} — ClaraTeach`;

  let ended = "";
  const watch = new WatchConnection(
    seat,
    {
      changes: (paths) => {
        tree.changed(paths);
        editor.diskChanged(paths);
      },
      resync: () => {
        tree.scheduleRefresh();
        editor.resync();
      },
      limited: () => tree.limited(),
    },
    { isEnded: () => ended !== "" },
  );

  function showState(change: StateChange): void {
    status.dataset.state = change.state;
    const labels: Record<StateChange["state"], string> = {
      connecting: "Connecting…",
      connected: change.readonly ? "Connected (read-only)" : "Connected",
      reconnecting:
        change.retryInMs !== undefined ? `Reconnecting in ${Math.ceil(change.retryInMs / 1000)} s…` : "Reconnecting…",
      disconnected: "Disconnected",
    };
    status.textContent = labels[change.state];
    status.title = change.detail ?? "";
    reconnectNow.hidden = change.state !== "reconnecting";
    if (change.state === "disconnected") {
      // Final: the workshop ended (or the seat is gone). Say so everywhere, not "network".
      ended = change.detail || "This workshop is no longer running.";
      files.endedMessage = ended;
      watch.stop();
      status.textContent = "Workshop ended";
      if (change.detail) toast(change.detail, "error", 10_000);
    }
  }

  reconnectNow.addEventListener("click", () => terminal.connection.retryNow());
  changesButton.addEventListener("click", () => void showChanges(files, (path) => void editor.open(path)));
  const online = () => terminal.connection.retryNow();
  window.addEventListener("online", online);

  download.addEventListener("click", async () => {
    download.disabled = true;
    download.textContent = "Preparing zip…";
    try {
      await downloadWorkspace(files, archiveFileName(session.workshopName, session.workshopId, session.seat));
    } catch (error) {
      toast(`Download failed: ${(error as Error).message}`, "error");
    } finally {
      download.disabled = false;
      download.textContent = "Download my work";
    }
  });

  leave.addEventListener("click", async () => {
    const current = seat.session;
    const ok = await confirmAction(
      "Leave this seat on this device?",
      `Your files stay in the workshop. To come back, use workshop code ${displayCode(current.code)} and reconnect code ${current.reconnectCode}.`,
      "Leave seat",
    );
    if (ok) {
      dispose();
      options.onLeave();
    }
  });

  const beforeUnload = (event: BeforeUnloadEvent) => {
    if (!editor.hasUnsavedChanges()) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers need a value to show the prompt
  };
  window.addEventListener("beforeunload", beforeUnload);

  terminalPane.addEventListener("click", () => terminal.focus());
  terminal.open();
  schedule.start();
  notices.start();
  window.__claraTerm = terminal.reader();
  void tree.refresh();
  watch.start();
  void editor.restore();

  function dispose(): void {
    watch.stop();
    document.title = "ClaraTeach";
    window.removeEventListener("beforeunload", beforeUnload);
    window.removeEventListener("online", online);
    terminal.dispose();
    schedule.dispose();
    notices.stop();
    ports.stop();
    delete window.__claraTerm;
  }
  return dispose;
}

function seatBanner(seatNumber: number, reconnectCode: string, workshopCode: string): HTMLElement {
  const dismiss = h("button", { type: "button", class: "btn small" }, "I've written it down");
  const banner = h(
    "section",
    { class: "seat-banner", id: "seat-banner", "aria-label": "Your seat" },
    h(
      "div",
      {},
      h("p", { class: "seat-line" }, "You are in ", h("strong", {}, `seat ${seatNumber}`), "."),
      h(
        "p",
        {},
        "Write this down — your reconnect code: ",
        h("code", { class: "reconnect-code", id: "reconnect-code" }, reconnectCode),
      ),
      h("p", { class: "help" }, `With it and the workshop code ${workshopCode} you can get back to this seat from any device.`),
    ),
    dismiss,
  );
  dismiss.addEventListener("click", () => {
    banner.hidden = true;
  });
  return banner;
}
