import type { ClusterAccess } from "../../clusters/contract.js";
import { AftershockError } from "../../clusters/errors.js";
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

/**
 * A typed key for a value one fault, step or probe hands to later ones through `ctx.found`: the key, not a string,
 * names it, so a misspelt or mistyped hand-off is a compile error. `setBy` says who should have set it (the error
 * of `found.need` names it).
 *
 *   export const LOST_NODE = handOff<string>("the lost node", "the fault that loses a worker (kubeletStopped, …)");
 *   ctx.found.set(LOST_NODE, node);            // in the fault
 *   const node = ctx.found.need(LOST_NODE);     // in a probe or runbook step
 */
export interface HandOff<T> {
  readonly name: string;
  readonly setBy: string;
  /** Type only: what the key carries (never set). */
  readonly carries?: (v: T) => T;
}

export function handOff<T>(name: string, setBy: string): HandOff<T> {
  return { name, setBy };
}

/** The values a run's faults, steps and probes hand to later ones, each under its typed key. */
export class Found {
  private readonly values = new Map<HandOff<unknown>, unknown>();

  set<T>(key: HandOff<T>, value: T): void {
    this.values.set(key as HandOff<unknown>, value);
  }

  get<T>(key: HandOff<T>): T | undefined {
    return this.values.get(key as HandOff<unknown>) as T | undefined;
  }

  /** The value, or E_HAND_OFF naming the key and who should have set it. */
  need<T>(key: HandOff<T>): T {
    if (!this.values.has(key as HandOff<unknown>))
      throw new AftershockError("E_HAND_OFF", `${key.name}: not known yet (set by ${key.setBy}, which has not run or did not get that far)`);
    return this.values.get(key as HandOff<unknown>) as T;
  }
}

/** What every fault, probe and step receives. `found` carries values from the fault and one runbook step to the next. */
export interface ScenarioContext {
  readonly cluster: ClusterAccess;
  readonly clock: Clock;
  readonly found: Found;
  /** The run's own namespace (scenarios with scope "namespace"): every write of theirs goes there. */
  readonly namespace: string;
  /**
   * Wall-clock time (ms since epoch) from which log and journal probes count lines: the fault's injection
   * once it is injected; before that, the start of the steady-state check (the symptoms-absent check asks
   * the same question of the healthy cluster over the same kind of window). On the run's clock; the run sets it.
   */
  readonly logsSince?: number;
  /** The run's load streams (scenarios that declare load), for load probes. */
  readonly load?: LoadMonitor;
  evidence(source: string, text: string): void;
}
