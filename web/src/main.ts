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
  if (isCockpitPath(window.location.pathname)) {
    // Hosting that answers unknown paths with index.html: the cockpit is its own page (with
    // its own CSP), next to this one; the fragment (#token=) goes along.
    window.location.replace(new URL(`instructor.html${window.location.hash}`, window.location.href).toString());
    return;
  }
  const config = await loadConfig();
  const api = new ApiClient(config.apiBaseUrl);
  const store = new SessionStore(window.localStorage);

  const linkCode = takeCodeFromUrl();
  const showJoin = (notice?: string) =>
    renderJoinPage(root, {
      api,
      notice,
      initialCode: linkCode,
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
  if (linkCode && !sameCode(linkCode, saved.code)) {
    // A join link for another workshop: don't drop the learner into yesterday's seat.
    return showJoin(
      `You still have seat ${saved.seat} in ${saved.workshopName} (reconnect code ${saved.reconnectCode}). ` +
        "Joining this workshop replaces it on this device.",
    );
  }
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

/** `/instructor` served with index.html (instructor.html itself never runs this file). */
function isCockpitPath(path: string): boolean {
  return /\/instructor\/?$/.test(path);
}

/** Loose comparison of two typed codes (the server is the authority on normalisation). */
function sameCode(a: string, b: string): boolean {
  const key = (code: string) => code.toUpperCase().replace(/[\s-]+/g, "");
  return key(a) === key(b);
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
