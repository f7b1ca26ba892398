/**
 * The join page: workshop code → seat; or workshop code + reconnect code → the same seat
 * again (another device, cleared browser).
 *
 * A double-submitted join reuses its client nonce, so the server hands out one seat.
 */
import { ApiClient, type JoinResult } from "../api";
import { joinFailureMessage } from "../messages";
import { randomNonce } from "../nonce";
import { h } from "../ui/dom";

export interface JoinPageOptions {
  api: ApiClient;
  /** Called with the code as typed and the join result; `fresh` is false for a reconnect-code rejoin. */
  onJoined(code: string, result: JoinResult, fresh: boolean): void;
  /** A message to show above the form (e.g. "your previous workshop has ended"). */
  notice?: string;
  /** Code to prefill (from a join link). */
  initialCode?: string;
}

/** Codes are compared loosely here only to decide whether a retry is "the same" join. */
const looseKey = (code: string) => code.toUpperCase().replace(/[\s-]+/g, "");

export function renderJoinPage(root: HTMLElement, options: JoinPageOptions): void {
  let nonce = { key: "", value: "" };
  const nonceFor = (code: string): string => {
    if (nonce.key !== looseKey(code)) nonce = { key: looseKey(code), value: randomNonce() };
    return nonce.value;
  };

  const codeInput = h("input", {
    id: "join-code",
    name: "code",
    type: "text",
    inputmode: "text",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    placeholder: "e.g. CLAUDE-7KQ2",
    required: true,
    "aria-describedby": "join-code-help",
  });
  codeInput.value = options.initialCode ?? "";
  const nameInput = h("input", {
    id: "join-name",
    name: "display_name",
    type: "text",
    autocomplete: "nickname",
    maxlength: 40,
    placeholder: "optional",
    "aria-describedby": "join-name-help",
  });
  const joinButton = h("button", { type: "submit", class: "btn primary large", id: "join-button" }, "Join workshop");
  const joinError = h("p", { class: "form-error", id: "join-error", role: "alert" });
  const joinForm = h(
    "form",
    { class: "card join-card", "aria-labelledby": "join-title", novalidate: true },
    h("h1", { id: "join-title" }, "Join your workshop"),
    h("label", { for: "join-code" }, "Workshop code"),
    codeInput,
    h("p", { id: "join-code-help", class: "help" }, "Your instructor shows this code. Upper or lower case, with or without the dash."),
    h("label", { for: "join-name" }, "Your name"),
    nameInput,
    h("p", { id: "join-name-help", class: "help" }, "Optional, up to 40 characters: shown to your instructor."),
    joinError,
    joinButton,
  );

  const rejoinCode = h("input", { id: "rejoin-code", type: "text", autocomplete: "off", spellcheck: "false", required: true });
  const rejoinSecret = h("input", { id: "rejoin-reconnect-code", type: "text", autocomplete: "off", spellcheck: "false", required: true });
  const rejoinName = h("input", { id: "rejoin-name", type: "text", autocomplete: "nickname", maxlength: 40, placeholder: "keep my name" });
  const rejoinButton = h("button", { type: "submit", class: "btn", id: "rejoin-button" }, "Rejoin my seat");
  const rejoinError = h("p", { class: "form-error", id: "rejoin-error", role: "alert" });
  const rejoinForm = h(
    "form",
    { class: "rejoin-form", novalidate: true },
    h("label", { for: "rejoin-code" }, "Workshop code"),
    rejoinCode,
    h("label", { for: "rejoin-reconnect-code" }, "Reconnect code"),
    rejoinSecret,
    h("label", { for: "rejoin-name" }, "Your name (optional)"),
    rejoinName,
    rejoinError,
    rejoinButton,
  );
  const rejoin = h(
    "details",
    { class: "card rejoin-card" },
    h("summary", {}, "Already have a seat? Rejoin with your reconnect code"),
    h("p", { class: "help" }, "Use this on another computer, or if your browser forgot your seat."),
    rejoinForm,
  );

  joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = codeInput.value.trim();
    if (!code) {
      joinError.textContent = "Enter the workshop code your instructor gave you.";
      codeInput.focus();
      return;
    }
    void submit(joinButton, joinError, "Joining…", async () => {
      const result = await options.api.join({ code, clientNonce: nonceFor(code), displayName: nameInput.value });
      options.onJoined(code, result, true);
    });
  });

  rejoinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = rejoinCode.value.trim();
    const reconnectCode = rejoinSecret.value.trim();
    if (!code || !reconnectCode) {
      rejoinError.textContent = "Enter both the workshop code and your reconnect code.";
      return;
    }
    void submit(rejoinButton, rejoinError, "Rejoining…", async () => {
      const result = await options.api.join({ code, reconnectCode, displayName: rejoinName.value });
      options.onJoined(code, result, false);
    });
  });

  root.replaceChildren(
    h(
      "main",
      { class: "join-page" },
      brand(),
      options.notice ? h("p", { class: "notice", role: "status" }, options.notice) : null,
      joinForm,
      rejoin,
      h("p", { class: "footer-note" }, "Your files live on the workshop machine. Use “Download my work” before the workshop ends."),
    ),
  );
  (options.initialCode ? joinButton : codeInput).focus();
}

/** Disable the button while one request is in flight; show the failure message if any. */
async function submit(button: HTMLButtonElement, error: HTMLElement, busyLabel: string, action: () => Promise<void>): Promise<void> {
  if (button.disabled) return; // double click: the first request is still running
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyLabel;
  error.textContent = "";
  try {
    await action();
  } catch (exc) {
    error.textContent = joinFailureMessage(exc);
    button.disabled = false;
    button.textContent = label;
  }
}

export function brand(): HTMLElement {
  return h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "❯_"), h("span", {}, "ClaraTeach"));
}
