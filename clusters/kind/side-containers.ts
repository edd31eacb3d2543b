import { createInterface } from "node:readline";
import type { SideContainers, SideContainerSpec, StartedSideContainer } from "../contract.js";
import { docker } from "../docker.js";
import { AftershockError, formatDuration, parseDuration } from "../errors.js";
import { LABELS } from "../labels.js";
import { registerTeardown } from "../teardown.js";

/**
 * Side containers of a kind cluster, started with testcontainers (its started-container objects and wait
 * strategies). Its reaper (Ryuk) is an image this machine cannot pull, so it is disabled: the containers
 * carry the run's labels instead, which our own reaper (reaper.sh, when the run's process dies), `pnpm gc`
 * and the cluster's deletion select on. They join the cluster's own Docker network, never the host's.
 */
export function kindSideContainers(o: { cluster: string; runId: string; nodes: () => readonly { name: string; role: string }[] }): SideContainers {
  const addresses = new Map<string, string>();
  const address = async (container: string): Promise<string> => {
    const known = addresses.get(container);
    if (known) return known;
    const ip = (await docker.run(["inspect", "--format", `{{(index .NetworkSettings.Networks "${o.cluster}").IPAddress}}`, container])).stdout.trim();
    if (!ip) throw new AftershockError("E_CLUSTER", `${container} has no address on network ${o.cluster}`);
    addresses.set(container, ip);
    return ip;
  };
  return {
    placement: "beside",
    nodeAddress: (node) => address(node.startsWith(`${o.cluster}-`) ? node : `${o.cluster}-${node}`),
    async apiServerAddress() {
      const controlPlanes = o.nodes().filter((n) => n.role === "control-plane");
      // kind puts a load balancer in front of several control planes; clients outside reach the API through it.
      const target = controlPlanes.length > 1 ? `${o.cluster}-external-load-balancer` : controlPlanes[0]!.name;
      return `${await address(target)}:6443`;
    },
    start: (spec) => startSideContainer(o.cluster, o.runId, spec),
  };
}

async function startSideContainer(network: string, runId: string, spec: SideContainerSpec): Promise<StartedSideContainer> {
  // Read when testcontainers first looks for a reaper; set before it is loaded.
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  const { GenericContainer, Wait } = await import("testcontainers");
  const name = `${network}-${spec.name}`;
  const started = Date.now();
  const readyBudgetMs = parseDuration(spec.readyBudget);
  // Registered before the container exists: Ctrl-C during start still removes it (by label, below).
  const byLabel = async () => {
    const ids = await docker.ids("container", [`label=${LABELS.run}=${runId}`, `label=${LABELS.managed}=side`, `name=^/${name}$`]);
    if (ids.length) await docker.run(["rm", "-f", "-v", ...ids], { allowFailure: true, timeout: "1m" });
  };
  const unregister = registerTeardown(`remove side container ${name}`, byLabel);
  try {
    const container = await new GenericContainer(spec.image)
      .withName(name)
      .withNetworkMode(network)
      .withLabels({ [LABELS.run]: runId, [LABELS.managed]: "side", [LABELS.ownerPid]: String(process.pid) })
      .withEntrypoint(["/bin/sh", "-c"])
      .withCommand([spec.command])
      .withWaitStrategy(Wait.forLogMessage(spec.ready).withStartupTimeout(readyBudgetMs))
      .start();
    const stream = await container.logs();
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (l) => spec.onLine(l, "stdout"));
    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        stream.destroy();
        await container.stop({ remove: true, removeVolumes: true, timeout: 2_000 }).catch(byLabel);
        unregister();
      })());
    return { id: container.getId(), name, stop, [Symbol.asyncDispose]: stop };
  } catch (e) {
    await byLabel();
    unregister();
    const why = e instanceof Error ? e.message : String(e);
    throw new AftershockError(
      "E_CLUSTER",
      `side container ${name} (${spec.image}) did not start: ${why.split("\n")[0]} (after ${formatDuration(Date.now() - started)}, budget ${formatDuration(readyBudgetMs)})`,
      { cause: e },
    );
  }
}
