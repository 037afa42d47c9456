// Shared React state: the signed-in session, polling of API reads, and what the caller may do where.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from "react";
import { Api, ApiError, ApiVersions } from "./api/client";
import type { Permission, SignedInPrincipal } from "./api/types";
import { isGranted } from "./logic/permissions";
import { parseRoute, type Route } from "./logic/router";

export interface Session {
  api: Api;
  me: SignedInPrincipal;
  subscription: string;
  location: string;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) {
    throw new Error("No session: render pages inside <SessionContext.Provider>.");
  }
  return session;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` now and every `intervalMs` while the page shows (0: once), keeping the last good data when a refresh
 * fails. `deps` restart it.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, intervalMs: number, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    const run = async () => {
      try {
        const value = await loadRef.current(controller.signal);
        if (!controller.signal.aborted) {
          setData(value);
          setError(null);
        }
      } catch (e) {
        if (!controller.signal.aborted) {
          setError(e instanceof ApiError ? e : new ApiError(0, "ClientError", String(e)));
        }
      } finally {
        if (!controller.signal.aborted) {
          setLoading(false);
          if (intervalMs > 0) {
            timer = window.setTimeout(run, intervalMs);
          }
        }
      }
    };
    setLoading(true);
    void run();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/**
 * What the caller may do at a scope (ARM's permissions API). `can` is false until the answer is in, so a button that
 * would earn a 403 never flashes up.
 */
export function usePermissions(scope: string | null): { can: (action: string) => boolean; loaded: boolean } {
  const { api } = useSession();
  const [permissions, setPermissions] = useState<Permission[] | null>(null);
  useEffect(() => {
    if (!scope) {
      setPermissions(null);
      return;
    }
    const controller = new AbortController();
    api
      .list<Permission>(`${scope}/providers/Microsoft.Authorization/permissions`, ApiVersions.authorization, controller.signal)
      .then((p) => setPermissions(p))
      .catch(() => {
        if (!controller.signal.aborted) {
          setPermissions([]);
        }
      });
    return () => controller.abort();
  }, [api, scope]);
  return { can: (action) => permissions !== null && isGranted(permissions, action), loaded: permissions !== null };
}
