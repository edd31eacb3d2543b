import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { docker } from "../docker.js";
import { AftershockError } from "../errors.js";
import { run } from "../exec.js";
import { isAlive } from "../process.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import { pollUntil } from "../wait.js";
import { hostFacts } from "./facts.js";

const BIN = "/usr/bin/docker-registry";

/**
 * A plain-HTTP container registry on this host (Debian's docker-registry, the Distribution registry), the
 * kind a platform team points a cluster at. Listens on all addresses, so kind nodes reach it through the
 * host's address on Docker's default bridge. Started in the background; stop() ends it, or the end of a scope that
 * holds it with `await using`.
 */
export interface LocalRegistry extends AsyncDisposable {
  /** host:port the nodes pull from and this host pushes to. */
  address: string;
  /** Ends the registry (its data stays for the next start); harmless to repeat. [Symbol.asyncDispose] does the same. */
  stop(): Promise<void>;
}

export async function startLocalRegistry(cacheDir: string, progress: Progress, port = 5000): Promise<LocalRegistry> {
  if (!existsSync(BIN))
    throw new AftershockError("E_TOOL_MISSING", `${BIN} is not installed (Debian's docker-registry, the registry existing-cluster runs push to)`, {
      hint: `${hostFacts().user.root ? "" : "sudo "}pnpm run doctor --fix --tests installs it`,
    });
  const dir = path.join(cacheDir, "registry");
  await mkdir(path.join(dir, "data"), { recursive: true });
  const config = path.join(dir, "config.yml");
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, "data")}\n  delete:\n    enabled: true\nhttp:\n  addr: :${port}\n`,
  );
  const pidFile = path.join(dir, "pid");
  const old = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : 0;
  if (old && isAlive(old)) process.kill(old, "SIGTERM");
  const child = spawn(BIN, ["serve", config], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  child.unref();
  await writeFile(pidFile, String(child.pid));
  const gateway = await bridgeGateway();
  if (!gateway) throw new AftershockError("E_DOCKER_DOWN", "Docker's default bridge has no gateway address (neither in its IPAM config nor on its interface)");
  const address = `${gateway}:${port}`;
  await withStep(progress, `Registry at ${address} (docker-registry)`, "30s", () =>
    pollUntil(`registry at ${address} answers GET /v2/`, "30s", "500ms", async () => {
      try {
        const r = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(2000) });
        return { ok: r.ok, seen: `HTTP ${r.status}` };
      } catch (e) {
        return { ok: false, seen: (e as Error).message };
      }
    }),
  );
  let stopped = false;
  const stop = async () => {
    // Once: the pid may belong to another process by a second call.
    if (stopped) return;
    stopped = true;
    try {
      process.kill(child.pid!, "SIGTERM");
    } catch {
      /* gone */
    }
    await rm(pidFile, { force: true });
  };
  return { address, stop, [Symbol.asyncDispose]: stop };
}

/**
 * The host's address on Docker's default bridge. Docker 20.10 leaves Gateway out of the bridge's IPAM config until
 * dockerd has been restarted once (seen on a fresh machine whose dockerd the doctor had only reloaded): then the
 * bridge interface's own IPv4 address is the same gateway.
 */
async function bridgeGateway(): Promise<string> {
  const r = await docker.run([
    "network",
    "inspect",
    "bridge",
    "--format",
    '{{(index .IPAM.Config 0).Gateway}}|{{index .Options "com.docker.network.bridge.name"}}',
  ]);
  const [gateway = "", iface = ""] = r.stdout.trim().split("|");
  // Not os.networkInterfaces(): it leaves out an interface without carrier, as docker0 is while no container is on it.
  const ip = await run("ip", ["-4", "-o", "addr", "show", "dev", iface || "docker0"], { allowFailure: true });
  const onHost = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(ip.stdout)?.[1] ?? "";
  if (gateway && gateway !== onHost)
    // Seen on 2026-12-07: docker0 gone from the host while Docker still listed 172.17.0.1. The nodes' pulls then went
    // to the host's default route, off this machine, and a proxy there answered 404: never send them there.
    throw new AftershockError(
      "E_DOCKER_DOWN",
      `Docker's default bridge gateway ${gateway} is not an address of this host (${iface || "docker0"}: ${ip.stdout.trim() || ip.stderr.trim() || "no IPv4 address"}); a registry there would be reached off this machine`,
      { hint: "restart dockerd: it makes its default bridge again" },
    );
  return onHost;
}
