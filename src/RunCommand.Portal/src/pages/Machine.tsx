import { useState } from "react";
import { ApiError, ApiVersions } from "../api/client";
import type { RunCommand, VirtualMachine } from "../api/types";
import { ScriptFieldsEditor } from "../components/ScriptFieldsEditor";
import { Empty, ErrorBox, FormErrors, Loading, PageHeader, StateBadge, TextField } from "../components/ui";
import { usePermissions, usePoll, useSession } from "../hooks";
import { formatAgo, formatDuration, formatTags, formatTime, formatVersion } from "../logic/format";
import { machineLabel, machinePath, runCommandPath, type MachineRef } from "../logic/ids";
import { Actions } from "../logic/permissions";
import { machineHref, runCommandHref, type MachineRoute } from "../logic/router";
import { buildRunCommand, emptyScriptFields, formatParameters, nextRunName, type RunCommandFields } from "../logic/runCommandForm";

export function toMachineRef(subscription: string, r: MachineRoute): MachineRef {
  return { subscription, resourceGroup: r.rg, vmName: r.vm, scaleSet: r.scaleSet, instanceId: r.instance };
}

/** The write and delete actions of run commands on this kind of machine. */
export function runCommandActions(m: MachineRef) {
  return m.scaleSet !== null
    ? { write: Actions.scaleSetRunCommandsWrite, remove: Actions.scaleSetRunCommandsDelete }
    : { write: Actions.runCommandsWrite, remove: Actions.runCommandsDelete };
}

/** Fields carried from "Re-run" to the form (protected parameters are never returned, so they are typed again). */
let prefill: RunCommandFields | null = null;

