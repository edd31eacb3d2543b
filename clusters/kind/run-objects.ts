import { docker } from "../docker.js";
import { AftershockError, type Duration } from "../errors.js";
import { LABELS } from "../labels.js";
import { pollUntil } from "../wait.js";
import { releaseNodes, type Released } from "./node-cgroups.js";

/** Every container, network and volume labelled with the run, in the order they have to be removed. */
export async function runObjects(runId: string): Promise<{ kind: "container" | "network" | "volume"; id: string }[]> {
  const filter = `label=${LABELS.run}=${runId}`;
  const out: { kind: "container" | "network" | "volume"; id: string }[] = [];
  for (const kind of ["container", "network", "volume"] as const) for (const id of await docker.ids(kind, [filter])) out.push({ kind, id });
  return out;
}

const REMOVE = { container: ["rm", "-f", "-v"], network: ["network", "rm"], volume: ["volume", "rm", "-f"] } as const;

/**
 * Removes every container, network and volume labelled with the run, retrying until nothing is left or
 * `budget` runs out: a node whose processes are stuck in the kernel (e.g. on throttled I/O) can take a
 * minute to die after SIGKILL, and `docker rm -f` gives up on it after a few seconds in the meantime.
 */
export async function removeRunResources(
  runId: string,
  budget: Duration = "7m",
  /** Told what was released each round (possibly nothing). */
  onReleased?: (released: Released) => void,
): Promise<{ containers: number; volumes: number; networks: number }> {
  const filter = `label=${LABELS.run}=${runId}`;
  // What there was to remove; when this returns, all of it is gone.
  const before = await runObjects(runId);
  const count = (kind: string) => before.filter((o) => o.kind === kind).length;
  await pollUntil(`run ${runId}'s containers, networks and volumes were not all removed`, budget, "5s", async () => {
    const errors: string[] = [];
    // A frozen or I/O-limited cgroup under a node would make `docker rm -f` wait on it: release first.
    onReleased?.(await releaseNodes(await docker.ids("container", [filter])));
    // Listed again for each kind: removing a container with -v also removes its volumes.
    for (const kind of ["container", "network", "volume"] as const) {
      const ids = await docker.ids(kind, [filter]);
      if (!ids.length) continue;
      const r = await docker.run([...REMOVE[kind], ...ids], { timeout: "2m", allowFailure: true });
      if (r.exitCode !== 0) errors.push(`${kind}s: ${r.stderr.trim().split("\n").pop()}`);
    }
    const left = (await runObjects(runId)).map((o) => `${o.kind} ${o.id.slice(0, 12)}`);
    return { ok: left.length === 0, seen: `${left.join(", ")}${errors.length ? ` (${errors.join("; ")})` : ""}` };
  }).catch((e: unknown) => {
    throw e instanceof AftershockError ? new AftershockError("E_CLUSTER", e.message, { cause: e }) : e;
  });
  return { containers: count("container"), volumes: count("volume"), networks: count("network") };
}

/** The parts of `docker inspect` a kind node's run arguments are rebuilt from. */
