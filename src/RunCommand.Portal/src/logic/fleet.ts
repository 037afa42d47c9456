// Progress and grouped output of a fleet run.
import type { FleetTargetStatus } from "../api/types";

/** Target states in display order (the API's FleetTargetStates.All). */
export const fleetStates = ["Succeeded", "Failed", "TimedOut", "Canceled", "NotStarted", "Running", "Pending"] as const;

export interface Progress {
  total: number;
  done: number;
  /** Share of each state in percent (0-100), in display order, for the bar. */
  segments: { state: string; count: number; percent: number }[];
}

export function progressOf(counts: Record<string, number> | undefined): Progress {
  const c = counts ?? {};
  const total = Object.values(c).reduce((sum, n) => sum + n, 0);
  const done = ["Succeeded", "Failed", "TimedOut", "Canceled", "NotStarted"].reduce((sum, s) => sum + (c[s] ?? 0), 0);
  const segments = fleetStates
    .map((state) => ({ state, count: c[state] ?? 0, percent: total === 0 ? 0 : ((c[state] ?? 0) * 100) / total }))
    .filter((s) => s.count > 0);
  return { total, done, segments };
}

export interface OutputGroup {
  /** The stdout tail all these targets printed. */
  output: string;
  error: string;
  state: string;
  exitCode?: number;
  targets: string[];
}

/** Targets that ended alike (same state, exit code, output and error) in one group, largest groups first. */
export function groupOutputs(targets: FleetTargetStatus[]): OutputGroup[] {
  const groups = new Map<string, OutputGroup>();
  for (const t of targets) {
    const key = JSON.stringify([t.state, t.exitCode ?? null, t.output ?? "", t.error ?? ""]);
    const group = groups.get(key);
    if (group) {
      group.targets.push(t.resourceId);
    } else {
      groups.set(key, { output: t.output ?? "", error: t.error ?? "", state: t.state, exitCode: t.exitCode, targets: [t.resourceId] });
    }
  }
  return [...groups.values()].sort((a, b) => b.targets.length - a.targets.length);
}

/** UTF-8 bytes of a text, as the server counts output. */
function utf8Length(text: string | undefined): number {
  return new TextEncoder().encode(text ?? "").length;
}

/**
 * A target's stdout and stderr sizes in bytes when its view shows only their last 4 KiB (the run command on the
 * machine has all of it); null when the tails are the whole output, or when the server sends no sizes.
 */
export function cutOutput(t: FleetTargetStatus): { output: number; error: number } | null {
  if (t.outputLength === undefined || t.errorLength === undefined) {
    return null;
  }
  return utf8Length(t.output) < t.outputLength || utf8Length(t.error) < t.errorLength ? { output: t.outputLength, error: t.errorLength } : null;
}
