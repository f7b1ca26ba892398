/**
 * Read (never verify) the expiry of a learner JWT, to know when to refresh it.
 *
 * The agent and API verify tokens; the browser only needs `exp` to schedule a re-join
 * before the token lapses. A token we cannot read is treated as already expired.
 */
export function tokenExpiry(token: string): number {
  const payload = token.split(".")[1];
  if (!payload) return 0;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}
