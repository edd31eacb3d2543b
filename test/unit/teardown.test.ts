import { describe, expect, it } from "vitest";
import { pendingTeardowns, registerTeardown, runTeardowns } from "../../clusters/teardown.js";

describe("teardown stack", () => {
  it("runs teardowns newest first, keeps going past a failing one, and reports it", async () => {
    const order: string[] = [];
    registerTeardown("network", async () => void order.push("network"));
    registerTeardown("cluster", async () => {
      order.push("cluster");
      throw new Error("boom");
    });
    registerTeardown("side container", async () => void order.push("side container"));
    const failed: string[] = [];
    const ok = await runTeardowns((t) => failed.push(t));
    expect(order).toEqual(["side container", "cluster", "network"]);
    expect(failed).toEqual(["cluster"]);
    expect(ok).toBe(2);
    expect(pendingTeardowns()).toEqual([]);
  });
  it("forgets a teardown once its owner cleaned up itself", async () => {
    const ran: string[] = [];
    const unregister = registerTeardown("done already", async () => void ran.push("x"));
    unregister();
    await runTeardowns();
    expect(ran).toEqual([]);
  });
});
