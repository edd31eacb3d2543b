/**
 * A demo app of the scenario's own, by handle: the builder that makes it (echoService, or app() for manifests a
 * scenario writes itself) names it once, and everything that refers to it (its load, its probes, a fault aimed at
 * its pods, the workload slot a team's workload takes) takes the handle, so a mistyped name does not compile.
 * Here in the model because a scenario's WorkloadSlot holds one; the kit's targets.ts makes them (app()).
 */
export interface App {
  /** Its name: the Deployment's and the Service's, and the pods' label app=NAME. */
  readonly app: string;
}
