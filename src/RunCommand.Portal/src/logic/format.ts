// Plain-words formatting of times, durations and states.

/** "1.2 s", "3 min 4 s", "2 h 5 min"; null when start is unknown. */
export function formatDuration(startIso?: string, endIso?: string, now: Date = new Date()): string | null {
  if (!startIso) {
    return null;
  }
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : now.getTime();
  if (Number.isNaN(start) || Number.isNaN(end)) {
    return null;
  }
  const ms = Math.max(0, end - start);
  if (ms < 10_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const s = Math.round(ms / 1000);
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return m === 0 ? `${s} s` : `${m} min ${s % 60} s`;
  }
  const h = Math.floor(s / 3600);
  return `${h} h ${Math.floor((s % 3600) / 60)} min`;
}

/** "just now", "12 s ago", "5 min ago", "3 h ago", else the date. */
export function formatAgo(iso?: string, now: Date = new Date()): string {
  if (!iso) {
    return "never";
  }
  const t = Date.parse(iso);
  if (Number.isNaN(t)) {
    return "never";
  }
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 5) {
    return "just now";
  }
  if (s < 60) {
    return `${s} s ago`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ago`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)} h ago`;
  }
  return formatTime(iso);
}

/** Local date and time, to the second. */
export function formatTime(iso?: string): string {
  if (!iso) {
    return "";
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export type Tone = "ok" | "bad" | "busy" | "idle";

/** The colour family of a state (execution, provisioning, fleet run, agent). */
export function toneOf(state?: string): Tone {
  switch ((state ?? "").toLowerCase()) {
    case "succeeded":
    case "connected":
      return "ok";
    case "failed":
    case "timedout":
    case "disconnected":
    case "denied":
      return "bad";
    case "running":
    case "pending":
    case "creating":
    case "updating":
    case "accepted":
      return "busy";
    default:
      return "idle";
  }
}

/** True once an execution or run can change no more. */
export function isTerminal(state?: string): boolean {
  return ["succeeded", "failed", "timedout", "canceled"].includes((state ?? "").toLowerCase());
}

/** "k=v, k2=v2" for tags. */
export function formatTags(tags?: Record<string, string>): string {
  return Object.entries(tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** A version with its build metadata cut to a short commit: "0.1.0+6bbfc63bb87d..." becomes "0.1.0+6bbfc63". */
export function formatVersion(version: string): string {
  const plus = version.indexOf("+");
  return plus < 0 ? version : version.slice(0, plus + 8);
}
