import { useId, useState } from "react";
import { ApiVersions } from "../api/client";
import type { ScaleSet, VirtualMachine } from "../api/types";
import { Empty, ErrorBox, Loading, PageHeader, StateBadge } from "../components/ui";
import { usePoll, useSession } from "../hooks";
import { matchesFilter, resourceGroupsOf } from "../logic/filters";
import { formatAgo, formatTags, formatVersion } from "../logic/format";
import { machineLabel, parseMachineId, relativeScaleSetInstances } from "../logic/ids";
import { machineHref } from "../logic/router";

/** Every machine the caller may read: VMs, then each scale set's instances. */
export async function loadMachines(api: ReturnType<typeof useSession>["api"], subscription: string, signal: AbortSignal): Promise<VirtualMachine[]> {
  const sub = `/subscriptions/${encodeURIComponent(subscription)}/providers/Microsoft.Compute`;
  const [vms, scaleSets] = await Promise.all([
    api.list<VirtualMachine>(`${sub}/virtualMachines`, ApiVersions.compute, signal),
    api.list<ScaleSet>(`${sub}/virtualMachineScaleSets`, ApiVersions.compute, signal),
  ]);
  const instances = await Promise.all(
    scaleSets.map((ss) => api.list<VirtualMachine>(relativeScaleSetInstances(ss.id), ApiVersions.compute, signal).catch(() => [] as VirtualMachine[])),
  );
  return [...vms, ...instances.flat()];
}

export function MachinesPage() {
  const { api, subscription } = useSession();
  const machines = usePoll((signal) => loadMachines(api, subscription, signal), 5000, [api, subscription]);
  const [resourceGroup, setResourceGroup] = useState("");
  const [tag, setTag] = useState("");
  const rgId = useId();
  const tagId = useId();
  const all = machines.data ?? [];
  const shown = all.filter((vm) => matchesFilter(vm, { resourceGroup, tag }));
  const connected = all.filter((vm) => vm.properties?.agentInstanceView?.status === "Connected").length;

  return (
    <>
      <PageHeader title="Machines" subtitle={machines.data ? `${all.length} ${all.length === 1 ? "machine" : "machines"}, ${connected} connected. Updates every 5 seconds.` : undefined} />
      <div className="filters" role="search">
        <div className="field">
          <label htmlFor={rgId}>Resource group</label>
          <select id={rgId} value={resourceGroup} onChange={(e) => setResourceGroup(e.target.value)}>
            <option value="">All resource groups</option>
            {resourceGroupsOf(all).map((rg) => (
              <option key={rg} value={rg}>
                {rg}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={tagId}>Tag</label>
          <input id={tagId} type="search" placeholder="role=web" value={tag} onChange={(e) => setTag(e.target.value)} />
        </div>
      </div>
      <ErrorBox error={machines.error} title="The machines could not be listed:" />
      {machines.loading && !machines.data ? <Loading what="machines" /> : null}
      {machines.data && all.length === 0 ? (
        <Empty title="No machines yet.">
          <p>Machines appear here once their agent enrolls. On each machine run:</p>
          <pre className="command">./runcmd agent --server {window.location.origin} --vm-name NAME --resource-group RG --enroll-token-file enroll.token</pre>
          <p>
            (or <code>./runcmd up</code> for this machine). Enrollment tokens: <code>./runcmd vm agent enrollment-token create -g RG</code>.
          </p>
        </Empty>
      ) : null}
      {machines.data && all.length > 0 && shown.length === 0 ? (
        <Empty title="No machine matches these filters.">
          <button type="button" className="secondary" onClick={() => (setResourceGroup(""), setTag(""))}>
            Clear the filters
          </button>
        </Empty>
      ) : null}
      {shown.length > 0 ? (
        <table className="list">
          <caption className="sr-only">Machines</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Resource group</th>
              <th scope="col">Tags</th>
              <th scope="col">Agent</th>
              <th scope="col">Status</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((vm) => {
              const ref = parseMachineId(vm.id);
              const agent = vm.properties?.agentInstanceView;
              return (
                <tr key={vm.id}>
                  <td data-label="Name">
                    {ref ? (
                      <a href={machineHref({ rg: ref.resourceGroup, vm: ref.vmName, scaleSet: ref.scaleSet, instance: ref.instanceId })}>{machineLabel(ref)}</a>
                    ) : (
                      vm.name
                    )}
                    {agent?.hostname && agent.hostname !== vm.name ? <span className="muted small"> on host {agent.hostname}</span> : null}
                  </td>
                  <td data-label="Resource group">{ref?.resourceGroup}</td>
                  <td data-label="Tags">{formatTags(vm.tags) || <span className="muted">none</span>}</td>
                  <td data-label="Agent" title={agent?.agentVersion}>
                    {agent?.agentVersion ? formatVersion(agent.agentVersion) : <span className="muted">unknown</span>}
                  </td>
                  <td data-label="Status">
                    <StateBadge state={agent?.status} />
                  </td>
                  <td data-label="Last seen">{formatAgo(agent?.lastContact)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
