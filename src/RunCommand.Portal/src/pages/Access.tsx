import { useId, useState } from "react";
import { ApiError, ApiVersions } from "../api/client";
import type { ApiToken, Principal, RoleAssignment, RoleDefinition } from "../api/types";
import { Empty, ErrorBox, PageHeader, TextField } from "../components/ui";
import { usePermissions, usePoll, useSession } from "../hooks";
import { formatTime } from "../logic/format";
import { Actions } from "../logic/permissions";

const auth = "/providers/Microsoft.Authorization";

export function AccessPage() {
  const { api, me, subscription } = useSession();
  const subPath = `/subscriptions/${encodeURIComponent(subscription)}`;
  const { can } = usePermissions(subPath);
  const principals = usePoll((s) => (can(Actions.principalsRead) ? api.list<Principal>(`${auth}/principals`, ApiVersions.authorization, s) : Promise.resolve(null)), 0, [api, can(Actions.principalsRead)]);
  const tokens = usePoll((s) => (can(Actions.tokensRead) ? api.list<ApiToken>(`${auth}/tokens`, ApiVersions.authorization, s) : Promise.resolve(null)), 0, [api, can(Actions.tokensRead)]);
  const roles = usePoll((s) => api.list<RoleDefinition>(`${subPath}${auth}/roleDefinitions`, ApiVersions.authorization, s).catch(() => [] as RoleDefinition[]), 0, [api, subPath]);
  const assignments = usePoll(
    (s) => (can(Actions.roleAssignmentsRead) ? api.list<RoleAssignment>(`${subPath}${auth}/roleAssignments`, ApiVersions.authorization, s) : Promise.resolve(null)),
    0,
    [api, subPath, can(Actions.roleAssignmentsRead)],
  );
  const [error, setError] = useState<ApiError | null>(null);
  const [newToken, setNewToken] = useState<string | null>(null);
  const [userName, setUserName] = useState("");
  const [assignee, setAssignee] = useState("");
  const [role, setRole] = useState("Reader");
  const [scope, setScope] = useState(subPath);
  const roleId = useId();

  const act = async (f: () => Promise<void>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const roleName = (id?: string) => roles.data?.find((r) => id?.toLowerCase().endsWith(r.name.toLowerCase()))?.properties.roleName ?? id;
  const principalName = (id?: string) => principals.data?.find((p) => p.id === id)?.name ?? id;

  return (
    <>
      <PageHeader title="Access" subtitle="Who may do what: principals, their API tokens and role assignments (docs/auth.md)." />
      <h2>You</h2>
      <p>
        Signed in as <strong>{me.name}</strong>
        {me.displayName ? ` (${me.displayName})` : ""}.
      </p>
      {me.roles.length === 0 ? (
        <Empty title="You hold no role yet: ask an owner to assign you one." />
      ) : (
        <ul>
          {me.roles.map((r) => (
            <li key={r.scope + r.roleDefinitionId}>
              {r.roleName} at <code className="break">{r.scope}</code>
            </li>
          ))}
        </ul>
      )}
      <ErrorBox error={error} />
      {newToken ? (
        <div className="notice" role="status">
          <p>The new token, shown only this once. Copy it now:</p>
          <pre className="command" data-testid="new-token">
            {newToken}
          </pre>
          <button type="button" className="secondary" onClick={() => setNewToken(null)}>
            I have copied it
          </button>
        </div>
      ) : null}

      {principals.data ? (
        <>
          <h2>Principals</h2>
          <ErrorBox error={principals.error} />
          {can(Actions.principalsWrite) ? (
            <form
              className="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                void act(async () => {
                  await api.put(`${auth}/principals/${encodeURIComponent(userName)}`, ApiVersions.authorization, { principalType: "User" });
                  setUserName("");
                  principals.reload();
                });
              }}
            >
              <TextField label="New user" value={userName} onChange={setUserName} placeholder="alice" />
              <button type="submit">Create user</button>
            </form>
          ) : null}
          <table className="list">
            <caption className="sr-only">Principals</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Object id</th>
                {can(Actions.tokensWrite) ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {principals.data.map((p) => (
                <tr key={p.id}>
                  <td data-label="Name">{p.name}</td>
                  <td data-label="Type">{p.principalType}</td>
                  <td data-label="Object id" className="mono break">
                    {p.id}
                  </td>
                  {can(Actions.tokensWrite) ? (
                    <td data-label="Actions">
                      {p.name !== "admin" ? (
                        <button
                          type="button"
                          className="secondary"
                          onClick={() =>
                            void act(async () => {
                              const t = await api.post<ApiToken>(`${auth}/principals/${encodeURIComponent(p.name)}/tokens`, ApiVersions.authorization, {
                                expiresInSeconds: 30 * 86400,
                                description: "created in the portal",
                              });
                              setNewToken(t.token ?? null);
                              tokens.reload();
                            })
                          }
                        >
                          New token (30 days)
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}

      {tokens.data ? (
        <>
          <h2>API tokens</h2>
          {tokens.data.length === 0 ? <Empty title="No API tokens yet: create one for a principal above." /> : null}
          {tokens.data.length > 0 ? (
            <table className="list">
              <caption className="sr-only">API tokens</caption>
              <thead>
                <tr>
                  <th scope="col">Principal</th>
                  <th scope="col">Description</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">State</th>
                  {can(Actions.tokensDelete) ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((t) => (
                  <tr key={t.id}>
                    <td data-label="Principal">{t.principalName}</td>
                    <td data-label="Description">{t.description}</td>
                    <td data-label="Created">{formatTime(t.createdOn)}</td>
                    <td data-label="Expires">{t.expiresOn ? formatTime(t.expiresOn) : "never"}</td>
                    <td data-label="State">{t.revokedOn ? `revoked ${formatTime(t.revokedOn)}` : "active"}</td>
                    {can(Actions.tokensDelete) ? (
                      <td data-label="Actions">
                        {!t.revokedOn ? (
                          <button
                            type="button"
                            className="danger"
                            onClick={() =>
                              window.confirm(`Revoke this token of ${t.principalName ?? "its principal"}? Whatever uses it is refused from now on; this cannot be undone.`) &&
                              void act(async () => {
                                await api.delete(`${auth}/tokens/${encodeURIComponent(t.id)}`, ApiVersions.authorization);
                                tokens.reload();
                              })
                            }
                          >
                            Revoke
                          </button>
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </>
      ) : null}

      {assignments.data ? (
        <>
          <h2>Role assignments</h2>
          {can(Actions.roleAssignmentsWrite) ? (
            <form
              className="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                void act(async () => {
                  const definition = roles.data?.find((r) => r.properties.roleName === role);
                  await api.put(`${scope === "/" ? "" : scope}${auth}/roleAssignments/${crypto.randomUUID()}`, ApiVersions.authorization, {
                    properties: { principalId: assignee, roleDefinitionId: definition?.id ?? role },
                  });
                  assignments.reload();
                });
              }}
            >
              <TextField label="Principal" value={assignee} onChange={setAssignee} placeholder="alice" />
              <div className="field">
                <label htmlFor={roleId}>Role</label>
                <select id={roleId} value={role} onChange={(e) => setRole(e.target.value)}>
                  {(roles.data ?? []).map((r) => (
                    <option key={r.name} value={r.properties.roleName}>
                      {r.properties.roleName}
                    </option>
                  ))}
                </select>
              </div>
              <TextField label="Scope" value={scope} onChange={setScope} wide />
              <button type="submit">Assign</button>
            </form>
          ) : null}
          <table className="list">
            <caption className="sr-only">Role assignments</caption>
            <thead>
              <tr>
                <th scope="col">Principal</th>
                <th scope="col">Role</th>
                <th scope="col">Scope</th>
                {can(Actions.roleAssignmentsDelete) ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {assignments.data.map((a) => (
                <tr key={a.id}>
                  <td data-label="Principal">{principalName(a.properties.principalId)}</td>
                  <td data-label="Role">{roleName(a.properties.roleDefinitionId)}</td>
                  <td data-label="Scope" className="break">
                    {a.properties.scope}
                  </td>
                  {can(Actions.roleAssignmentsDelete) ? (
                    <td data-label="Actions">
                      {a.properties.principalId !== "00000000-0000-0000-0000-000000000001" ? (
                        <button
                          type="button"
                          className="danger"
                          onClick={() =>
                            window.confirm(`Remove the role ${roleName(a.properties.roleDefinitionId)} of ${principalName(a.properties.principalId)} at ${a.properties.scope}?`) &&
                            void act(async () => {
                              await api.delete(a.id, ApiVersions.authorization);
                              assignments.reload();
                            })
                          }
                        >
                          Remove
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {!principals.data && !assignments.data ? <p className="muted">Your roles do not let you manage principals, tokens or role assignments.</p> : null}
    </>
  );
}
