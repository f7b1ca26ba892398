/**
 * Runtime configuration, fetched from `config.json` next to index.html at start-up.
 *
 * One build serves every deployment: locally the platform serves `{"apiBaseUrl": ""}`
 * (same origin); on GCP the bucket's config.json names the API's URL.
 */
export interface AppConfig {
  /** Base URL the `/api/...` paths are appended to; "" means this page's origin. */
  apiBaseUrl: string;
}

export const DEFAULT_CONFIG: AppConfig = { apiBaseUrl: "" };

/** Parse an untrusted config document, falling back to defaults for anything missing or odd. */
export function parseConfig(raw: unknown): AppConfig {
  if (raw === null || typeof raw !== "object") return { ...DEFAULT_CONFIG };
  const base = (raw as Record<string, unknown>).apiBaseUrl;
  return { apiBaseUrl: typeof base === "string" ? base.trim().replace(/\/+$/, "") : "" };
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
