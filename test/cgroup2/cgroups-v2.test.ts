import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cgroupOps, parseFreezeState, parseIoMax, parseLines, parseMemory } from "../../clusters/host/cgroups.js";
import type { Duration } from "../../clusters/errors.js";
import { nodeSh, ssh, until, vmConfigured, vmSh } from "./vm.js";

/**
 * The cgroup module's v2 operations against a kind-like node container (systemd as PID 1, --privileged,
 * --cgroupns=private) in the VM that test/cgroup2/lane.sh boots: the scripts run inside the node, on its own
 * cgroup namespace's root, as they would on a cgroup v2 host. Run with `pnpm test:cgroup2`.
 */
const IMAGE = "aftershock.local/cgroup2-node:1";
/** Inside a node container with a private cgroup namespace, its own cgroup is the mount's root. */
const ROOT = "/sys/fs/cgroup";
const MiB = 1024 * 1024;
/** The module's v2 operations, whatever this host runs (the lane's host is cgroup v1). */
const v2 = cgroupOps(2);

/** io.stat of one cgroup: per device ("MAJ:MIN"), its counters (rbytes, wbytes, rios, wios, …). */
function parseIoStat(out: string): Record<string, Record<string, number>> {
  const r: Record<string, Record<string, number>> = {};
  for (const line of out.split("\n")) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    if (!dev || !/^\d+:\d+$/.test(dev)) continue;
    r[dev] = Object.fromEntries(kv.map((p) => p.split("=")).map(([k, v]) => [k ?? "", Number(v)]));
  }
  return r;
}

const timings: string[] = [];
function took(what: string, ms: number): void {
  timings.push(`${what}: ${(ms / 1000).toFixed(1)}s`);
  process.stdout.write(`  [timing] ${what}: ${(ms / 1000).toFixed(1)}s\n`);
}

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  const v = await f();
  took(what, Date.now() - t);
  return v;
}

/** Starts a node container like kind does and waits for its systemd to reach running (or degraded). */
async function startNode(name: string): Promise<void> {
  await vmSh(
    [
      `docker rm -f ${name} >/dev/null 2>&1 || true`,
      `mkdir -p /var/lib/aftershock-io/${name}`,
      `docker run -d --name ${name} --hostname ${name} --privileged --cgroupns=private ` +
        `--tmpfs /run --tmpfs /run/lock --tmpfs /tmp -v /var/lib/aftershock-io/${name}:/io ` +
        `-e container=docker --stop-signal SIGRTMIN+3 ${IMAGE} /sbin/init >/dev/null`,
    ].join("\n"),
    "3m",
  );
  await until(
    `${name}: systemd running`,
    "5m",
    async () => {
      const r = await ssh(`docker exec ${name} systemctl is-system-running`, "", "30s");
      const state = r.stdout.trim();
      return state === "running" || state === "degraded" ? state : undefined;
    },
    2000,
  );
}

/** A pod-like cgroup below the node's root, the memory and pids controllers enabled down to it (io is the module's to enable). */
async function podCgroup(node: string, name: string): Promise<string> {
  await nodeSh(
    node,
    [
      "set -e",
      `cd ${ROOT}`,
      "for c in memory pids; do grep -qw $c cgroup.subtree_control || echo +$c > cgroup.subtree_control; done",
      "mkdir -p kubepods",
      "for c in memory pids; do grep -qw $c kubepods/cgroup.subtree_control || echo +$c > kubepods/cgroup.subtree_control; done",
      `mkdir -p kubepods/${name}`,
    ].join("\n"),
  );
  return `kubepods/${name}`;
}

