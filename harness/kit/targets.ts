import type { App } from "../model/app.js";

/**
 * The pods a fault, probe or runbook step is aimed at: a demo app the scenario made (its pods labelled app=NAME,
 * its Deployment and Service NAME), or a team's workload (--workload) by its name and label selector. What is aimed
 * at a demo app carries `aimsAt` and `retarget`, so that a team's workload in the demo's place
 * (harness/kit/workloads/with-workload.ts) takes the fault instead.
 */

/** A demo app of the scenario's own, by handle (harness/model/app.ts): a mistyped name does not compile. */
export type { App };

/** The handle of a demo app whose manifests the scenario writes itself (deployment(), service(), echoWorkload()). */
export const app = (name: string): App => ({ app: name });

export type PodTarget = App | { name: string; selector: string };

const isApp = (t: PodTarget): t is App => "app" in t;

/** The target's name (for titles) and its pods' label selector. */
export function aimAt(t: PodTarget): { app: string; selector: string } {
  return isApp(t) ? { app: t.app, selector: `app=${t.app}` } : { app: t.name, selector: t.selector };
}

/** What a probe or fault aimed at a demo app carries so that a team's workload can take its place. */
export function aimed<T extends object>(
  t: PodTarget,
  make: (to: PodTarget) => T,
): T & { aimsAt?: string; retarget?: (to: { name: string; selector: string }) => T } {
  const made = make(t);
  return isApp(t) ? Object.assign(made, { aimsAt: t.app, retarget: (to: { name: string; selector: string }) => make(to) }) : made;
}
