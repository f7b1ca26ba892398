/**
 * The workspace agent's guide API for one seat (workspace_agent/content/routes.py): the
 * steps, each step's Markdown, the learner's position and the step checks. Same auth as the
 * files API (Authorization header; a 401 refreshes the token once and retries).
 */
import { errorFrom, FilesError, type FilesAuth } from "../files/client";

export interface GuideProgress {
  step: number;
  checks_passed: string[];
}

export interface GuideStepSummary {
  index: number;
  id: string;
  title: string;
  has_check: boolean;
}

export interface Guide {
  title: string;
  description: string;
  steps: GuideStepSummary[];
  progress: GuideProgress;
}

export interface GuidePage extends GuideStepSummary {
  markdown: string;
}

export interface CheckResult {
  passed: boolean;
  message: string;
  timed_out: boolean;
  truncated: boolean;
  progress: GuideProgress;
}

export class GuideClient {
  constructor(
    private readonly auth: FilesAuth,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /** The guide, or `null` when the workshop has no content pack. */
  async guide(): Promise<Guide | null> {
    try {
      return (await (await this.request("GET", "guide")).json()) as Guide;
    } catch (error) {
      if (error instanceof FilesError && error.code === "no_content") return null;
      throw error;
    }
  }

  async page(index: number): Promise<GuidePage> {
    return (await (await this.request("GET", `guide/steps/${index}`)).json()) as GuidePage;
  }

  async setPosition(step: number): Promise<GuideProgress> {
    const response = await this.request("PUT", "guide/position", JSON.stringify({ step }));
    return ((await response.json()) as { progress: GuideProgress }).progress;
  }

  async check(index: number): Promise<CheckResult> {
    return (await (await this.request("POST", `guide/steps/${index}/check`)).json()) as CheckResult;
  }

  private async request(method: string, resource: string, body?: string): Promise<Response> {
    const send = async (): Promise<Response> => {
      const { endpoint, seat } = this.auth.session;
      const token = await this.auth.token();
      const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      return this.fetchImpl(`${endpoint}/seats/${seat}/${resource}`, {
        method,
        body,
        headers,
        credentials: "omit",
        cache: "no-store",
      });
    };
    let response: Response;
    try {
      response = await send();
      if (response.status === 401) {
        await this.auth.refresh();
        response = await send();
      }
    } catch (exc) {
      if (exc instanceof FilesError) throw exc;
      throw new FilesError(0, "network", "Can't reach your workspace. Check your connection.");
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }
}
