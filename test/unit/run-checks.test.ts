import { describe, expect, it } from "vitest";
import type { Probe } from "../../harness/model/probe.js";
import { latch } from "../../harness/engine/run-checks.js";
import type { Clock } from "../../clusters/wait.js";
import type { ScenarioContext } from "../../harness/model/context.js";

describe("latch", () => {
  it("asks a round's probes together, so a probe that takes its time does not hold back the others", async () => {
    // "slow" holds only if "quick" was asked while it was still deciding (it gives up after 1s otherwise).
    let quickAsked!: () => void;
    const quickStarted = new Promise<void>((r) => (quickAsked = r));
    const slow: Probe = {
      name: "slow",
      expectation: "decides after a grace period",
      check: () =>
        Promise.race([
          quickStarted.then(() => ({ ok: true, observed: "quick was asked meanwhile" })),
          new Promise<{ ok: boolean; observed: string }>((r) => setTimeout(() => r({ ok: false, observed: "asked alone" }), 1000)),
        ]),
    };
    const quick: Probe = { name: "quick", expectation: "answers at once", check: async () => (quickAsked(), { ok: true, observed: "yes" }) };
    let now = 0;
    const clock: Clock = { now: () => now, sleep: async (ms) => void (now += ms) };
    const seen: string[] = [];
    const r = await latch([slow, quick], { clock } as unknown as ScenarioContext, 0, (p) => seen.push(p.name));
    expect(r.pending).toEqual([]);
    expect(seen.sort()).toEqual(["quick", "slow"]);
    expect(r.last.get(slow)?.observed).toBe("quick was asked meanwhile");
  });
});
