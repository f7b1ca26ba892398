import { ApiRoutes, type Operation } from "../../routing";

/**
 * The instructor side of the ClaraTeach API (docs/protocol.md §1) and the agents' read-only
 * activity route. Every failure is an `InstructorError` carrying the server's message.
 */
export class InstructorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "InstructorError";
  }
}

export interface Host {
  index: number;
  status: string;
  endpoint: string | null;
  seat_first: number;
  seat_last: number;
  error: string | null;
}

export interface CostFigures {
  kind: string;
  vm_usd: number | null;
  model_usd: number | null;
  total_usd: number | null;
}

export interface Workshop {
  id: string;
  name: string;
  code: string;
  seats: number;
  seats_per_host: number;
  status: string;
  error: string | null;
  model_paused: boolean;
  /** Seats whose model access alone is paused. */
  paused_seats: number[];
  hosts: Host[];
  cost: { estimate: CostFigures | null; so_far: CostFigures | null; final: CostFigures | null } | null;
}

export interface RoomSeat {
  seat: number;
  claimed: boolean;
  /** `display_name` is the learner's own text: set it as text only. */
  claim: { host: number; joined_at: string; last_seen: string; display_name: string | null } | null;
  requests: number;
  tokens: number;
  cost_usd: number;
  budget_usd: number | null;
  budget_share: number | null;
  model_paused: boolean;
  /** Model errors counted by the seat's gateway (docs/cockpit.md). */
  errors: ModelErrors;
}

export interface ModelErrors {
  upstream_unreachable: number;
  key_refused: number;
  budget_refused: number;
  rate_refused: number;
  paused_refused: number;
}

export interface SeatLimits {
  requests_per_minute?: number | null;
  max_input_tokens?: number | null;
  max_output_tokens?: number | null;
  budget_usd?: number | null;
}

/** The model policy in force (docs/gateway.md); the cockpit edits `defaults` only. */
export interface ModelPolicy {
  defaults: SeatLimits;
  [key: string]: unknown;
}

/** `GET …/progress` (docs/content-packs.md): the content pack's steps and where seats are. */
export interface ProgressStep {
  step: number;
  id: string;
  title: string;
  seats: number;
}

export interface SeatProgress {
  seat: number;
  step: number;
  checks_passed: string[];
}

export interface Progress {
  content: { title: string; steps: { id: string; title: string; check: boolean }[] } | null;
  seats: SeatProgress[];
  histogram: ProgressStep[];
}

export interface Room {
  workshop: Workshop;
  seats: RoomSeat[];
  totals: Record<string, number>;
  broadcast: { message: string; sent_at: string; by: string } | null;
  policy: ModelPolicy;
}

export interface ShadowGrant {
  token: string;
  expires_in: number;
  hosts: { index: number; endpoint: string | null; seat_first: number; seat_last: number }[];
}

export interface SeatActivity {
  sockets: number;
  shadows: number;
  input_age: number | null;
  output_age: number | null;
  foreground: string | null;
  hand: { text: string; waited: number } | null;
  /** The seat's gateway, live: its pause and error counters (null without a gateway). */
  model?: { paused: boolean; errors: ModelErrors } | null;
}

export interface CreateRequest {
  name: string;
  seats: number;
  seats_per_host?: number;
  api_key: string;
  model_policy?: unknown;
}

type FetchLike = typeof fetch;

const ws = (id: string, tail = "") => `/api/workshops/${encodeURIComponent(id)}${tail}`;

/**
 * Every call names its API operation, so that on the split layout it goes to the function
 * serving it (`ApiRoutes`, generated from functions/entrypoints.py).
 */
export class InstructorClient {
  private readonly routes: ApiRoutes;

  constructor(
    routes: ApiRoutes | string,
    private readonly token: string,
    private readonly fetchImpl: FetchLike = (input, init) => fetch(input, init),
  ) {
    this.routes = typeof routes === "string" ? new ApiRoutes(routes) : routes;
  }

