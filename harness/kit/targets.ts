/**
 * The pods a fault, probe or runbook step is aimed at: a demo app by name (its pods labelled app=NAME, its
 * Deployment NAME), or a team's workload (--workload) by its name and label selector. What is aimed at a demo
 * app by name carries `aimsAt` and `retarget`, so that a team's workload in the demo's place
 * (harness/kit/workloads/with-workload.ts) takes the fault instead.
 */
export type PodTarget = string | { name: string; selector: string };

/** The target's name (for titles) and its pods' label selector. */
export function aimAt(t: PodTarget): { app: string; selector: string } {
  return typeof t === "string" ? { app: t, selector: `app=${t}` } : { app: t.name, selector: t.selector };
}

/** What a probe or fault aimed at a demo app carries so that a team's workload can take its place. */
export function aimed<T extends object>(
  t: PodTarget,
  make: (to: PodTarget) => T,
): T & { aimsAt?: string; retarget?: (to: { name: string; selector: string }) => T } {
  const made = make(t);
  return typeof t === "string" ? Object.assign(made, { aimsAt: t, retarget: (to: { name: string; selector: string }) => make(to) }) : made;
}
