import { useId, useState } from "react";
import { ApiVersions } from "../api/client";
import type { ActivityLogEvent } from "../api/types";
import { Empty, ErrorBox, Loading, PageHeader, StateBadge, TextField } from "../components/ui";
import { usePoll, useSession } from "../hooks";
import { activityFilter } from "../logic/activity";
import { formatTime } from "../logic/format";
import { useResourceGroups, ResourceGroupPicker } from "./Fleet";

export function ActivityPage() {
  const { api, subscription } = useSession();
  const groups = useResourceGroups();
  const [resourceGroup, setResourceGroup] = useState("");
  const [caller, setCaller] = useState("");
  const [hours, setHours] = useState("24");
  const sinceId = useId();
  const filter = activityFilter({ since: new Date(Date.now() - Number(hours) * 3600_000), resourceGroup, caller });
  const events = usePoll(
    (signal) =>
      api.list<ActivityLogEvent>(
        `/subscriptions/${encodeURIComponent(subscription)}/providers/Microsoft.Insights/eventtypes/management/values?$filter=${encodeURIComponent(filter)}`,
        ApiVersions.activityLog,
        signal,
      ),
    10000,
    [api, subscription, resourceGroup, caller, hours],
  );
  return (
    <>
      <PageHeader title="Activity log" subtitle="Every write, run and refused request, newest first." />
      <div className="filters" role="search">
        <ResourceGroupPicker value={resourceGroup} groups={groups} onChange={setResourceGroup} />
        <TextField label="Caller" value={caller} onChange={setCaller} placeholder="alice" />
        <div className="field">
          <label htmlFor={sinceId}>Since</label>
          <select id={sinceId} value={hours} onChange={(e) => setHours(e.target.value)}>
            <option value="1">the last hour</option>
            <option value="24">the last 24 hours</option>
            <option value="168">the last 7 days</option>
            <option value="2160">the last 90 days</option>
          </select>
        </div>
      </div>
      <ErrorBox error={events.error} title="The activity log could not be read:" />
      {events.loading && !events.data ? <Loading what="the activity log" /> : null}
      {events.data && events.data.length === 0 ? <Empty title="No activity matches these filters." /> : null}
      {events.data && events.data.length > 0 ? (
        <table className="list">
          <caption className="sr-only">Activity log</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Caller</th>
              <th scope="col">Operation</th>
              <th scope="col">Resource</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {events.data.map((ev) => (
              <tr key={ev.id}>
                <td data-label="Time">{formatTime(ev.eventTimestamp)}</td>
                <td data-label="Caller">{ev.caller ?? <span className="muted">unauthenticated</span>}</td>
                <td data-label="Operation">
                  <span className="mono">{ev.httpRequest?.method}</span> {ev.authorization.action}
                </td>
                <td data-label="Resource" className="break">
                  {ev.resourceId}
                </td>
                <td data-label="Status">
                  <StateBadge state={ev.status.value} /> {ev.subStatus?.value ?? ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