  private async call<T>(method: string, operation: Operation, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return request<T>(this.fetchImpl, this.routes.url(operation, path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  }

  async list(): Promise<Workshop[]> {
    return (await this.call<{ workshops: Workshop[] }>("GET", "list_workshops", "/api/workshops?limit=200")).workshops;
  }

  async create(req: CreateRequest): Promise<Workshop> {
    return (await this.call<{ workshop: Workshop }>("POST", "create_workshop", "/api/workshops", req)).workshop;
  }

  async start(id: string): Promise<Workshop> {
    return (await this.call<{ workshop: Workshop }>("POST", "start_workshop", ws(id, "/start"))).workshop;
  }

  async stop(id: string): Promise<Workshop> {
    return (await this.call<{ workshop: Workshop }>("POST", "stop_workshop", ws(id, "/stop"))).workshop;
  }

  progress(id: string): Promise<Progress> {
    return this.call<Progress>("GET", "get_progress", `/api/workshops/${encodeURIComponent(id)}/progress`);
  }

  room(id: string): Promise<Room> {
    return this.call<Room>("GET", "get_room", ws(id, "/room"));
  }

  async broadcast(id: string, message: string): Promise<void> {
    await this.call("POST", "broadcast", ws(id, "/broadcast"), { message });
  }

  /** Mark a raised hand done on its host (`DELETE /control/hands/{seat}`). */
  async handDone(endpoint: string, shadowToken: string, seat: number): Promise<void> {
    const response = await this.fetchImpl(`${endpoint}/control/hands/${seat}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${shadowToken}` },
      credentials: "omit",
    }).catch(() => null);
    if (!response || (!response.ok && response.status !== 404)) {
      throw new InstructorError(response?.status ?? 0, "host_error", `Seat ${seat}'s host did not answer.`);
    }
  }

  async releaseSeat(id: string, seat: number): Promise<void> {
    await this.call("POST", "release_seat", ws(id, "/release-seat"), { seat });
  }

  async resetSeat(id: string, seat: number): Promise<void> {
    await this.call("POST", "reset_seat", ws(id, "/reset-seat"), { seat });
  }

  /** Pause (`paused`) or resume model access: of one `seat`, or of every seat. */
  async setModelAccess(id: string, paused: boolean, seat?: number): Promise<void> {
    const body: { paused: boolean; seat?: number } = { paused };
    if (seat !== undefined) body.seat = seat;
    await this.call("POST", "set_model_access", ws(id, "/model-access"), body);
  }

  /** Replace the model policy (running hosts apply it to the next model request). */
  async setPolicy(id: string, policy: ModelPolicy): Promise<Workshop> {
    const body = { model_policy: policy };
    return (await this.call<{ workshop: Workshop }>("POST", "set_model_policy", ws(id, "/model-policy"), body)).workshop;
  }

  shadowToken(id: string): Promise<ShadowGrant> {
    return this.call<ShadowGrant>("POST", "shadow_token", ws(id, "/shadow-token"));
  }

  /** One host's live terminal activity (`GET /control/activity`, instructor token). */
  async activity(endpoint: string, shadowToken: string): Promise<Record<string, SeatActivity>> {
    const body = await request<{ seats: Record<string, SeatActivity> }>(this.fetchImpl, `${endpoint}/control/activity`, {
      headers: { Authorization: `Bearer ${shadowToken}` },
      credentials: "omit",
      cache: "no-store",
    });
    return body.seats;
  }
}

async function request<T>(fetchImpl: FetchLike, url: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetchImpl(url, init);
  } catch (exc) {
    throw new InstructorError(0, "network", `Cannot reach the server (${exc instanceof Error ? exc.message : String(exc)}).`);
  }
  const parsed = (await response.json().catch(() => null)) as { error?: { code?: unknown; message?: unknown } } | null;
  if (!response.ok) {
    const code = typeof parsed?.error?.code === "string" ? parsed.error.code : "http_error";
    const message = typeof parsed?.error?.message === "string" ? parsed.error.message : `HTTP ${response.status}`;
    throw new InstructorError(response.status, code, message);
  }
  return parsed as T;
}
