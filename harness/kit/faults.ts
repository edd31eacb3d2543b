import { nodeLifecycle, nodeShell } from "../../clusters/contract.js";
import { AftershockError } from "../../clusters/errors.js";
import type { Fault } from "../model/scenario.js";
import { handOff, type ScenarioContext } from "../model/context.js";
import { step } from "./step.js";

/**
 * Leaves a real etcd process, started outside the kubelet's control, listening on `port` of the
 * control-plane node's address, and makes the kubelet start etcd again into the conflict:
 *
 *   mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/   # the kubelet stops the etcd pod
 *   setsid etcd --listen-peer-urls http://IP:PORT … &          # the "zombie" takes the port
 *   mv /etc/kubernetes/etcd.yaml /etc/kubernetes/manifests/   # the kubelet starts etcd: bind fails
 *
 * The kubelet keeps running throughout (restarting it would stall static pods until the API is back).
 * The zombie runs the very etcd binary of the etcd container, copied for the run to /opt/aftershock (a kind node has
 * no etcd of its own), so `ss -ltnp` shows users:(("etcd",…)) as the incident's lsof showed COMMAND "etcd". With
 * `port` other than etcd's peer port the fault does not take (used to test detection).
 */
export function zombieEtcdOnPort(opts: { port: number; node?: string }): Fault {
  const script = (port: number) => `set -euo pipefail
cid=$(crictl ps --name '^etcd$' --state running -q | awk 'NR==1')
[[ -n $cid ]] || { echo "no running etcd container" >&2; exit 1; }
pid=$(crictl inspect --output go-template --template '{{.info.pid}}' "$cid")
mkdir -p /opt/aftershock /var/lib/aftershock-zombie
cp "/proc/$pid/root/usr/local/bin/etcd" /opt/aftershock/etcd
ip=$(grep -oE -- '--listen-peer-urls=https?://[0-9.]+' /etc/kubernetes/manifests/etcd.yaml | grep -oE '[0-9.]+$')
mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.aftershock
for i in $(seq 1 600); do
  [[ -z $(crictl ps --name '^etcd$' -q) ]] && ! ss -Hltn "sport = :2380" | grep -q . && break
  sleep 0.1
done
cd /var/lib/aftershock-zombie
setsid nohup /opt/aftershock/etcd --name zombie --data-dir /var/lib/aftershock-zombie/data \
  --listen-peer-urls "http://$ip:${port}" --initial-advertise-peer-urls "http://$ip:${port}" \
  --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
  --listen-metrics-urls http://127.0.0.1:23791 \
  --initial-cluster "zombie=http://$ip:${port}" >/var/log/aftershock-zombie-etcd.log 2>&1 < /dev/null &
for i in $(seq 1 100); do ss -Hltnp "sport = :${port}" | grep -q etcd && break; sleep 0.1; done
mv /etc/kubernetes/etcd.yaml.aftershock /etc/kubernetes/manifests/etcd.yaml
ss -Hltnp "sport = :${port}"`;
  const onNode = (ctx: ScenarioContext) => (opts.node ? nodeShell(ctx.cluster).node(opts.node) : nodeShell(ctx.cluster).controlPlane());
  return {
    title: `a zombie etcd outside the kubelet holds :${opts.port}, then the kubelet starts etcd into the conflict`,
    plan: script(opts.port)
      .split("\n")
      .filter((l) => /^(mv |setsid)/.test(l))
      .map((l) => l.replace(/\s*\\$/, " …")),
    // After a repaired run the zombie is already dead: what is left is its binary, data and log, which a machine of
    // one's own must not keep. After a failed one it still holds the port.
    rollback: step(
      "kill the zombie etcd if it still runs, put etcd's manifest back if it is still moved, remove the zombie's files",
      ZOMBIE_UNDO,
      async (ctx) => (await onNode(ctx).sh(ZOMBIE_UNDO, { timeout: "1m" })).stdout.trim(),
      "1m",
    ),
    // On machines reached over ssh, the same undo is armed on the node before the fault: if the run loses the node,
    // the node kills the zombie itself and the kubelet's next attempt brings etcd back.
    deadman: { node: (ctx) => onNode(ctx).name, undo: ZOMBIE_UNDO },
    async inject(ctx) {
      const node = onNode(ctx);
      const r = await node.sh(script(opts.port), { timeout: "2m" });
      if (!r.stdout.includes(`:${opts.port}`))
        throw new AftershockError("E_COMMAND", `the zombie etcd did not end up listening on :${opts.port}: ${r.stdout || r.stderr}`);
      ctx.evidence("fault", `listening on :${opts.port} after injection: ${r.stdout.trim()}`);
    },
  };
}

/**
 * Undoes zombieEtcdOnPort on its node, harmless to repeat and POSIX sh (the deadman runs it with /bin/sh): the zombie
 * killed (matched by its command line, which starts with its own path), etcd's manifest put back if the fault stopped
 * between its two moves, the zombie's binary, data and log removed, and /opt/aftershock too when nothing else is in it.
 */
export const ZOMBIE_UNDO = `pkill -KILL -f '^/opt/aftershock/etcd --name zombie' && echo "killed the zombie etcd" || echo "no zombie etcd running"
if [ -e /etc/kubernetes/etcd.yaml.aftershock ] && [ ! -e /etc/kubernetes/manifests/etcd.yaml ]; then
  mv /etc/kubernetes/etcd.yaml.aftershock /etc/kubernetes/manifests/etcd.yaml && echo "put etcd.yaml back into /etc/kubernetes/manifests"
fi
rm -rf /var/lib/aftershock-zombie /var/log/aftershock-zombie-etcd.log /opt/aftershock/etcd
rmdir /opt/aftershock 2>/dev/null || true
echo "removed the zombie's files"`;

/**
 * The first `count` control-plane machines die with their disks (a disk failure that ends in a reinstall):
 * the node containers and their /var volumes are removed outright. Node objects and etcd members stay
 * behind, as they do after a real hardware loss. The lost names go to `found` (LOST_MACHINES) for the runbook.
 */
export function controlPlaneMachinesLost(count: number): Fault {
  return {
    title:
      count === 1
        ? "the first control-plane machine fails with its disk and is gone"
        : `${count} of the control-plane machines fail with their disks and are gone`,
    plan: [
      `docker rm --force --volumes <cluster>-control-plane${count > 1 ? " <cluster>-control-plane2" : ""}   # the machine${count > 1 ? "s" : ""} and disk${count > 1 ? "s" : ""}, gone`,
    ],
    async inject(ctx) {
      const lifecycle = nodeLifecycle(ctx.cluster);
      const cps = nodeShell(ctx.cluster).nodes.filter((n) => n.role === "control-plane");
      if (cps.length <= count) throw new AftershockError("E_BAD_INPUT", `losing ${count} of ${cps.length} control planes leaves no survivor to recover from`);
      const lost = cps.slice(0, count).map((n) => n.name);
      for (const name of lost) await lifecycle.destroyNode(name);
      ctx.found.set(LOST_MACHINES, lost);
      ctx.evidence("fault", `destroyed ${lost.join(", ")}; ${nodeShell(ctx.cluster).controlPlane().name} survives`);
    },
  };
}

/** The control-plane machines controlPlaneMachinesLost destroyed, by node name. */
export const LOST_MACHINES = handOff<string[]>("the lost control-plane machines", "the fault controlPlaneMachinesLost");

/** The node names a fault recorded as lost (none before it ran). */
export const lostNodes = (ctx: ScenarioContext): string[] => ctx.found.get(LOST_MACHINES) ?? [];
