import { observe, type Observation, type Probe } from "../model/probe.js";
import type { ProbeRecord } from "./journal.js";
import type { ScenarioContext } from "../model/context.js";

/**
 * Symptom latching: every probe is asked, all at once, every 2s, until each has held once or the budget ends. A
 * probe is latched the first time it holds (symptoms come and go: a crash-looping etcd is up between
 * crashes) and not asked again. `onLatched` is called at once, so reporters show symptoms as they appear.
 */
export async function latch(
  probes: Probe[],
  ctx: ScenarioContext,
  budgetMs: number,
  onLatched: (probe: Probe, o: Observation) => void,
): Promise<{ pending: Probe[]; last: Map<Probe, Observation> }> {
  const { clock } = ctx;
  const pending = new Set(probes);
  const last = new Map<Probe, Observation>();
  const deadline = clock.now() + budgetMs;
  for (;;) {
    // The round's probes are asked together: one that needs a grace period to decide (a pod that stays
    // Pending for 15s) does not hold back the others' first sighting.
    await Promise.all(
      [...pending].map(async (probe) => {
        const o = await observe(probe, ctx);
        last.set(probe, o);
        if (o.ok) {
          pending.delete(probe);
          onLatched(probe, o);
        }
      }),
    );
    if (!pending.size || clock.now() >= deadline) break;
    await clock.sleep(Math.min(2000, Math.max(0, deadline - clock.now())));
  }
  return { pending: [...pending], last };
}

/**
 * Verification's verdict from its probe records: health that did not come back (not-recovered), sentinels
 * that did not (data-lost), and data written after the recovery point (lost by design, reported, not failed).
 */
export function classifyVerify(records: ProbeRecord[]): {
  failedHealth: ProbeRecord[];
  failedSentinels: ProbeRecord[];
  recoveryPoint: string[];
  failed: ProbeRecord[];
} {
  const failed = records.filter((r) => !r.ok && r.kind !== "recovery-point");
  return {
    failed,
    failedHealth: failed.filter((f) => f.kind !== "sentinel"),
    failedSentinels: failed.filter((f) => f.kind === "sentinel"),
    recoveryPoint: records.filter((r) => r.kind === "recovery-point").map((r) => `${r.name}: ${r.observed}`),
  };
}
