import { ApiVersions } from "../api/client";
import type { Deployment, DeploymentOperation } from "../api/types";
import { Empty, ErrorBox, Loading, PageHeader, StateBadge } from "../components/ui";
import { usePoll, useSession } from "../hooks";
import { orderSteps } from "../logic/deployments";
import { formatDuration, formatTime, isTerminal } from "../logic/format";
import { parseMachineId } from "../logic/ids";
import { deploymentHref, runCommandHref } from "../logic/router";
import { ResourceGroupFilter, useResourceGroups } from "./Fleet";

const e = encodeURIComponent;

function deploymentsPath(subscription: string, rg: string, name?: string): string {
  return `/subscriptions/${e(subscription)}/resourcegroups/${e(rg)}/providers/Microsoft.Resources/deployments${name ? "/" + e(name) : ""}`;
}

export function DeploymentsPage({ rg }: { rg: string | null }) {
  const { api, subscription } = useSession();
  const groups = useResourceGroups();
  const current = rg ?? groups[0] ?? "";
  const list = usePoll(
    (signal) => (current ? api.list<Deployment>(deploymentsPath(subscription, current), ApiVersions.deployments, signal) : Promise.resolve([])),
    5000,
    [api, subscription, current],
  );
  return (
    <>
      <PageHeader title="Deployments" subtitle="ARM templates of run commands, run in dependency order." />
      <div className="filters">
        <ResourceGroupFilter value={current} groups={groups} hrefOf={(v) => `#/deployments/${e(v)}`} />
      </div>
      <ErrorBox error={list.error} title="The deployments could not be listed:" />
      {list.loading && !list.data ? <Loading what="deployments" /> : null}
      {current && list.data && list.data.length === 0 ? (
        <Empty title={`No deployments in ${current} yet.`}>
          <p>
            Deploy a template of run commands: <code>./runcmd deployment group create -g {current} -n NAME --template-file template.json</code> (docs/deployments.md).
          </p>
        </Empty>
      ) : null}
      {list.data && list.data.length > 0 ? (
        <table className="list">
          <caption className="sr-only">Deployments of {current}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((d) => (
              <tr key={d.name}>
                <td data-label="Name">
                  <a href={deploymentHref(current, d.name ?? "")}>{d.name}</a>
                </td>
                <td data-label="State">
                  <StateBadge state={d.properties?.provisioningState} />
                </td>
                <td data-label="Started">{formatTime(d.properties?.startTime ?? d.properties?.timestamp)}</td>
                <td data-label="Duration">{formatDuration(d.properties?.startTime, d.properties?.endTime) ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export function DeploymentPage({ rg, name }: { rg: string; name: string }) {
  const { api, subscription } = useSession();
  const path = deploymentsPath(subscription, rg, name);
  const data = usePoll(
    async (signal) => {
      const [deployment, operations] = await Promise.all([
        api.get<Deployment>(path, ApiVersions.deployments, signal),
        api.list<DeploymentOperation>(`${path}/operations`, ApiVersions.deployments, signal),
      ]);
      return { deployment, operations };
    },
    2000,
    [api, path],
  );
  const p = data.data?.deployment.properties;
  const operations = data.data?.operations ?? [];
  const steps = orderSteps(p?.dependencies ?? [], operations.map((o) => o.properties.targetResource));
  const operationOf = (id: string) => operations.find((o) => o.properties.targetResource.id.toLowerCase() === id.toLowerCase());

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href={`#/deployments/${e(rg)}`}>Deployments</a> / <span>{name}</span>
      </nav>
      <PageHeader
        title={name}
        subtitle={
          p ? (
            <>
              <StateBadge state={p.provisioningState} /> resource group {rg} · started {formatTime(p.startTime)}
              {formatDuration(p.startTime, p.endTime) ? ` · ${formatDuration(p.startTime, p.endTime)}` : ""}
              {isTerminal(p.provisioningState) ? "" : " · updating live"}
            </>
          ) : undefined
        }
      />
      <ErrorBox error={data.error} title="The deployment could not be read:" />
      <ErrorBox error={p?.error} title="The deployment failed:" />
      {data.loading && !data.data ? <Loading what="the deployment" /> : null}
      {data.data ? (
        <>
          <h2>Steps in dependency order</h2>
          {steps.length === 0 ? <Empty title="The template has no run commands." /> : null}
          <ol className="steps">
            {steps.map((s) => {
              const op = operationOf(s.id);
              const ref = parseMachineId(s.id.replace(/\/runCommands\/[^/]+$/i, ""));
              const commandName = s.id.split("/").pop() ?? s.name;
              return (
                <li key={s.id} className={`step level-${Math.min(s.level, 5)}`}>
                  <div className="step-head">
                    <StateBadge state={op?.properties.provisioningState ?? "Waiting"} />{" "}
                    {ref ? (
                      <a href={runCommandHref({ rg: ref.resourceGroup, vm: ref.vmName, scaleSet: ref.scaleSet, instance: ref.instanceId }, commandName)}>{s.name}</a>
                    ) : (
                      s.name
                    )}
                  </div>
                  <div className="muted small">
                    {s.after.length > 0 ? `after ${s.after.join(", ")}` : "no dependencies"}
                    {op?.properties.startTime ? ` · ${formatDuration(op.properties.startTime, op.properties.endTime)}` : ""}
                  </div>
                  {op?.properties.statusMessage?.error ? <div className="error small">{op.properties.statusMessage.error.message}</div> : null}
                </li>
              );
            })}
          </ol>
        </>
      ) : null}
    </>
  );
}
