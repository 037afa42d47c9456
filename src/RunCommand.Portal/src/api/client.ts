// The portal's only way to the server: the public ARM API with the user's bearer token, exactly as the CLI and the
// Azure SDK call it. Errors carry the API's own code and message.
import type { ArmErrorBody, ResourceList } from "./types";

export const ApiVersions = {
  compute: "2023-07-01",
  deployments: "2022-09-01",
  fleet: "2026-11-01",
  authorization: "2022-04-01",
  activityLog: "2015-04-01",
} as const;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The API's error as it words it: its message, or the HTTP status when the body is not an ARM error. */
export function errorFromBody(status: number, statusText: string, body: unknown): ApiError {
  const error = (body as { error?: ArmErrorBody } | null)?.error;
  if (error && typeof error.message === "string") {
    return new ApiError(status, error.code ?? String(status), error.message, error.target);
  }
  if (status === 0) {
    return new ApiError(0, "NetworkError", "The server could not be reached. Check that it is running and try again.");
  }
  return new ApiError(status, String(status), `The server answered ${status} ${statusText}`.trim() + ".");
}

/** Adds api-version to a path that has none. */
export function withApiVersion(path: string, version: string): string {
  if (/[?&]api-version=/.test(path)) {
    return path;
  }
  return path + (path.includes("?") ? "&" : "?") + "api-version=" + encodeURIComponent(version);
}

/** The path and query of an absolute nextLink (the portal only ever calls its own origin). */
export function relativeLink(link: string): string {
  const url = new URL(link, "http://placeholder");
  return url.pathname + url.search;
}

export class Api {
  constructor(
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  async request<T>(method: string, path: string, version: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; data: T }> {
    let response: Response;
    try {
      response = await this.fetchImpl(withApiVersion(path, version), {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal,
        cache: "no-store",
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") {
        throw e;
      }
      throw errorFromBody(0, "", null);
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) {
      throw errorFromBody(response.status, response.statusText, parsed);
    }
    return { status: response.status, data: parsed as T };
  }

  async get<T>(path: string, version: string, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>("GET", path, version, undefined, signal)).data;
  }

  /** Every item of a paged list, following nextLink. */
  async list<T>(path: string, version: string, signal?: AbortSignal): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = path;
    while (next) {
      const page: ResourceList<T> = await this.get<ResourceList<T>>(next, version, signal);
      items.push(...(page?.value ?? []));
      next = page?.nextLink ? relativeLink(page.nextLink) : undefined;
    }
    return items;
  }

  async put<T>(path: string, version: string, body: unknown): Promise<T> {
    return (await this.request<T>("PUT", path, version, body)).data;
  }

  async post<T>(path: string, version: string, body?: unknown): Promise<T> {
    return (await this.request<T>("POST", path, version, body ?? {})).data;
  }

  async delete(path: string, version: string): Promise<void> {
    await this.request<unknown>("DELETE", path, version);
  }
}

const tokenKey = "runcommand.portal.token";

/** The token lives in this tab's session storage only: gone when the tab closes, never in a URL or a cookie. */
export const session = {
  load: (): string | null => sessionStorage.getItem(tokenKey),
  save: (token: string) => sessionStorage.setItem(tokenKey, token),
  clear: () => sessionStorage.removeItem(tokenKey),
};
