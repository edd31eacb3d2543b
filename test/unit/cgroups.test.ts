import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cgroupOps, formatIoMax, parseFreezeState, parseIoMax, parseLines, parseMemory, parseReleased } from "../../clusters/host/cgroups.js";

/**
 * The real scripts, run with sh (and bash, the node shell) against fake cgroupfs trees: plain files where the
 * kernel has its control files. A fake file keeps what was last written to it, which is what the kernel shows
 * for these files after a single write.
 */
const SHELLS = ["sh", "bash"] as const;

function tree(): string {
  return mkdtempSync(path.join(os.tmpdir(), "cgfs-"));
}
function put(dir: string, file: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, file), text);
  return path.join(dir, file);
}
const read = (f: string) => readFileSync(f, "utf8").trim();
const runSh = (shell: string, script: string) => execFileSync(shell, ["-c", script], { encoding: "utf8" });

describe.each(SHELLS)("cgroup v1 scripts under %s", (shell) => {
  const ops = cgroupOps(1);

  it("freezes a cgroup in the freezer hierarchy and reports its state", () => {
    const root = tree();
    const state = put(path.join(root, "freezer", "kubelet", "pod1"), "freezer.state", "THAWED\n");
    expect(parseFreezeState(runSh(shell, ops.freezeState("/kubelet/pod1", root)))).toBe("thawed");
    runSh(shell, ops.freeze("/kubelet/pod1", root));
    expect(read(state)).toBe("FROZEN");
    expect(parseFreezeState(runSh(shell, ops.freezeState("/kubelet/pod1", root)))).toBe("frozen");
    writeFileSync(state, "FREEZING\n");
    expect(parseFreezeState(runSh(shell, ops.freezeState("/kubelet/pod1", root)))).toBe("freezing");
  });

  it("thaws every FROZEN or FREEZING cgroup below a dir, says which, relative to it, and leaves the rest", () => {
    const root = tree();
    const fz = path.join(root, "freezer");
    const frozen = put(path.join(fz, "kubelet", "kubepods", "pod1", "cri-containerd-1.scope"), "freezer.state", "FROZEN\n");
    const freezing = put(path.join(fz, "x y"), "freezer.state", "FREEZING\n");
    const running = put(path.join(fz, "kubelet", "kubepods", "pod2"), "freezer.state", "THAWED\n");
    const out = parseLines(runSh(shell, ops.thawBelow(fz)));
    expect(out.sort()).toEqual(["kubelet/kubepods/pod1/cri-containerd-1.scope", "x y"]);
    expect([read(frozen), read(freezing), read(running)]).toEqual(["THAWED", "THAWED", "THAWED"]);
    expect(runSh(shell, ops.thawBelow(fz))).toBe("");
  });

  it("sets a write limit on a cgroup's blkio throttle files, as the plan shows, and lifts every limit below a dir", () => {
    const root = tree();
    const cg = path.join(root, "blkio", "kubelet", "pod3", "etcd");
    const iops = put(cg, "blkio.throttle.write_iops_device", "");
    const bps = put(cg, "blkio.throttle.write_bps_device", "");
    const readBps = put(path.join(root, "blkio", "other"), "blkio.throttle.read_bps_device", "8:0 1024\n");
    const calm = put(path.join(root, "blkio", "calm"), "blkio.throttle.write_bps_device", "8:0 0\n");
    const set = runSh(shell, ops.setIoLimit("/kubelet/pod3/etcd", "254:0", { writeIops: 4, writeBps: 65536 }, root));
    expect(set.trim()).toBe(`${cg}: write_iops_device=[254:0 4] write_bps_device=[254:0 65536]`);
    // What the plan shows is what was written.
    expect(ops.showIoLimit("<cg>", { writeIops: 4, writeBps: 65536 }, "254:0")).toEqual([
      `echo "${read(iops)}" > <cg>/blkio.throttle.write_iops_device`,
      `echo "${read(bps)}" > <cg>/blkio.throttle.write_bps_device`,
    ]);
    const lifted = parseLines(runSh(shell, ops.liftIoLimitsBelow(path.join(root, "blkio"))));
    expect(lifted.sort()).toEqual(["kubelet/pod3/etcd (write_bps 65536, write_iops 4)", "other (read_bps 1024)"]);
    expect([read(iops), read(bps), read(readBps), read(calm)]).toEqual(["254:0 0", "254:0 0", "8:0 0", "8:0 0"]);
    expect(ops.showIoLift("<cg>", "254:0")).toContain(`echo "${read(iops)}" > <cg>/blkio.throttle.write_iops_device`);
  });

  it("reads memory usage, the OOM kill count and limit hits", () => {
    const root = tree();
    const cg = path.join(root, "memory", "kubepods", "pod4");
    put(cg, "memory.usage_in_bytes", "268435456\n");
    put(cg, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    put(cg, "memory.failcnt", "17\n");
    expect(parseMemory(runSh(shell, ops.memory("/kubepods/pod4", root)))).toEqual({ usageBytes: 268435456, oomKills: 3, limitHits: 17 });
  });

  it("finds a process's cgroup in one controller's hierarchy", () => {
    const proc = tree();
    put(path.join(proc, "42"), "cgroup", "12:freezer:/kubelet/a\n5:blkio:/kubelet/pod/etcd\n3:cpu,cpuacct:/kubelet/c\n0::/\n");
    expect(runSh(shell, `${ops.shell}\ncg_of_pid blkio 42 ${proc}`).trim()).toBe("/kubelet/pod/etcd");
    expect(runSh(shell, `${ops.shell}\ncg_of_pid cpu 42 ${proc}`).trim()).toBe("/kubelet/c");
  });
});

describe.each(SHELLS)("cgroup v2 scripts under %s", (shell) => {
  const ops = cgroupOps(2);

  it("freezes with cgroup.freeze and reads the state from cgroup.events", () => {
    const root = tree();
    const cg = path.join(root, "kubelet.slice", "pod1");
    const freeze = put(cg, "cgroup.freeze", "0\n");
    put(cg, "cgroup.events", "populated 1\nfrozen 0\n");
    expect(parseFreezeState(runSh(shell, ops.freezeState("/kubelet.slice/pod1", root)))).toBe("thawed");
    runSh(shell, ops.freeze("/kubelet.slice/pod1", root));
    expect(read(freeze)).toBe("1");
    // Asked, not yet done: the kernel has not set "frozen 1".
    expect(parseFreezeState(runSh(shell, ops.freezeState("/kubelet.slice/pod1", root)))).toBe("freezing");
    put(cg, "cgroup.events", "populated 1\nfrozen 1\n");
    expect(parseFreezeState(runSh(shell, ops.freezeState("/kubelet.slice/pod1", root)))).toBe("frozen");
  });

  it("thaws every cgroup whose cgroup.freeze is 1 below a dir, a frozen ancestor and its frozen child alike", () => {
    const root = tree();
    const parent = put(path.join(root, "kubelet.slice", "pod1"), "cgroup.freeze", "1\n");
    const child = put(path.join(root, "kubelet.slice", "pod1", "cri-containerd-1.scope"), "cgroup.freeze", "1\n");
    const running = put(path.join(root, "kubelet.slice", "pod2"), "cgroup.freeze", "0\n");
    const out = parseLines(runSh(shell, ops.thawBelow(root)));
    expect(out).toEqual(["kubelet.slice/pod1", "kubelet.slice/pod1/cri-containerd-1.scope"]);
    expect([read(parent), read(child), read(running)]).toEqual(["0", "0", "0"]);
  });

  it("sets io.max on a cgroup (enabling io in each ancestor), as the plan shows, and lifts every io.max below a dir", () => {
    const root = tree();
    const rootCtl = put(root, "cgroup.subtree_control", "cpu memory pids\n");
    const sliceCtl = put(path.join(root, "kubelet.slice"), "cgroup.subtree_control", "cpu io memory\n");
    const ioMax = put(path.join(root, "kubelet.slice", "pod3"), "io.max", "");
    const other = put(path.join(root, "other"), "io.max", "8:0 rbps=1024 wbps=max riops=max wiops=max\n8:16 rbps=max wbps=max riops=max wiops=max\n");
    const set = runSh(shell, ops.setIoLimit("/kubelet.slice/pod3", "254:0", { writeIops: 4, writeBps: 65536 }, root));
    expect(set.trim()).toBe(`${path.join(root, "kubelet.slice", "pod3")}: io.max=[254:0 rbps=max wbps=65536 riops=max wiops=4]`);
    expect([read(rootCtl), read(sliceCtl)]).toEqual(["+io", "cpu io memory"]);
    expect(ops.showIoLimit("<cg>", { writeIops: 4, writeBps: 65536 }, "254:0")).toEqual([`echo "${read(ioMax)}" > <cg>/io.max`]);
    const lifted = parseLines(runSh(shell, ops.liftIoLimitsBelow(root)));
    expect(lifted.sort()).toEqual(["kubelet.slice/pod3 (wbps 65536, wiops 4)", "other (rbps 1024)"]);
    expect(read(ioMax)).toBe("254:0 rbps=max wbps=max riops=max wiops=max");
    expect(ops.showIoLift("<cg>", "254:0")).toEqual([`echo "${read(ioMax)}" > <cg>/io.max`]);
    expect(read(other)).toBe("8:0 rbps=max wbps=max riops=max wiops=max");
  });

  it("refuses an I/O limit where the io controller cannot be enabled", () => {
    const root = tree();
    mkdirSync(path.join(root, "ro", "cg"), { recursive: true });
    // A directory where the control file should be: the write fails, as EBUSY would.
    mkdirSync(path.join(root, "ro", "cgroup.subtree_control"));
    put(root, "cgroup.subtree_control", "io\n");
    expect(() => execFileSync(shell, ["-c", ops.setIoLimit("/ro/cg", "8:0", { writeBps: 1 }, root)], { stdio: "pipe" })).toThrow(
      /cannot enable the io controller/,
    );
  });

  it("reads memory.current and memory.events", () => {
    const root = tree();
    const cg = path.join(root, "kubepods.slice", "pod4");
    put(cg, "memory.current", "1048576\n");
    put(cg, "memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
    expect(parseMemory(runSh(shell, ops.memory("/kubepods.slice/pod4", root)))).toEqual({ usageBytes: 1048576, oomKills: 1, limitHits: 12 });
  });

  it("finds a process's cgroup on the unified hierarchy", () => {
    const proc = tree();
    put(path.join(proc, "42"), "cgroup", "0::/kubelet.slice/kubelet-kubepods.slice/x.scope\n");
    expect(runSh(shell, `${ops.shell}\ncg_of_pid io 42 ${proc}`).trim()).toBe("/kubelet.slice/kubelet-kubepods.slice/x.scope");
  });
});

describe("releasing what is below some cgroups, in both versions", () => {
  it("v1: thaws under freezer/ and lifts under blkio/, tagged, and skips cgroups that do not exist", () => {
    const root = tree();
    put(path.join(root, "freezer", "docker", "n1", "kubelet", "p"), "freezer.state", "FROZEN\n");
    put(path.join(root, "blkio", "docker", "n1", "w"), "blkio.throttle.write_bps_device", "8:0 65536\n");
    const out = runSh("sh", cgroupOps(1).release(["/docker/n1", "/system.slice/docker-n1.scope"], root));
    expect(parseReleased(out)).toEqual({ thawed: ["kubelet/p"], lifted: ["w (write_bps 65536)"] });
  });

  it("v2: thaws and lifts in the one hierarchy", () => {
    const root = tree();
    put(path.join(root, "kubelet.slice", "p"), "cgroup.freeze", "1\n");
    put(path.join(root, "w"), "io.max", "8:0 rbps=max wbps=65536 riops=max wiops=max\n");
    expect(parseReleased(runSh("sh", cgroupOps(2).release(["/"], root)))).toEqual({ thawed: ["kubelet.slice/p"], lifted: ["w (wbps 65536)"] });
  });
});

describe("io.max lines and readings, parsed", () => {
  it("formats all four keys and parses them back, max as no limit", () => {
    const line = formatIoMax("8:0", { wbps: 65536, wiops: 10 });
    expect(line).toBe("8:0 rbps=max wbps=65536 riops=max wiops=10");
    expect(parseIoMax(`${line}\n259:0 rbps=1 wbps=max riops=max wiops=max\n`)).toEqual([
      { device: "8:0", rbps: "max", wbps: 65536, riops: "max", wiops: 10 },
      { device: "259:0", rbps: 1, wbps: "max", riops: "max", wiops: "max" },
    ]);
    expect(() => parseIoMax("8:0 wbps=fast")).toThrow(/unexpected io.max entry/);
  });

  it("a reading without usage is an error; one without OOM counts leaves them undefined", () => {
    expect(() => parseMemory("")).toThrow(/no memory usage/);
    expect(parseMemory("usage 5\n")).toEqual({ usageBytes: 5, oomKills: undefined, limitHits: undefined });
    expect(() => parseFreezeState("FROZEN")).toThrow(/unexpected freezer state/);
  });

  it("the version comes from the host's facts when not given", () => {
    expect([1, 2]).toContain(cgroupOps().version);
    expect(cgroupOps(2)).toMatchObject({ ioController: "io", ioLimitHierarchical: true });
    expect(cgroupOps(1)).toMatchObject({ ioController: "blkio", ioLimitHierarchical: false });
  });
});