export function MachinePage({ route }: { route: MachineRoute & { action: "view" | "new" } }) {
  const { api, subscription } = useSession();
  const machine = toMachineRef(subscription, route);
  const path = machinePath(machine);
  const { can } = usePermissions(path);
  const actions = runCommandActions(machine);
  const vm = usePoll((signal) => api.get<VirtualMachine>(path, ApiVersions.compute, signal), 10000, [api, path]);
  const commands = usePoll(
    (signal) => api.list<RunCommand>(`${path}/runCommands?$expand=instanceView`, ApiVersions.compute, signal),
    route.action === "new" ? 0 : 3000,
    [api, path, route.action],
  );
  const agent = vm.data?.properties?.agentInstanceView;
  const [actionError, setActionError] = useState<ApiError | null>(null);

  if (route.action === "new") {
    return <NewRunCommand machine={machine} route={route} existing={(commands.data ?? []).map((c) => c.name ?? "")} allowed={can(actions.write)} />;
  }

  const remove = async (name: string) => {
    if (!window.confirm(`Delete run command '${name}'? A running script is stopped.`)) {
      return;
    }
    try {
      setActionError(null);
      await api.delete(runCommandPath(machine, name), ApiVersions.compute);
      commands.reload();
    } catch (e) {
      setActionError(e as ApiError);
    }
  };

  const rerun = (c: RunCommand) => {
    const p = c.properties;
    prefill = {
      ...emptyScriptFields,
      name: nextRunName(c.name ?? "run", (commands.data ?? []).map((x) => x.name ?? "")),
      sourceKind: p?.source?.scriptUri ? "scriptUri" : p?.source?.commandId ? "commandId" : "script",
      script: p?.source?.script ?? "",
      scriptUri: p?.source?.scriptUri ?? "",
      commandId: p?.source?.commandId ?? "",
      parameters: formatParameters(p?.parameters),
      runAsUser: p?.runAsUser ?? "",
      timeoutInSeconds: p?.timeoutInSeconds ? String(p.timeoutInSeconds) : "",
    };
    window.location.hash = machineHref(route, "/new");
  };

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href="#/machines">Machines</a> / <span>{machineLabel(machine)}</span>
      </nav>
      <PageHeader
        title={machineLabel(machine)}
        subtitle={
          vm.data ? (
            <>
              <StateBadge state={agent?.status} /> resource group {machine.resourceGroup} · agent {agent?.agentVersion ? formatVersion(agent.agentVersion) : "unknown"} · last seen{" "}
              {formatAgo(agent?.lastContact)}
              {formatTags(vm.data.tags) ? ` · tags ${formatTags(vm.data.tags)}` : ""}
            </>
          ) : undefined
        }
        actions={
          can(actions.write) ? (
            <a className="button" href={machineHref(route, "/new")} onClick={() => (prefill = null)}>
              New run command
            </a>
          ) : null
        }
      />
      <ErrorBox error={vm.error} title="The machine could not be read:" />
      <ErrorBox error={actionError} />
      <h2>Run commands</h2>
      <ErrorBox error={commands.error} title="The run commands could not be listed:" />
      {commands.loading && !commands.data ? <Loading what="run commands" /> : null}
      {commands.data && commands.data.length === 0 ? (
        <Empty title="No run commands on this machine yet.">
          {can(actions.write) ? (
            <p>
              <a href={machineHref(route, "/new")}>Create one</a> to run a script here, or from a terminal:{" "}
              <code>./runcmd vm run-command create -g {machine.resourceGroup} --vm-name {machine.vmName ?? "NAME"} -n hello --script 'echo hi'</code>
            </p>
          ) : (
            <p>Your roles let you read this machine but not run commands on it; ask an owner for Virtual Machine Contributor.</p>
          )}
        </Empty>
      ) : null}
      {commands.data && commands.data.length > 0 ? (
        <table className="list">
          <caption className="sr-only">Run commands of {machineLabel(machine)}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Exit code</th>
              <th scope="col">Started</th>
              <th scope="col">Ended</th>
              <th scope="col">Duration</th>
              {can(actions.write) || can(actions.remove) ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {commands.data.map((c) => {
              const view = c.properties?.instanceView;
              return (
                <tr key={c.name}>
                  <td data-label="Name">
                    <a href={runCommandHref(route, c.name ?? "")}>{c.name}</a>
                  </td>
                  <td data-label="State">
                    <StateBadge state={view?.executionState} />
                  </td>
                  <td data-label="Exit code">{view?.exitCode ?? ""}</td>
                  <td data-label="Started">{formatTime(view?.startTime)}</td>
                  <td data-label="Ended">{formatTime(view?.endTime)}</td>
                  <td data-label="Duration">{formatDuration(view?.startTime, view?.endTime) ?? ""}</td>
                  {can(actions.write) || can(actions.remove) ? (
                    <td data-label="Actions" className="row-actions">
                      {can(actions.write) ? (
                        <button type="button" className="secondary" onClick={() => rerun(c)} aria-label={`Re-run ${c.name}`}>
                          Re-run
                        </button>
                      ) : null}
                      {can(actions.remove) ? (
                        <button type="button" className="danger" onClick={() => void remove(c.name ?? "")} aria-label={`Delete ${c.name}`}>
                          Delete
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

function NewRunCommand({ machine, route, existing, allowed }: { machine: MachineRef; route: MachineRoute; existing: string[]; allowed: boolean }) {
  const { api, location } = useSession();
  const [fields, setFields] = useState<RunCommandFields>(() => prefill ?? { ...emptyScriptFields, name: "" });
  const [rerun] = useState(() => prefill !== null);
  const [errors, setErrors] = useState<string[]>([]);
  const [apiError, setApiError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<RunCommandFields>) => setFields((f) => ({ ...f, ...patch }));
  const taken = existing.some((n) => n.toLowerCase() === fields.name.toLowerCase());

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const { body, errors: found } = buildRunCommand(fields, location);
    setErrors(found);
    setApiError(null);
    if (found.length > 0) {
      return;
    }
    setBusy(true);
    try {
      await api.put(runCommandPath(machine, fields.name), ApiVersions.compute, body);
      prefill = null;
      window.location.hash = runCommandHref(route, fields.name);
    } catch (err) {
      setApiError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href="#/machines">Machines</a> / <a href={machineHref(route)}>{machineLabel(machine)}</a> / <span>New run command</span>
      </nav>
      <PageHeader title="New run command" subtitle={`On ${machineLabel(machine)} (resource group ${machine.resourceGroup})`} />
      {!allowed ? (
        <p className="notice" role="note">
          Your roles do not include creating run commands on this machine; the server will refuse it.
        </p>
      ) : null}
      {rerun ? (
        <p className="notice" role="note">
          Filled in from the run command re-run. Protected parameters and a run-as password are never returned by the API:
          type them again if the script needs them.
        </p>
      ) : null}
      <form onSubmit={(e) => void submit(e)} className="form" noValidate>
        <TextField
          label="Name"
          value={fields.name}
          onChange={(name) => set({ name })}
          required
          placeholder="hello"
          hint={taken ? "A run command of this name exists: saving replaces it (and re-runs it if anything changed)." : "Letters, digits, '_', '.' and '-'."}
        />
        <ScriptFieldsEditor fields={fields} set={set} />
        <FormErrors errors={errors} />
        <ErrorBox error={apiError} title="The server refused it:" />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? "Starting…" : "Run"}
          </button>
          <a className="button secondary" href={machineHref(route)}>
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}
