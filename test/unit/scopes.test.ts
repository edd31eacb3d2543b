import net from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { docker } from "../../clusters/docker.js";
import { AftershockError } from "../../clusters/errors.js";
import { exitOnError } from "../../harness/cli/args.js";
import { sampleRunMemory } from "../../clusters/memory.js";
import { startForwarder } from "../e2e/ssh-machines.js";

/**
 * What the harness relies on when it holds a started thing with `await using` (clusters, side containers, the
 * registry, the load generator, the forwarder, a memory sampler): under this project's TypeScript, tsx and vitest,
 * the scope's end releases them, last acquired first, however the body ends; a release that does not throw leaves the
 * body's error as it was; and `await using x = keep ? null : thing` releases nothing when kept.
 */
function fake(name: string, log: string[]): AsyncDisposable {
  return { [Symbol.asyncDispose]: async () => void log.push(`release ${name}`) };
}

describe("a scope that holds started things with `await using`", () => {
  it("releases them at its end, last acquired first", async () => {
    const log: string[] = [];
    {
      await using _cluster = fake("cluster", log);
      await using _side = fake("side container", log);
      log.push("body");
    }
    expect(log).toEqual(["body", "release side container", "release cluster"]);
  });

  it("releases them when the body throws, and the body's error comes out unchanged (no SuppressedError)", async () => {
    const log: string[] = [];
    const body = async () => {
      await using stack = new AsyncDisposableStack();
      stack.use(fake("registry", log));
      stack.use(fake("cluster", log));
      stack.defer(() => void log.push("deferred"));
      throw new Error("the body failed");
    };
    await expect(body()).rejects.toEqual(new Error("the body failed"));
    expect(log).toEqual(["deferred", "release cluster", "release registry"]);
  });

  it("reports a release that throws after a body that threw as a SuppressedError (why releases here do not throw)", async () => {
    const body = async () => {
      await using _x = { [Symbol.asyncDispose]: async () => Promise.reject(new Error("release failed")) };
      throw new Error("the body failed");
    };
    const e = await body().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SuppressedError);
    expect([(e as SuppressedError).error, (e as SuppressedError).suppressed]).toEqual([new Error("release failed"), new Error("the body failed")]);
  });

  it("the CLI says a release that failed after its body failed by the release's error, as the try/finally before it did", async () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s) => (written.push(String(s)), true));
    const exit = vi.spyOn(process, "exit").mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    try {
      const body = async () => {
        await using _cluster = {
          [Symbol.asyncDispose]: async () => Promise.reject(new AftershockError("E_CLUSTER", "kind delete cluster failed")),
        };
        throw new Error("the body failed");
      };
      const e = await body().catch((x: unknown) => x);
      expect(() => exitOnError("aftershock", e)).toThrow("exit ");
      expect(written).toEqual([`aftershock: error E_CLUSTER: ${new AftershockError("E_CLUSTER", "kind delete cluster failed").oneLine()}\n`]);
      expect(exit).toHaveBeenCalledTimes(1);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("releases nothing held as null (a kept cluster: `await using x = keep ? null : cluster`)", async () => {
    const log: string[] = [];
    for (const keep of [true, false]) {
      await using _deleted = keep ? null : fake(`cluster (keep ${keep})`, log);
    }
    expect(log).toEqual(["release cluster (keep false)"]);
  });

  it("a stack whose things were moved out releases none of them (a start that hands what it started to its caller)", async () => {
    const log: string[] = [];
    let handed: AsyncDisposableStack;
    {
      await using stack = new AsyncDisposableStack();
      stack.use(fake("forwarder", log));
      handed = stack.move();
    }
    expect(log).toEqual([]);
    await handed.disposeAsync();
    expect(log).toEqual(["release forwarder"]);
  });
});

describe("started things released by their scope", () => {
  afterEach(() => vi.restoreAllMocks());

  it("a memory sampler stops sampling (and a second stop is harmless)", async () => {
    const ids = vi.spyOn(docker, "ids").mockResolvedValue([]);
    let sampler: ReturnType<typeof sampleRunMemory>;
    {
      await using s = sampleRunMemory("0123abcd", { interval: "5ms" });
      sampler = s;
      await vi.waitFor(() => expect(ids.mock.calls.length).toBeGreaterThan(1), { timeout: 30_000, interval: 5 });
    }
    const calls = ids.mock.calls.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(ids.mock.calls.length, "no sample after the scope ended").toBe(calls);
    expect(await sampler.stop()).toBe(0);
  });

  it("the ssh test bed's forwarder closes its ports", async () => {
    let port = 0;
    {
      await using fwd = await startForwarder(["box"], async () => undefined);
      port = fwd.ports.box!;
      expect(await connects(port)).toBe(true);
    }
    expect(await connects(port)).toBe(false);
  });
});

/** Whether a TCP connection to 127.0.0.1:`port` is accepted. */
function connects(port: number): Promise<boolean> {
  return new Promise((r) => {
    const c = net.connect(port, "127.0.0.1", () => {
      c.destroy();
      r(true);
    });
    c.on("error", () => r(false));
  });
}
