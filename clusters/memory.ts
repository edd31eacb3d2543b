import { docker } from "./docker.js";
import { LABELS } from "./labels.js";
import { run } from "./exec.js";
import { parseDuration, type Duration } from "./errors.js";

export interface MemorySampler extends AsyncDisposable {
  /** Stops sampling; resolves to the highest total seen, in MiB. Harmless to repeat; [Symbol.asyncDispose] stops it too. */
  stop(): Promise<number>;
}

/** "123.4MiB / 23.5GiB" → MiB of the part before the slash. */
export function usageMiB(memUsage: string): number {
  const m = /([\d.]+)\s*(B|KiB|MiB|GiB)/.exec(memUsage.split("/")[0] ?? "");
  if (!m) return 0;
  return Number(m[1]) * ({ B: 1 / 2 ** 20, KiB: 1 / 1024, MiB: 1, GiB: 1024 } as const)[m[2] as "B" | "KiB" | "MiB" | "GiB"];
}

/**
 * Samples `docker stats` of every container carrying the run label (nodes, load balancer) every
 * `interval` (default 5s), and keeps the peak of their summed memory. Gives up on its own after `max` (default 2h).
 */
export function sampleRunMemory(runId: string, opts: { interval?: Duration; max?: Duration } = {}): MemorySampler {
  const interval = parseDuration(opts.interval ?? "5s");
  let peak = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const loop = (async () => {
    const deadline = Date.now() + parseDuration(opts.max ?? "2h");
    while (!stopped && Date.now() < deadline) {
      const ids = await docker.ids("container", [`label=${LABELS.run}=${runId}`]).catch(() => []);
      if (ids.length) {
        const r = await run("docker", ["stats", "--no-stream", "--format", "{{.MemUsage}}", ...ids], { allowFailure: true, timeout: "30s" }).catch(
          () => undefined,
        );
        peak = Math.max(
          peak,
          (r?.stdout ?? "")
            .split("\n")
            .filter(Boolean)
            .reduce((a, l) => a + usageMiB(l), 0),
        );
      }
      if (!stopped)
        await new Promise<void>((res) => {
          wake = res;
          timer = setTimeout(res, interval);
        });
    }
  })();
  const stop = async () => {
    stopped = true;
    clearTimeout(timer);
    wake?.();
    await loop;
    return Math.round(peak);
  };
  return { stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}
