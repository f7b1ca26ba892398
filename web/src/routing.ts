/**
 * Which URL serves each API operation. On GCP's split layout every operation group is its own
 * Cloud Function with its own URL (functions/entrypoints.py); `config.json`'s `apiUrls` maps
 * entry point -> base URL (Terraform writes `terraform output api_urls` there). The operation
 * -> entry point table is `entrypoints.json`, generated from functions/entrypoints.py by
 * `python -m functions.web_table` (tests/api/test_web_table.py keeps the two equal).
 *
 * Resolution: the operation's own function URL, else the all-in-one `api` URL, else
 * `apiBaseUrl` ("" = this page's origin: the local platform serves everything there).
 */
import table from "./entrypoints.json";

export type Operation = keyof typeof table.operations;

const OPERATIONS: Record<string, string> = table.operations;

/** The entry point serving `operation` (functions/entrypoints.py `entry_point_of`). */
export function entryPointOf(operation: Operation): string {
  const name = OPERATIONS[operation];
  if (name === undefined) throw new Error(`unknown API operation ${operation}`);
  return name;
}

export class ApiRoutes {
  private readonly urls: Readonly<Record<string, string>>;

  constructor(
    private readonly baseUrl: string,
    urls: Readonly<Record<string, string>> | null = null,
  ) {
    this.urls = urls ?? {};
  }

  /** Base URL (no trailing slash) serving `operation`. */
  baseFor(operation: Operation): string {
    return this.urls[entryPointOf(operation)] ?? this.urls[table.allInOne] ?? this.baseUrl;
  }

  /** The full URL of `path` (e.g. `/api/workshops`) for `operation`. */
  url(operation: Operation, path: string): string {
    return `${this.baseFor(operation)}${path}`;
  }
}
