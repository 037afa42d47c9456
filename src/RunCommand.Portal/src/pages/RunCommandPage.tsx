import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, ApiVersions } from "../api/client";
import type { RunCommand, RunCommandLogs } from "../api/types";
import { ErrorBox, Loading, PageHeader, StateBadge } from "../components/ui";
import { usePermissions, usePoll, useSession } from "../hooks";
import { followOutput, type OutputState } from "../logic/follow";
import { formatDuration, formatTime, isTerminal } from "../logic/format";
import { machineLabel, machinePath, runCommandPath } from "../logic/ids";
import { machineHref, type MachineRoute } from "../logic/router";
import { runCommandActions, toMachineRef } from "./Machine";

export function RunCommandPage({ route }: { route: MachineRoute & { name: string } }) {
  const { api, subscription } = useSession();
  const machine = toMachineRef(subscription, route);
  const path = runCommandPath(machine, route.name);
  const { can } = usePermissions(machinePath(machine));
  const [output, setOutput] = useState<OutputState | null>(null);
  const [outputError, setOutputError] = useState<ApiError | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [stopped, setStopped] = useState(false);
  const [round, setRound] = useState(0);

  // A run command that is gone (deleted meanwhile) is not asked for again; an ended one slowly, to notice a re-run.
  // Both are read from the poll's own last answer.
  const [pollMs, setPollMs] = useState(2000);
  const command = usePoll(
    (signal) => api.get<RunCommand>(`${path}?$expand=instanceView`, ApiVersions.compute, signal),
    stopped ? 0 : pollMs,
    [api, path, stopped, pollMs],
  );
  const view = command.data?.properties?.instanceView;
  const terminal = isTerminal(view?.executionState);
  const gone = command.error?.status === 404;
  useEffect(() => setPollMs(gone ? 0 : terminal ? 10000 : 2000), [gone, terminal]);

  // The output is followed once per run: a re-run (a new start time) follows again from the start; an ended run's
  // output, once drained, is not fetched again.
  const startedAt = view?.startTime ?? null;
  const followedStart = useRef<string | null>(null);
  useEffect(() => {
    if (startedAt && followedStart.current && startedAt !== followedStart.current) {
      setRound((r) => r + 1);
    }
    followedStart.current = startedAt ?? followedStart.current;
  }, [startedAt]);

  useEffect(() => {
    const controller = new AbortController();
    setOutputError(null);
    followOutput(
      (so, se, wait, signal) => api.get<RunCommandLogs>(`${path}/logs?stdoutOffset=${so}&stderrOffset=${se}&waitSeconds=${wait}`, ApiVersions.compute, signal),
      (state) => {
        if (!controller.signal.aborted) {
          setOutput(state);
        }
      },
      controller.signal,
    )
      .catch((e: unknown) => {
        if (!controller.signal.aborted && e instanceof ApiError) {
          setOutputError(e);
          if (e.status !== 404) {
            window.setTimeout(() => !controller.signal.aborted && setRound((r) => r + 1), 3000);
          }
        }
      });
    return () => controller.abort();
  }, [api, path, round]);

  const download = useMemo(() => {
    if (!output) {
      return null;
    }
    const text = output.stdout + (output.stderr ? `\n--- stderr ---\n${output.stderr}` : "");
    return URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  }, [output]);
  useEffect(() => () => (download ? URL.revokeObjectURL(download) : undefined), [download]);

  const cancel = async () => {
    if (!window.confirm(`Cancel '${route.name}'? The API cancels by deleting: the script and everything it started are stopped and the run command removed.`)) {
      return;
    }
    try {
      setActionError(null);
      await api.delete(path, ApiVersions.compute);
      setStopped(true);
      window.location.hash = machineHref(route);
    } catch (e) {
      setActionError(e as ApiError);
    }
  };

  const state = view?.executionState ?? output?.executionState ?? undefined;
  const exitCode = view?.exitCode ?? output?.exitCode;
  const source = command.data?.properties?.source;
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href="#/machines">Machines</a> / <a href={machineHref(route)}>{machineLabel(machine)}</a> / <span>{route.name}</span>
      </nav>
      <PageHeader
        title={route.name}
        subtitle={`Run command on ${machineLabel(machine)} (resource group ${machine.resourceGroup})`}
        actions={
          can(runCommandActions(machine).remove) && command.data && !terminal ? (
            <button type="button" className="danger" onClick={() => void cancel()}>
              Cancel
            </button>
          ) : null
        }
      />
      <ErrorBox error={command.error} title="The run command could not be read:" />
      <ErrorBox error={actionError} />
      {command.loading && !command.data ? <Loading what="the run command" /> : null}
      {command.data ? (
        <dl className="facts">
          <div>
            <dt>State</dt>
            <dd data-testid="execution-state">
              <StateBadge state={state} />
            </dd>
          </div>
          <div>
            <dt>Exit code</dt>
            <dd data-testid="exit-code">{exitCode ?? "—"}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{formatDuration(view?.startTime, view?.endTime) ?? "—"}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{formatTime(view?.startTime) || "—"}</dd>
          </div>
          <div>
            <dt>Ended</dt>
            <dd>{formatTime(view?.endTime) || "—"}</dd>
          </div>
          <div>
            <dt>Provisioning</dt>
            <dd>{command.data.properties?.provisioningState}</dd>
          </div>
          {view?.executionMessage ? (
            <div className="wide">
              <dt>Message</dt>
              <dd>{view.executionMessage}</dd>
            </div>
          ) : null}
        </dl>
      ) : null}
      <div className="output-header">
        <h2>Output</h2>
        {output && !output.finished ? (
          <span className="live" role="status">
            Live
          </span>
        ) : null}
        {download ? (
          <a className="button secondary" href={download} download={`${route.name}.log`}>
            Download full output
          </a>
        ) : null}
      </div>
      <ErrorBox error={outputError} title="The output could not be read:" />
      <section aria-label="Standard output">
        <h3>stdout</h3>
        <pre className="output" data-testid="stdout" tabIndex={0} aria-live="polite">
          {output?.stdout || <span className="muted">{output?.finished ? "(no output)" : "Waiting for output…"}</span>}
        </pre>
      </section>
      {output?.stderr ? (
        <section aria-label="Standard error">
          <h3>stderr</h3>
          <pre className="output stderr" data-testid="stderr" tabIndex={0}>
            {output.stderr}
          </pre>
        </section>
      ) : null}
      {source?.script ? (
        <details>
          <summary>Script</summary>
          <pre className="output">{source.script}</pre>
        </details>
      ) : null}
      {source?.scriptUri ? <p>Script URI: {source.scriptUri}</p> : null}
      {source?.commandId ? <p>Command document: {source.commandId}</p> : null}
    </>
  );
}
