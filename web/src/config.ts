/**
 * Runtime configuration, fetched from `config.json` next to index.html at start-up.
 *
 * One build serves every deployment: locally the platform serves `{"apiBaseUrl": ""}`
 * (same origin); on GCP Terraform writes the bucket's config.json (terraform/web.tf):
 * `apiBaseUrl` (the public join function), `apiUrls` (each function's base URL, the
 * cockpit's split-layout routing: src/routing.ts) and `googleClientId` (the OAuth web client
 * of the cockpit's "Sign in with Google"; absent locally).
 */
export interface AppConfig {
  /** Base URL the `/api/...` paths are appended to; "" means this page's origin. */
  apiBaseUrl: string;
  /** Entry point name -> base URL (functions/entrypoints.py); null: everything at apiBaseUrl. */
  apiUrls: Record<string, string> | null;
  /** OAuth 2.0 web client ID for Google Identity Services; null: no Google button. */
  googleClientId: string | null;
}

export const DEFAULT_CONFIG: AppConfig = { apiBaseUrl: "", apiUrls: null, googleClientId: null };

const trimUrl = (url: string) => url.trim().replace(/\/+$/, "");
const isHttpUrl = (url: string) => /^https?:\/\/[^\s/]+/i.test(url);

/** Parse an untrusted config document, falling back to defaults for anything missing or odd. */
export function parseConfig(raw: unknown): AppConfig {
  if (raw === null || typeof raw !== "object") return { ...DEFAULT_CONFIG };
  const record = raw as Record<string, unknown>;
  const base = record.apiBaseUrl;
  return {
    apiBaseUrl: typeof base === "string" ? trimUrl(base) : "",
    apiUrls: parseUrls(record.apiUrls),
    googleClientId: parseClientId(record.googleClientId),
  };
}

/** Only http(s) URLs with a host; anything else is dropped (that function then falls back). */
function parseUrls(raw: unknown): Record<string, string> | null {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return null;
  const urls: Record<string, string> = {};
  for (const [name, url] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof url === "string" && isHttpUrl(url.trim())) urls[name] = trimUrl(url);
  }
  return Object.keys(urls).length ? urls : null;
}

/** `NNNN-xxxx.apps.googleusercontent.com`, the shape of a Google OAuth client ID. */
function parseClientId(raw: unknown): string | null {
  if (typeof raw !== "string") return null;
  const id = raw.trim();
  return /^[\w.-]+\.apps\.googleusercontent\.com$/.test(id) ? id : null;
}

/** Fetch `config.json` relative to the page; a missing file means "same origin". */
export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<AppConfig> {
  try {
    const response = await fetchImpl("config.json", { cache: "no-store" });
    if (!response.ok) return { ...DEFAULT_CONFIG };
    return parseConfig(await response.json());
  } catch {
    return { ...DEFAULT_CONFIG };
  }
}
