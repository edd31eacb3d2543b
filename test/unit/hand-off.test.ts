import { describe, expect, it } from "vitest";
import type { ClusterAccess, NodeHandle } from "../../clusters/contract.js";
import { AftershockError } from "../../clusters/errors.js";
import type { RunResult } from "../../clusters/exec.js";
import { controlPlaneMachinesLost, LOST_MACHINES, lostNodes } from "../../harness/kit/faults.js";
import { deleteLostNodes } from "../../harness/kit/steps.js";
import { Found, handOff, type ScenarioContext } from "../../harness/model/context.js";

/** Three control planes whose machines can be destroyed, and a kubectl that only records what it was asked. */
function threeControlPlanes(): { ctx: ScenarioContext; destroyed: string[]; kubectl: string[][] } {
  const destroyed: string[] = [];
  const kubectl: string[][] = [];
  const ok = (command: string): RunResult => ({ command, stdout: "", stderr: "", exitCode: 0, elapsedMs: 1 });
  const nodes: NodeHandle[] = ["as-1-control-plane", "as-1-control-plane2", "as-1-control-plane3"].map((name) => ({
    name,
    role: "control-plane",
    exec: async (argv) => ok(argv.join(" ")),
    sh: async (s) => ok(s),
  }));
  const cluster = {
    name: "as-1",
    shell: { nodes, controlPlane: () => nodes.at(-1)!, node: (n: string) => nodes.find((x) => x.name === n)! },
    lifecycle: { destroyNode: async (n: string) => void destroyed.push(n) },
    kubectl: async (args: string[]) => (kubectl.push(args), ok(`kubectl ${args.join(" ")}`)),
  } as unknown as ClusterAccess;
  const ctx: ScenarioContext = { cluster, clock: { now: () => 0, sleep: async () => {} }, found: new Found(), evidence: () => {}, namespace: "default" };
  return { ctx, destroyed, kubectl };
}

describe("typed hand-offs (ctx.found)", () => {
  it("gives back what was set under the same key, and nothing under another key of the same name", () => {
    const found = new Found();
    const a = handOff<string[]>("the nodes", "test a");
    const b = handOff<string[]>("the nodes", "test b");
    found.set(a, ["n1", "n2"]);
    expect(found.get(a)).toEqual(["n1", "n2"]);
    expect(found.need(a)).toEqual(["n1", "n2"]);
    expect(found.get(b)).toBeUndefined();
    // @ts-expect-error a key's type is checked: a comma-joined string is not a list of names
    found.set(a, "n1,n2");
  });

  it("need() of a value nobody set is E_HAND_OFF, naming the value and who sets it", () => {
    const found = new Found();
    const key = handOff<number>("the pid", 'the runbook step "find who holds :2380"');
    let err: unknown;
    try {
      found.need(key);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AftershockError);
    expect((err as AftershockError).code).toBe("E_HAND_OFF");
    expect((err as AftershockError).message).toBe(
      `the pid: not known yet (set by the runbook step "find who holds :2380", which has not run or did not get that far)`,
    );
  });

  it("a value set as undefined counts as set (need gives it back)", () => {
    const found = new Found();
    const key = handOff<string | undefined>("the maybe", "test");
    found.set(key, undefined);
    expect(found.need(key)).toBeUndefined();
  });

  it("the lost machines go from the fault to the runbook as a list, and a runbook step before the fault names what it waits for", async () => {
    const { ctx, destroyed, kubectl } = threeControlPlanes();
    await expect(deleteLostNodes().run(ctx)).rejects.toThrow(/^the lost control-plane machines: not known yet \(set by the fault controlPlaneMachinesLost, /);
    expect(kubectl).toEqual([]);
    expect(lostNodes(ctx)).toEqual([]);
    await controlPlaneMachinesLost(2).inject(ctx);
    expect(destroyed).toEqual(["as-1-control-plane", "as-1-control-plane2"]);
    expect(ctx.found.need(LOST_MACHINES)).toEqual(["as-1-control-plane", "as-1-control-plane2"]);
    await deleteLostNodes().run(ctx);
    expect(kubectl).toEqual([["-n", "default", "delete", "node", "as-1-control-plane", "as-1-control-plane2", "--ignore-not-found", "--request-timeout=30s"]]);
  });
});
