import { useEffect, useId, useState } from "react";
import { ApiError, ApiVersions } from "../api/client";
import type { FleetRun, FleetTargetStatus } from "../api/types";
import { ScriptFieldsEditor } from "../components/ScriptFieldsEditor";
import { Empty, ErrorBox, FormErrors, Loading, PageHeader, StateBadge, TextField } from "../components/ui";
import { usePermissions, usePoll, useSession } from "../hooks";
import { resourceGroupsOf } from "../logic/filters";
import { cutOutput, groupOutputs, progressOf } from "../logic/fleet";
import { formatDuration, formatTime, formatTags, isTerminal, toneOf } from "../logic/format";
import { machineLabel, parseMachineId } from "../logic/ids";
import { Actions } from "../logic/permissions";
import { fleetRunHref, runCommandHref } from "../logic/router";
import { buildFleetRun, emptyScriptFields, type FleetFields } from "../logic/runCommandForm";
import { loadMachines } from "./Machines";

const e = encodeURIComponent;

export function fleetPath(subscription: string, rg: string, name?: string): string {
  return `/subscriptions/${e(subscription)}/resourceGroups/${e(rg)}/providers/RunCommand.Fleet/runs${name ? "/" + e(name) : ""}`;
}

function rgPath(subscription: string, rg: string): string {
  return `/subscriptions/${e(subscription)}/resourceGroups/${e(rg)}`;
}

/** The resource groups the caller can see machines in, for pickers. */
export function useResourceGroups(): string[] {
  const { api, subscription } = useSession();
  const machines = usePoll((signal) => loadMachines(api, subscription, signal), 0, [api, subscription]);
  return resourceGroupsOf(machines.data ?? []);
}

/** A resource group picker that also takes a typed name. */
export function ResourceGroupPicker({ value, onChange, groups, label = "Resource group" }: { value: string; onChange: (v: string) => void; groups: string[]; label?: string }) {
  const listId = useId();
  return (
    <>
      <TextField label={label} value={value} onChange={onChange} list={listId} placeholder={groups[0] ?? "default"} />
      <datalist id={listId}>
        {groups.map((g) => (
          <option key={g} value={g} />
        ))}
      </datalist>
    </>
  );
}

/**
 * A resource group filter of a list page: what is typed stays in the field (the page is not remounted for it) and
 * replaces the page's address as it goes, so the list follows without a history entry per key; an emptied field
 * keeps the list it had.
 */
export function ResourceGroupFilter({ value, groups, hrefOf }: { value: string; groups: string[]; hrefOf: (rg: string) => string }) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft((d) => (d.trim() === value ? d : value)), [value]);
  return (
    <ResourceGroupPicker
      value={draft}
      groups={groups}
      onChange={(v) => {
        setDraft(v);
        if (v.trim()) {
          window.location.replace(hrefOf(v.trim()));
        }
      }}
    />
  );
}

/** The group last listed, so that New fleet run starts in it. */
let lastListedGroup: string | null = null;

export function FleetPage({ rg, action }: { rg: string | null; action: "list" | "new" }) {
  const groups = useResourceGroups();
  const current = rg ?? (action === "new" ? lastListedGroup : null) ?? groups[0] ?? "";
  if (action === "list" && current) {
    lastListedGroup = current;
  }
  return action === "new" ? <NewFleetRun groups={groups} initialRg={current} /> : <FleetList rg={current} groups={groups} />;
}

