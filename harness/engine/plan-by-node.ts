import type { Scenario } from "../model/scenario.js";

/**
 * --dry-run on someone's own cluster: every command the fault, the runbook and the rollback will run, grouped by
 * where it runs. The plan's text is written for people, not parsed from code, so the target of a line is read from
 * what it names: a node of the inventory by name, kubectl/helm (this host, through the API), control-plane things
 * (manifests, etcd, the API server's files) or a worker; what names none runs on a node the fault picks at run time.
 */

export interface PlannedNode {
  name: string;
  role: "control-plane" | "worker" | "unknown";
}

export interface PlannedCommand {
  /** "fault", "runbook 2: <title>", "rollback". */
  when: string;
  command: string;
  /** The title of its fault or step, read when the line itself names no target ("… on the rebooted worker"). */
  title: string;
}

const HOST = "this host (kubectl and helm, through the API)";
const CONTROL_PLANE = /control-plane|control plane|etcd|kube-apiserver|kube-controller-manager|kube-scheduler|\/etc\/kubernetes\/(manifests|pki)/i;

/** Where one plan line runs (a group title): from the line, else from its step's title, else from the scenario's tags. */
export function targetOf(line: string, nodes: readonly PlannedNode[], tags: readonly string[], title = ""): string {
  const fromLine = targetIn(line, nodes);
  if (fromLine) return fromLine;
  const fromTitle = title && !/^\s*(kubectl|helm)\b/.test(title) ? targetIn(title, nodes) : undefined;
  if (fromTitle) return fromTitle;
  const cps = nodes.filter((n) => n.role === "control-plane");
  if (tags.includes("control-plane") || tags.includes("etcd")) return cps.length === 1 ? nodeTitle(cps[0]!) : `a control-plane node${list(cps)}`;
  return `a node picked at run time${list(nodes)}`;
}

function targetIn(line: string, nodes: readonly PlannedNode[]): string | undefined {
  const named = nodes.filter((n) => new RegExp(`(^|[^\\w.-])${n.name.replace(/[.]/g, "\\.")}($|[^\\w.-])`).test(line));
  if (named.length === 1) return nodeTitle(named[0]!);
  if (/^\s*(kubectl|helm)\b/.test(line)) return HOST;
  const cps = nodes.filter((n) => n.role === "control-plane");
  const workers = nodes.filter((n) => n.role === "worker");
  if (CONTROL_PLANE.test(line)) return cps.length === 1 ? nodeTitle(cps[0]!) : `a control-plane node${list(cps)}`;
  if (/\bworker/i.test(line)) return workers.length === 1 ? nodeTitle(workers[0]!) : `a worker${list(workers)}`;
  return undefined;
}

const nodeTitle = (n: PlannedNode) => `${n.name} (${n.role})`;
const list = (ns: readonly PlannedNode[]) => (ns.length ? ` (one of ${ns.map((n) => n.name).join(", ")})` : "");

/** Every command of the plan with its phase, in run order. Comment-only and empty lines are left out. */
export function plannedCommands(s: Pick<Scenario, "fault" | "runbook">): PlannedCommand[] {
  const lines = (when: string, title: string, text: string) =>
    text
      .split("\n")
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() && !l.trim().startsWith("#"))
      .map((command) => ({ when, command, title }));
  return [
    ...s.fault.plan.flatMap((l) => lines("fault", s.fault.title, l)),
    ...s.runbook.flatMap((st, i) => lines(`runbook ${i + 1}: ${st.title}`, st.title, st.shows)),
    ...(s.fault.rollback ? lines("rollback", s.fault.rollback.title, s.fault.rollback.shows) : []),
  ];
}

/** The dry run's per-node section: one group per target, in the order each first appears, each command with its phase. */
export function planByNode(s: Pick<Scenario, "fault" | "runbook" | "tags">, nodes: readonly PlannedNode[]): string {
  const groups = new Map<string, PlannedCommand[]>();
  for (const c of plannedCommands(s)) {
    const t = targetOf(c.command, nodes, s.tags, c.title);
    groups.set(t, [...(groups.get(t) ?? []), c]);
  }
  const out = ["commands by where they run:"];
  for (const [t, cs] of groups) {
    out.push(`  ${t}:`);
    for (const c of cs) out.push(`    [${c.when}] $ ${c.command}`);
  }
  return out.join("\n");
}
