// Follows a run command's output through the API's logs endpoint (a long poll: it answers as soon as new bytes
// arrive, or after waitSeconds), the same endpoint `runcmd vm run-command logs --follow` uses.
import type { RunCommandLogs } from "../api/types";
import { StreamText } from "./output";

export interface OutputState {
  executionId: string | null;
  stdout: string;
  stderr: string;
  finished: boolean;
  executionState: string | null;
  exitCode?: number;
}

export type FetchLogs = (stdoutOffset: number, stderrOffset: number, waitSeconds: number, signal: AbortSignal) => Promise<RunCommandLogs>;

/**
 * Calls `fetchLogs` until the execution has finished and both streams are drained, reporting the text after every
 * answer. A new execution (a re-run) starts the text over. Stops when `signal` aborts.
 */
export async function followOutput(fetchLogs: FetchLogs, onUpdate: (state: OutputState) => void, signal: AbortSignal, waitSeconds = 20): Promise<OutputState> {
  let stdout = new StreamText();
  let stderr = new StreamText();
  let executionId: string | null = null;
  for (;;) {
    const logs = await fetchLogs(stdout.offset, stderr.offset, waitSeconds, signal);
    if (executionId !== null && logs.executionId !== executionId) {
      stdout = new StreamText();
      stderr = new StreamText();
      executionId = logs.executionId;
      continue;
    }
    executionId = logs.executionId;
    const drained = logs.finished && logs.stdout.data.length === 0 && logs.stderr.data.length === 0;
    stdout.append(logs.stdout, drained);
    stderr.append(logs.stderr, drained);
    const state: OutputState = {
      executionId,
      stdout: stdout.value,
      stderr: stderr.value,
      finished: drained,
      executionState: logs.executionState,
      exitCode: logs.exitCode,
    };
    onUpdate(state);
    if (drained || signal.aborted) {
      return state;
    }
  }
}
