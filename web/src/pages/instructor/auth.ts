/**
 * Instructor sign-in. Local mode: `clarateach local up` prints `/instructor#token=…`; the
 * token is taken from the URL fragment (never the query string, so it is never sent to a
 * server or logged), kept in sessionStorage (gone when the tab closes) and removed from the
 * address bar at once. A token can also be pasted into the sign-in form.
 */
const KEY = "clarateach.instructor.token";

export interface TokenStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Move `#token=` from the URL into storage; returns the token to use (or null). */
export function takeToken(storage: TokenStore, location: Location, history: History): string | null {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLink = fragment.get("token");
  if (fromLink) {
    storage.setItem(KEY, fromLink.trim());
    history.replaceState(null, "", location.pathname + location.search);
  }
  return storage.getItem(KEY);
}

export function saveToken(storage: TokenStore, token: string): void {
  storage.setItem(KEY, token.trim());
}

export function forgetToken(storage: TokenStore): void {
  storage.removeItem(KEY);
}
