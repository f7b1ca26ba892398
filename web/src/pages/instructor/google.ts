/**
 * "Sign in with Google" for the cockpit on GCP (Google Identity Services, GIS).
 *
 * GIS's button hands the page a `credential`: a Google-signed ID token whose `aud` is the OAuth
 * web client ID (`googleClientId` in config.json), valid for about an hour
 * (https://developers.google.com/identity/gsi/web/reference/js-reference). The API verifies it
 * (shared/auth/instructor.py, `CLARATEACH_INSTRUCTOR_WEB_CLIENT_ID`); the page only reads its
 * `exp` to re-prompt before it lapses. The token is kept like the local admin token:
 * sessionStorage only (auth.ts).
 *
 * The library is loaded on demand from https://accounts.google.com/gsi/client, which
 * instructor.html's CSP allows (with Google's documented frame-src, connect-src and style-src
 * https://accounts.google.com/gsi/ entries); the learner page's CSP does not.
 */
export const GIS_CLIENT_URL = "https://accounts.google.com/gsi/client";

/** Re-prompt this long before the ID token's `exp`. */
export const RENEW_MARGIN_MS = 60_000;

interface CredentialResponse {
  credential?: string;
  select_by?: string;
}

interface GoogleAccountsId {
  initialize(options: {
    client_id: string;
    callback: (response: CredentialResponse) => void;
    auto_select?: boolean;
    cancel_on_tap_outside?: boolean;
    use_fedcm_for_prompt?: boolean;
  }): void;
  renderButton(parent: HTMLElement, options: Record<string, string | number>): void;
  prompt(): void;
  disableAutoSelect(): void;
}

declare global {
  interface Window {
    google?: { accounts?: { id?: GoogleAccountsId } };
  }
}

let loading: Promise<GoogleAccountsId> | null = null;

/** The GIS library, loaded once per page. Rejects if it cannot be loaded (offline, CSP). */
export function loadGis(doc: Document = document): Promise<GoogleAccountsId> {
  const ready = () => window.google?.accounts?.id;
  const existing = ready();
  if (existing) return Promise.resolve(existing);
  loading ??= new Promise<GoogleAccountsId>((resolve, reject) => {
    const script = doc.createElement("script");
    script.src = GIS_CLIENT_URL;
    script.async = true;
    script.addEventListener("load", () => {
      const id = ready();
      if (id) resolve(id);
      else reject(new Error("Google sign-in did not initialise"));
    });
    script.addEventListener("error", () => {
      loading = null;
      reject(new Error("Google sign-in could not be loaded"));
    });
    doc.head.append(script);
  });
  return loading;
}

/** Render the button into `parent`; `onToken` receives each new ID token. With `prompt`,
 * also open Google's account chooser at once (the re-prompt after an expiry). */
export async function mountGoogleButton(
  parent: HTMLElement,
  clientId: string,
  onToken: (token: string) => void,
  prompt = false,
): Promise<void> {
  const gis = await loadGis();
  gis.initialize({
    client_id: clientId,
    callback: (response) => {
      if (typeof response.credential === "string" && response.credential) onToken(response.credential);
    },
    auto_select: prompt,
    cancel_on_tap_outside: false,
    use_fedcm_for_prompt: true,
  });
  gis.renderButton(parent, { type: "standard", theme: "outline", size: "large", text: "signin_with" });
  if (prompt) gis.prompt();
}

/** Explicit sign-out: do not sign this browser straight back in. */
export function forgetGoogleSession(): void {
  window.google?.accounts?.id?.disableAutoSelect();
}

/** `exp` of a JWT in ms, or null when the token is not a JWT (the local admin token). */
export function idTokenExpiry(token: string): number | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1]!.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Milliseconds until the page should re-prompt (≤ 0: now); null: the token does not expire. */
export function renewIn(token: string, now: number = Date.now()): number | null {
  const exp = idTokenExpiry(token);
  return exp === null ? null : exp - RENEW_MARGIN_MS - now;
}
