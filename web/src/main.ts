/**
 * Entry point: load config.json, then either resume the remembered seat or show the join page.
 */
import "./styles.css";
import { ApiClient } from "./api";
import { loadConfig } from "./config";
import { renderJoinPage } from "./pages/join";
import { renderWorkspace } from "./pages/workspace";
import { isPermanentSeatLoss, Seat } from "./seat";
import { needsRefresh, type SeatSession, sessionFromJoin, SessionStore } from "./session";
import { h } from "./ui/dom";

async function main(): Promise<void> {
  const root = document.getElementById("app")!;
  const config = await loadConfig();
  const api = new ApiClient(config.apiBaseUrl);
  const store = new SessionStore(window.localStorage);

  const showJoin = (notice?: string) =>
    renderJoinPage(root, {
      api,
      notice,
      initialCode: takeCodeFromUrl(),
      onJoined: (code, result, fresh) => {
        const session = sessionFromJoin(code, result);
        store.save(session);
        showWorkspace(session, fresh);
      },
    });

  const showWorkspace = (session: SeatSession, justJoined: boolean) => {
    const seat = new Seat(session, api, store);
    renderWorkspace(root, {
      seat,
      justJoined,
      onLeave: () => {
        store.clear();
        showJoin();
      },
    });
  };

  const saved = store.load();
  if (!saved) return showJoin();
  if (!needsRefresh(saved)) return showWorkspace(saved, false);

  root.replaceChildren(h("main", { class: "join-page" }, h("p", { class: "notice", role: "status" }, `Resuming seat ${saved.seat}…`)));
  const seat = new Seat(saved, api, store);
  try {
    await seat.refresh();
  } catch (error) {
    if (isPermanentSeatLoss(error)) {
      store.clear();
      return showJoin(`Your previous workshop (${saved.workshopName}) is no longer running.`);
    }
    // Offline or server hiccup: open the workspace anyway; it keeps retrying on its own.
  }
  showWorkspace(seat.session, false);
}

/** A join link carries the code as `?code=` (or `#code=`); prefill it and tidy the URL. */
function takeCodeFromUrl(): string | undefined {
  const url = new URL(window.location.href);
  const fromHash = new URLSearchParams(url.hash.slice(1)).get("code");
  const code = url.searchParams.get("code") ?? fromHash ?? undefined;
  if (code) {
    url.searchParams.delete("code");
    url.hash = "";
    window.history.replaceState(null, "", url.toString());
  }
  return code ?? undefined;
}

void main();
