import type { ClusterAccess } from "../../clusters/contract.js";
import type { Clock } from "../../clusters/wait.js";
import type { LoadMonitor } from "../load/streams.js";

/**
 * The run model's floor (harness/model/): what a scenario is made of and what the engine runs, which neither the
 * author's kit nor the engine owns. Here: what every fault, probe and step of a run receives.
 */

/** Something seen while the scenario ran: a log line, a probe answer, a step's output. */
export interface Evidence {
  at: number;
  source: string;
  text: string;
}

/** What every fault, probe and step receives. `found` carries values from one runbook step to the next. */
export interface ScenarioContext {
  readonly cluster: ClusterAccess;
  readonly clock: Clock;
  readonly found: Record<string, string>;
  /** The run's own namespace (scenarios with scope "namespace"): every write of theirs goes there. */
  readonly namespace: string;
  /**
   * Wall-clock time (ms since epoch) from which log and journal probes count lines: the fault's injection
   * once it is injected; before that, the start of the steady-state check (the symptoms-absent check asks
   * the same question of the healthy cluster over the same kind of window).
   */
  logsSince?: number;
  /** The run's load streams (scenarios that declare load), for load probes. */
  readonly load?: LoadMonitor;
  evidence(source: string, text: string): void;
}
