import { useEffect, useState } from "react";
import { Api, ApiError, ApiVersions, session } from "./api/client";
import type { SignedInPrincipal, Subscription } from "./api/types";
import { ErrorBox, Loading } from "./components/ui";
import { SessionContext, useRoute, type Session } from "./hooks";
import { AccessPage } from "./pages/Access";
import { ActivityPage } from "./pages/Activity";
import { DeploymentPage, DeploymentsPage } from "./pages/Deployments";
import { FleetPage, FleetRunPage } from "./pages/Fleet";
import { MachinePage } from "./pages/Machine";
import { MachinesPage } from "./pages/Machines";
import { RunCommandPage } from "./pages/RunCommandPage";
import type { Route } from "./logic/router";

/** Checks a token by asking who it belongs to; the subscription and location come from the API too. */
async function signIn(token: string): Promise<Session> {
  const api = new Api(token);
  const me = await api.get<SignedInPrincipal>("/providers/Microsoft.Authorization/signedInPrincipal", ApiVersions.authorization);
  const subscriptions = await api.list<Subscription>("/subscriptions", ApiVersions.compute);
  const first = subscriptions[0];
  if (!first) {
    throw new ApiError(0, "NoSubscription", "The server lists no subscription.");
  }
  return { api, me, subscription: first.subscriptionId, location: first.location ?? "local" };
}

export function App() {
  const [current, setCurrent] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => session.load() !== null);
  const [error, setError] = useState<ApiError | null>(null);

  const restore = () => {
    const saved = session.load();
    if (saved) {
      setRestoring(true);
      signIn(saved)
        .then(setCurrent)
        .catch((e: ApiError) => {
          // Only a refused token is forgotten: a server that is restarting or unreachable keeps the session for a retry.
          if (e.status === 401 || e.status === 403) {
            session.clear();
          }
          setError(e);
        })
        .finally(() => setRestoring(false));
    }
  };
  useEffect(restore, []);

  if (restoring) {
    return (
      <main className="signin">
        <Loading what="your session" />
      </main>
    );
  }
  if (!current) {
    return (
      <SignIn
        error={error}
        onRetry={session.load() !== null ? restore : undefined}
        onSubmit={async (token) => {
          setError(null);
          try {
            const s = await signIn(token);
            session.save(token);
            setCurrent(s);
          } catch (e) {
            setError(e instanceof ApiError ? e : new ApiError(0, "ClientError", String(e)));
          }
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={current}>
      <Shell
        onSignOut={() => {
          session.clear();
          setCurrent(null);
        }}
      />
    </SessionContext.Provider>
  );
}

function SignIn({ error, onRetry, onSubmit }: { error: ApiError | null; onRetry?: () => void; onSubmit: (token: string) => Promise<void> }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <main className="signin">
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          void onSubmit(token.trim()).finally(() => setBusy(false));
        }}
      >
        <h1>
          <span className="logo" aria-hidden="true">
            ❯_
          </span>{" "}
          RunCommand
        </h1>
        <p>Sign in with an API token. It stays in this browser tab only and is forgotten when the tab closes.</p>
        <div className="field">
          <label htmlFor="token">API token</label>
          <input id="token" type="password" autoComplete="off" spellCheck={false} value={token} onChange={(e) => setToken(e.target.value)} required />
          <p className="hint">
            The server's <code>admin.token</code> (in its data dir), or one made with <code>./runcmd token create --assignee NAME</code>.
          </p>
        </div>
        {error ? (
          <ErrorBox
            error={error}
            title={error.status === 401 ? "This token was refused:" : error.status === 0 ? "" : "Signing in failed:"}
          />
        ) : null}
        <button type="submit" disabled={busy || token.trim().length === 0}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {onRetry ? (
          <button type="button" className="secondary" onClick={onRetry}>
            Try again with this tab's token
          </button>
        ) : null}
      </form>
    </main>
  );
}

const nav: [string, string, Route["page"][]][] = [
  ["#/machines", "Machines", ["machines", "machine", "runCommand"]],
  ["#/fleet", "Fleet runs", ["fleet", "fleetRun"]],
  ["#/deployments", "Deployments", ["deployments", "deployment"]],
  ["#/activity", "Activity log", ["activity"]],
  ["#/access", "Access", ["access"]],
];

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const route = useRoute();
  return (
    <SessionContext.Consumer>
      {(s) => (
        <>
          <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
            Skip to content
          </a>
          <header className="top">
            <a className="brand" href="#/machines">
              <span className="logo" aria-hidden="true">
                ❯_
              </span>{" "}
              RunCommand
            </a>
            <nav aria-label="Main">
              <ul>
                {nav.map(([href, label, pages]) => (
                  <li key={href}>
                    <a href={href} aria-current={pages.includes(route.page) ? "page" : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <div className="user">
              <span data-testid="user-name" className="user-name">
                {s?.me.name}
              </span>
              <span className="user-roles" data-testid="user-roles">
                {s && s.me.roles.length > 0 ? [...new Set(s.me.roles.map((r) => r.roleName))].join(", ") : "no roles"}
              </span>
              <button type="button" className="link" onClick={onSignOut}>
                Sign out
              </button>
            </div>
          </header>
          <main id="main" tabIndex={-1}>
            <Page route={route} />
          </main>
        </>
      )}
    </SessionContext.Consumer>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "machines":
      return <MachinesPage />;
    case "machine":
      return <MachinePage key={`${route.rg}/${route.vm}/${route.scaleSet}/${route.instance}/${route.action}`} route={route} />;
    case "runCommand":
      return <RunCommandPage key={`${route.rg}/${route.vm}/${route.scaleSet}/${route.instance}/${route.name}`} route={route} />;
    case "fleet":
      // Not keyed by the group: its filter is typed into, and a remount per key would take the field's focus.
      return <FleetPage key={route.action} rg={route.rg} action={route.action} />;
    case "fleetRun":
      return <FleetRunPage key={`${route.rg}/${route.name}`} rg={route.rg} name={route.name} />;
    case "deployments":
      return <DeploymentsPage rg={route.rg} />;
    case "deployment":
      return <DeploymentPage key={`${route.rg}/${route.name}`} rg={route.rg} name={route.name} />;
    case "activity":
      return <ActivityPage />;
    case "access":
      return <AccessPage />;
    default:
      return (
        <div className="empty">
          <h1>Nothing here</h1>
          <p>
            There is no page at <code>#{route.path}</code>. <a href="#/machines">Go to the machines</a>.
          </p>
        </div>
      );
  }
}
