// Routes live in the URL fragment (#/...), so the server serves one index.html and a token never enters a URL.

export type Route =
  | { page: "machines" }
  | { page: "machine"; rg: string; vm: string | null; scaleSet: string | null; instance: string | null; action: "view" | "new" }
  | { page: "runCommand"; rg: string; vm: string | null; scaleSet: string | null; instance: string | null; name: string }
  | { page: "fleet"; rg: string | null; action: "list" | "new" }
  | { page: "fleetRun"; rg: string; name: string }
  | { page: "deployments"; rg: string | null }
  | { page: "deployment"; rg: string; name: string }
  | { page: "activity" }
  | { page: "access" }
  | { page: "notFound"; path: string };

const d = decodeURIComponent;
const e = encodeURIComponent;

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/\/+$/, "");
  const s = path.split("/").filter((p) => p.length > 0);
  const [a, b, c, dd, ee, f, g] = s;
  try {
    if (s.length === 0 || (a === "machines" && s.length === 1)) {
      return { page: "machines" };
    }
    if (a === "rg" && b && c === "vm" && dd) {
      if (s.length === 4 || (s.length === 5 && ee === "new")) {
        return { page: "machine", rg: d(b), vm: d(dd), scaleSet: null, instance: null, action: ee === "new" ? "new" : "view" };
      }
      if (s.length === 6 && ee === "runs" && f) {
        return { page: "runCommand", rg: d(b), vm: d(dd), scaleSet: null, instance: null, name: d(f) };
      }
    }
    if (a === "rg" && b && c === "vmss" && dd && ee) {
      if (s.length === 5 || (s.length === 6 && f === "new")) {
        return { page: "machine", rg: d(b), vm: null, scaleSet: d(dd), instance: d(ee), action: f === "new" ? "new" : "view" };
      }
      if (s.length === 7 && f === "runs" && g) {
        return { page: "runCommand", rg: d(b), vm: null, scaleSet: d(dd), instance: d(ee), name: d(g) };
      }
    }
    if (a === "fleet") {
      if (s.length === 1) {
        return { page: "fleet", rg: null, action: "list" };
      }
      if (s.length === 2 && b === "new") {
        return { page: "fleet", rg: null, action: "new" };
      }
      if (s.length === 2 && b) {
        return { page: "fleet", rg: d(b), action: "list" };
      }
      if (s.length === 3 && b && c) {
        return { page: "fleetRun", rg: d(b), name: d(c) };
      }
    }
    if (a === "deployments") {
      if (s.length === 1) {
        return { page: "deployments", rg: null };
      }
      if (s.length === 2 && b) {
        return { page: "deployments", rg: d(b) };
      }
      if (s.length === 3 && b && c) {
        return { page: "deployment", rg: d(b), name: d(c) };
      }
    }
    if (a === "activity" && s.length === 1) {
      return { page: "activity" };
    }
    if (a === "access" && s.length === 1) {
      return { page: "access" };
    }
  } catch {
    // A malformed %-escape: not a route.
  }
  return { page: "notFound", path };
}

export interface MachineRoute {
  rg: string;
  vm: string | null;
  scaleSet: string | null;
  instance: string | null;
}

export function machineHref(m: MachineRoute, suffix = ""): string {
  const base = m.scaleSet !== null ? `#/rg/${e(m.rg)}/vmss/${e(m.scaleSet)}/${e(m.instance ?? "")}` : `#/rg/${e(m.rg)}/vm/${e(m.vm ?? "")}`;
  return base + suffix;
}

export function runCommandHref(m: MachineRoute, name: string): string {
  return machineHref(m, `/runs/${e(name)}`);
}

export function fleetRunHref(rg: string, name: string): string {
  return `#/fleet/${e(rg)}/${e(name)}`;
}

export function deploymentHref(rg: string, name: string): string {
  return `#/deployments/${e(rg)}/${e(name)}`;
}