/** Starts `cmd` (a sh command line) inside `cgroup` of the node, detached; returns once the cgroup holds it. */
async function startIn(node: string, cgroup: string, cmd: string): Promise<void> {
  const inner = `echo $$ > ${ROOT}/${cgroup}/cgroup.procs && ${cmd}`;
  await vmSh(`docker exec -d ${node} sh -c '${inner.replace(/'/g, `'\\''`)}'`, "2m");
  await until(`${node}: a process in ${cgroup}`, "1m", async () => ((await nodeSh(node, `cat ${ROOT}/${cgroup}/cgroup.procs`)).trim() ? true : undefined));
}

async function freezeState(node: string, cgroup: string): Promise<string> {
  return parseFreezeState(await nodeSh(node, v2.freezeState(cgroup, ROOT)));
}

/** The kernel's own word, read directly: cgroup.events "frozen" of one cgroup. */
async function kernelFrozen(node: string, cgroup: string): Promise<string> {
  return (await nodeSh(node, `sed -n 's/^frozen //p' ${ROOT}/${cgroup}/cgroup.events`)).trim();
}

/** `docker rm -f` in the VM, bounded: the result says whether it finished. */
async function dockerRm(name: string, timeout: Duration): Promise<{ ok: boolean; ms: number; out: string }> {
  const r = await ssh(`docker rm -f ${name}`, "", timeout);
  return { ok: !r.timedOut && r.code === 0, ms: r.ms, out: (r.stdout + r.stderr).trim() };
}

async function exists(name: string): Promise<boolean> {
  return (await vmSh(`docker ps -a --filter name=^/${name}$ --format '{{.Names}}'`)).trim() === name;
}

/** The node an earlier test started, or a new one when that test was filtered out (vitest -t). */
async function ensureNode(name: string): Promise<void> {
  const up = (await vmSh(`docker ps --filter name=^/${name}$ --format '{{.Names}}'`)).trim() === name;
  if (!up) await timed("node container start to systemd running", () => startNode(name));
}

const describeVm = vmConfigured ? describe : describe.skip;

describeVm("cgroup v2 operations in a node container, on a cgroup v2 kernel (VM)", () => {
  let disk = "";

  beforeAll(async () => {
    const facts = await vmSh("uname -r; cat /sys/fs/cgroup/cgroup.controllers; stat -fc %T /sys/fs/cgroup");
    process.stdout.write(`  VM: ${facts.replace(/\n/g, " | ")}\n`);
    expect(facts).toContain("cgroup2fs");
    expect(facts).toMatch(/\bmemory\b/);
    expect(facts).toMatch(/\bio\b/);
    // The disk that holds /var/lib/aftershock-io (bind-mounted into nodes as /io): io.max takes the whole disk.
    disk = (
      await vmSh(
        [
          "d=$(awk '$5==\"/\"{print $3}' /proc/self/mountinfo | tail -1)",
          "[ -e /sys/dev/block/$d/partition ] && d=$(cat /sys/dev/block/$d/../dev)",
          "echo $d",
        ].join("\n"),
      )
    ).trim();
    expect(disk).toMatch(/^\d+:\d+$/);
    const have = await ssh(`docker image inspect ${IMAGE}`, "", "1m");
    if (have.code !== 0) {
      await timed("docker import of the node image", () =>
        vmSh(`docker import --change 'CMD ["/sbin/init"]' --change 'ENV container=docker' /opt/aftershock/node.tar ${IMAGE} >/dev/null`, "15m"),
      );
    }
  });

  afterAll(() => {
    process.stdout.write(`\n  timings:\n${timings.map((t) => `    ${t}\n`).join("")}`);
  });

  describe("freeze, then thaw below, then docker rm -f", () => {
    const node = "cg2-freeze";
    it("freezes a pod cgroup holding a sleeping process (cgroup.freeze → frozen 1)", async () => {
      await timed("node container start to systemd running", () => startNode(node));
      const pod = await podCgroup(node, "pod-frozen");
      await startIn(node, pod, "exec sleep 100000");
      await nodeSh(node, v2.freeze(pod, ROOT));
      await until("frozen", "30s", async () => ((await freezeState(node, pod)) === "frozen" ? true : undefined), 500);
      expect(await kernelFrozen(node, pod)).toBe("1");
    });

    it("thaw below thaws it (frozen 0), and docker rm -f then removes the node in seconds", async () => {
      const pod = "kubepods/pod-frozen";
      const thawed = parseLines(await nodeSh(node, v2.thawBelow(ROOT)));
      process.stdout.write(`  thaw below ${ROOT} thawed: ${thawed.join(", ")}\n`);
      expect(thawed).toContain(pod);
      expect(await freezeState(node, pod)).toBe("thawed");
      expect(await kernelFrozen(node, pod)).toBe("0");
      const rm = await dockerRm(node, "2m");
      took("docker rm -f after thaw", rm.ms);
      expect(rm.ok, rm.out).toBe(true);
      expect(rm.ms).toBeLessThan(60_000);
      expect(await exists(node)).toBe(false);
    });
  });

  describe("I/O throttle (io.max) on a pod cgroup with a direct writer", () => {
    const node = "cg2-work";
    const pod = "kubepods/pod-io";
    const total = 64 * MiB;
    const limit = MiB / 2;

    it("the writer runs at the throttled rate, then finishes once the module lifts the limit", async () => {
      await timed("node container start to systemd running", () => startNode(node));
      await podCgroup(node, "pod-io");
      // For comparison: the same kind of writer in the same cgroup, unthrottled (dd reports its rate).
      const free = await nodeSh(
        node,
        `echo $$ > ${ROOT}/${pod}/cgroup.procs && dd if=/dev/zero of=/io/baseline bs=64k count=256 oflag=direct 2>&1; rm -f /io/baseline`,
      );
      process.stdout.write(`  unthrottled: ${free.trim().split("\n").pop() ?? ""}\n`);
      const set = await nodeSh(node, v2.setIoLimit(pod, disk, { writeBps: limit }, ROOT));
      process.stdout.write(`  ${set.trim()}\n`);
      expect(parseIoMax(await nodeSh(node, `cat ${ROOT}/${pod}/io.max`))).toEqual([{ device: disk, rbps: "max", wbps: limit, riops: "max", wiops: "max" }]);
      await nodeSh(node, "rm -f /io/direct /io/dd.rc /io/dd.err");
      await startIn(node, pod, `dd if=/dev/zero of=/io/direct bs=64k count=${total / (64 * 1024)} oflag=direct 2>/io/dd.err; echo $? > /io/dd.rc`);
      const wbytes = async (): Promise<number> => parseIoStat(await nodeSh(node, `cat ${ROOT}/${pod}/io.stat`))[disk]?.wbytes ?? 0;
      // Two readings of io.stat 8 s apart, timed inside the node (a docker exec takes seconds in the VM).
      const [x, y] = (await nodeSh(node, `date +%s%N; cat ${ROOT}/${pod}/io.stat; echo --; sleep 8; date +%s%N; cat ${ROOT}/${pod}/io.stat`))
        .split("--\n")
        .map((part) => {
          const [ns = "0", ...stat] = part.trim().split("\n");
          return { t: Number(ns) / 1e6, b: parseIoStat(stat.join("\n"))[disk]?.wbytes ?? 0 };
        });
      if (!x || !y) throw new Error("io.stat readings missing");
      const a = x;
      const b = y;
      const rate = (b.b - a.b) / ((b.t - a.t) / 1000);
      process.stdout.write(`  throttled write rate: ${(rate / MiB).toFixed(2)} MiB/s (limit ${limit / MiB} MiB/s), ${(b.b / MiB).toFixed(1)} MiB written\n`);
      expect(b.b).toBeGreaterThan(0);
      expect(rate).toBeGreaterThan(limit * 0.5);
      expect(rate).toBeLessThan(limit * 1.5);
      expect(b.b).toBeLessThan(total / 2);
      expect((await nodeSh(node, "cat /io/dd.rc 2>/dev/null || echo running")).trim()).toBe("running");

      const lifted = parseLines(await nodeSh(node, v2.liftIoLimitsBelow(ROOT)));
      process.stdout.write(`  lifted: ${lifted.join(", ")}\n`);
      expect(lifted).toContain(`${pod} (wbps ${limit})`);
      expect(parseIoMax(await nodeSh(node, `cat ${ROOT}/${pod}/io.max`))).toEqual([]);
      const t = Date.now();
      const rc = await until(
        "the writer finishes after the lift",
        "2m",
        async () => {
          const s = (await nodeSh(node, "cat /io/dd.rc 2>/dev/null || true")).trim();
          return s === "" ? undefined : s;
        },
        500,
      );
      took(`writer's remaining ${((total - b.b) / MiB).toFixed(0)} MiB after the lift`, Date.now() - t);
      expect(rc).toBe("0");
      expect(await wbytes()).toBeGreaterThanOrEqual(total);
    });
  });

  describe("memory readings and an OOM kill", () => {
    const node = "cg2-work";
    const pod = "kubepods/pod-mem";

    it("reads memory.current of a pod cgroup, and counts an OOM kill under a small memory.max", async () => {
      await ensureNode(node);
      await podCgroup(node, "pod-mem");
      await nodeSh(node, `echo ${32 * MiB} > ${ROOT}/${pod}/memory.max; [ ! -e ${ROOT}/${pod}/memory.swap.max ] || echo 0 > ${ROOT}/${pod}/memory.swap.max`);
      await startIn(node, pod, "exec sleep 100000");
      const before = parseMemory(await nodeSh(node, v2.memory(pod, ROOT)));
      process.stdout.write(`  before: ${JSON.stringify(before)}\n`);
      expect(before.usageBytes).toBeGreaterThan(0);
      expect(before.usageBytes).toBeLessThan(32 * MiB);
      expect(before.oomKills).toBe(0);
      // dd with a 128 MiB block fills its buffer from /dev/zero: 128 MiB resident, four times the limit.
      const inner = `echo $$ > ${ROOT}/${pod}/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=128M count=1`;
      const r = await ssh(`docker exec ${node} sh -c '${inner}'`, "", "2m");
      expect(r.code, r.stdout + r.stderr).toBe(137);
      const after = parseMemory(await nodeSh(node, v2.memory(pod, ROOT)));
      process.stdout.write(`  after: ${JSON.stringify(after)}\n`);
      expect(after.oomKills).toBe(1);
      expect(after.limitHits).toBeGreaterThanOrEqual(1);
    });
  });

  describe("shown once: docker rm -f of a node whose pod cgroup stays frozen (no thaw)", () => {
    const node = "cg2-work";
    it("reports what docker rm -f does without the thaw (bounded at 90s)", async () => {
      await ensureNode(node);
      const pod = await podCgroup(node, "pod-frozen-nothaw");
      await startIn(node, pod, "exec sleep 100000");
      await nodeSh(node, v2.freeze(pod, ROOT));
      await until("frozen", "30s", async () => ((await freezeState(node, pod)) === "frozen" ? true : undefined), 500);
      const rm = await dockerRm(node, "90s");
      const gone = !(await exists(node));
      process.stdout.write(
        `  WITHOUT THAW: docker rm -f ${rm.ok ? "returned" : "did not return/failed"} after ${(rm.ms / 1000).toFixed(1)}s; node ${gone ? "gone" : "still there"}${rm.out ? `; output: ${rm.out}` : ""}\n`,
      );
      took("docker rm -f without thaw (frozen pod cgroup)", rm.ms);
      if (!gone) {
        // Clean up from the VM's side: thaw everything under the container's cgroup, then remove it.
        const id = (await vmSh(`docker inspect -f '{{.Id}}' ${node}`)).trim();
        await vmSh(`${v2.thawBelow(`/sys/fs/cgroup/system.slice/docker-${id}.scope`)}\ndocker rm -f ${node}`, "2m");
      }
    });
  });
});