function FleetList({ rg, groups }: { rg: string; groups: string[] }) {
  const { api, subscription } = useSession();
  const { can } = usePermissions(rg ? rgPath(subscription, rg) : null);
  const runs = usePoll((signal) => (rg ? api.list<FleetRun>(fleetPath(subscription, rg), ApiVersions.fleet, signal) : Promise.resolve([])), 4000, [api, subscription, rg]);
  return (
    <>
      <PageHeader
        title="Fleet runs"
        subtitle="One script on many machines, chosen by resource group, tags or scale set, with limits on concurrency and errors."
        actions={
          rg && can(Actions.fleetRunsWrite) ? (
            <a className="button" href={`#/fleet/new`}>
              New fleet run
            </a>
          ) : null
        }
      />
      <div className="filters">
        <ResourceGroupFilter value={rg} groups={groups} hrefOf={(v) => `#/fleet/${e(v)}`} />
      </div>
      <ErrorBox error={runs.error} title="The fleet runs could not be listed:" />
      {runs.loading && !runs.data ? <Loading what="fleet runs" /> : null}
      {!rg ? <Empty title="Choose a resource group to see its fleet runs." /> : null}
      {rg && runs.data && runs.data.length === 0 ? (
        <Empty title={`No fleet runs in ${rg} yet.`}>
          {can(Actions.fleetRunsWrite) ? (
            <p>
              <a href="#/fleet/new">Start one</a>, or from a terminal: <code>./runcmd fleet run-command create -g {rg} --target-tags role=web --script 'uptime'</code>
            </p>
          ) : (
            <p>Your roles do not let you start fleet runs here.</p>
          )}
        </Empty>
      ) : null}
      {runs.data && runs.data.length > 0 ? (
        <table className="list">
          <caption className="sr-only">Fleet runs of {rg}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Targets</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.map((r) => {
              const p = progressOf(r.properties?.instanceView?.counts);
              return (
                <tr key={r.name}>
                  <td data-label="Name">
                    <a href={fleetRunHref(rg, r.name ?? "")}>{r.name}</a>
                  </td>
                  <td data-label="State">
                    <StateBadge state={r.properties?.provisioningState} />
                  </td>
                  <td data-label="Targets">
                    {p.done} of {p.total} done
                  </td>
                  <td data-label="Started">{formatTime(r.properties?.instanceView?.startTime)}</td>
                  <td data-label="Duration">{formatDuration(r.properties?.instanceView?.startTime, r.properties?.instanceView?.endTime) ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

function NewFleetRun({ groups, initialRg }: { groups: string[]; initialRg: string }) {
  const { api, subscription, location } = useSession();
  const [runRg, setRunRg] = useState(initialRg);
  const [fields, setFields] = useState<FleetFields>({
    ...emptyScriptFields,
    name: "",
    resourceGroup: initialRg,
    tags: "",
    scaleSet: "",
    maxConcurrency: "",
    maxErrors: "",
  });
  const [errors, setErrors] = useState<string[]>([]);
  const [apiError, setApiError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // The groups come after the first render: an empty group fills in from them once, never over what was typed.
  useEffect(() => {
    if (initialRg) {
      setRunRg((v) => v || initialRg);
      setFields((f) => (f.resourceGroup ? f : { ...f, resourceGroup: initialRg }));
    }
  }, [initialRg]);
  const { can, loaded } = usePermissions(runRg ? rgPath(subscription, runRg) : null);
  const set = (patch: Partial<FleetFields>) => setFields((f) => ({ ...f, ...patch }));

  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    const { body, errors: found } = buildFleetRun(fields, location);
    if (!runRg.trim()) {
      found.unshift("Choose the resource group the fleet run belongs to.");
    }
    setErrors(found);
    setApiError(null);
    if (found.length > 0) {
      return;
    }
    setBusy(true);
    try {
      await api.put(fleetPath(subscription, runRg.trim(), fields.name), ApiVersions.fleet, body);
      window.location.hash = fleetRunHref(runRg.trim(), fields.name);
    } catch (err) {
      setApiError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href="#/fleet">Fleet runs</a> / <span>New fleet run</span>
      </nav>
      <PageHeader title="New fleet run" />
      {loaded && !can(Actions.fleetRunsWrite) ? (
        <p className="notice" role="note">
          Your roles do not include starting fleet runs in this resource group; the server will refuse it.
        </p>
      ) : null}
      <form className="form" onSubmit={(ev) => void submit(ev)} noValidate>
        <div className="grid-2">
          <TextField label="Name" value={fields.name} onChange={(name) => set({ name })} placeholder="reload-nginx" />
          <ResourceGroupPicker label="Resource group of the run" value={runRg} groups={groups} onChange={setRunRg} />
        </div>
        <fieldset className="field">
          <legend>Targets (machines matching all that are given)</legend>
          <div className="grid-3">
            <ResourceGroupPicker label="Machines of resource group" value={fields.resourceGroup} groups={groups} onChange={(resourceGroup) => set({ resourceGroup })} />
            <TextField label="With tags" value={fields.tags} onChange={(tags) => set({ tags })} placeholder="role=web, tier=gold" />
            <TextField label="Scale set" value={fields.scaleSet} onChange={(scaleSet) => set({ scaleSet })} placeholder="web-ss" />
          </div>
        </fieldset>
        <div className="grid-2">
          <TextField
            label="Max concurrency"
            value={fields.maxConcurrency}
            onChange={(maxConcurrency) => set({ maxConcurrency })}
            placeholder="all at once"
            hint="A count (10) or a percentage of the targets (10%)."
          />
          <TextField
            label="Max errors"
            value={fields.maxErrors}
            onChange={(maxErrors) => set({ maxErrors })}
            placeholder="no limit"
            hint="Once more targets than this failed, no new one starts."
          />
        </div>
        <ScriptFieldsEditor fields={fields} set={set} />
        <FormErrors errors={errors} />
        <ErrorBox error={apiError} title="The server refused it:" />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? "Starting…" : "Start fleet run"}
          </button>
          <a className="button secondary" href="#/fleet">
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

/** Says so when a target's output shown here is only its last 4 KiB; the machine's link opens all of it. */
function cutNote(t: FleetTargetStatus) {
  const cut = cutOutput(t);
  return cut ? (
    <span className="muted" data-testid="output-cut">
      The last 4 KiB of each stream (stdout {cut.output.toLocaleString("en-US")} bytes, stderr {cut.error.toLocaleString("en-US")} bytes): the
      machine's run command has all of it.
    </span>
  ) : null;
}

export function FleetRunPage({ rg, name }: { rg: string; name: string }) {
  const { api, subscription } = useSession();
  const path = fleetPath(subscription, rg, name);
  const { can } = usePermissions(rgPath(subscription, rg));
  const [done, setDone] = useState(false);
  const run = usePoll(
    async (signal) => {
      const r = await api.get<FleetRun>(path, ApiVersions.fleet, signal);
      setDone(isTerminal(r.properties?.provisioningState));
      return r;
    },
    done ? 0 : 1500,
    [api, path, done],
  );
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const p = run.data?.properties;
  const progress = progressOf(p?.instanceView?.counts);
  const targets = p?.instanceView?.targets ?? [];

  const cancel = async () => {
    if (!window.confirm(`Cancel fleet run '${name}'? Machines not yet started are skipped; scripts already running are stopped.`)) {
      return;
    }
    try {
      setActionError(null);
      await api.post(`${path}/cancel`, ApiVersions.fleet);
      setDone(false);
      run.reload();
    } catch (err) {
      setActionError(err as ApiError);
    }
  };

  const targetLink = (resourceId: string) => {
    const ref = parseMachineId(resourceId);
    if (!ref) {
      return resourceId;
    }
    const label = machineLabel(ref);
    return p?.runCommandName ? (
      <a href={runCommandHref({ rg: ref.resourceGroup, vm: ref.vmName, scaleSet: ref.scaleSet, instance: ref.instanceId }, p.runCommandName)}>{label}</a>
    ) : (
      label
    );
  };

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href={`#/fleet/${e(rg)}`}>Fleet runs</a> / <span>{name}</span>
      </nav>
      <PageHeader
        title={name}
        subtitle={
          p ? (
            <>
              <StateBadge state={p.provisioningState} /> resource group {rg}
              {p.targets?.resourceGroup ? ` · machines of ${p.targets.resourceGroup}` : ""}
              {p.targets?.tags ? ` · tags ${formatTags(p.targets.tags)}` : ""}
              {p.targets?.virtualMachineScaleSet ? ` · scale set ${p.targets.virtualMachineScaleSet}` : ""}
              {p.maxConcurrency ? ` · max concurrency ${p.maxConcurrency}` : ""}
              {p.maxErrors ? ` · max errors ${p.maxErrors}` : ""}
            </>
          ) : undefined
        }
        actions={
          p && !isTerminal(p.provisioningState) && can(Actions.fleetRunsCancel) ? (
            <button type="button" className="danger" onClick={() => void cancel()}>
              Cancel run
            </button>
          ) : null
        }
      />
      <ErrorBox error={run.error} title="The fleet run could not be read:" />
      <ErrorBox error={actionError} />
      {run.loading && !run.data ? <Loading what="the fleet run" /> : null}
      {p ? (
        <>
          <section aria-label="Progress" className="progress-section">
            <p data-testid="fleet-progress">
              {progress.done} of {progress.total} machines done
              {p.instanceView?.startTime ? ` · ${formatDuration(p.instanceView.startTime, p.instanceView.endTime)}` : ""}
            </p>
            <div
              className="bar"
              role="progressbar"
              aria-label="Machines done"
              aria-valuemin={0}
              aria-valuemax={progress.total}
              aria-valuenow={progress.done}
            >
              {progress.segments.map((s) => (
                <div key={s.state} className={`segment tone-${toneOf(s.state)}`} style={{ width: `${s.percent}%` }} title={`${s.state}: ${s.count}`} />
              ))}
            </div>
            <ul className="counts">
              {Object.entries(p.instanceView?.counts ?? {})
                .filter(([, n]) => n > 0)
                .map(([state, n]) => (
                  <li key={state}>
                    <StateBadge state={state} /> {n}
                  </li>
                ))}
            </ul>
          </section>
          <h2>Machines</h2>
          {targets.length === 0 ? <Empty title="No machine matched the targets." /> : null}
          {targets.length > 0 ? (
            <table className="list">
              <caption className="sr-only">Machines of the fleet run</caption>
              <thead>
                <tr>
                  <th scope="col">Machine</th>
                  <th scope="col">State</th>
                  <th scope="col">Exit code</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Output</th>
                </tr>
              </thead>
              <tbody>
                {targets.map((t) => (
                  <tr key={t.resourceId} data-testid="fleet-target">
                    <td data-label="Machine">{targetLink(t.resourceId)}</td>
                    <td data-label="State">
                      <StateBadge state={t.state} />
                    </td>
                    <td data-label="Exit code">{t.exitCode ?? ""}</td>
                    <td data-label="Duration">{formatDuration(t.startTime, t.endTime) ?? ""}</td>
                    <td data-label="Output">
                      {t.output ? <pre className="output small">{t.output}</pre> : null}
                      {t.error ? <pre className="output small stderr">{t.error}</pre> : null}
                      {cutNote(t)}
                      {t.message ? <span className="muted">{t.message}</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {targets.length > 1 ? (
            <>
              <h2>Grouped output</h2>
              {groupOutputs(targets).map((g, i) => (
                <section key={i} className="group" aria-label={`Output group ${i + 1}`}>
                  <p>
                    <StateBadge state={g.state} /> {g.exitCode !== undefined ? `exit code ${g.exitCode} · ` : ""}
                    {g.targets.length} {g.targets.length === 1 ? "machine" : "machines"}:{" "}
                    {g.targets.map((id) => {
                      const ref = parseMachineId(id);
                      return ref ? machineLabel(ref) : id;
                    }).join(", ")}
                  </p>
                  <pre className="output small">{g.output || "(no output)"}</pre>
                  {g.error ? <pre className="output small stderr">{g.error}</pre> : null}
                </section>
              ))}
            </>
          ) : null}
        </>
      ) : null}
    </>
  );
}
