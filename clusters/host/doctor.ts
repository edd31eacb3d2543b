import { existsSync, readFileSync, statfsSync } from "node:fs";
import { LABELS } from "../labels.js";
import { chmod, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AftershockError } from "../errors.js";
import { withLock } from "../lock.js";
import { run } from "../exec.js";
import type { Progress } from "../progress.js";
import { MIN_GO, PINNED, supportedVersionsText } from "../versions.js";
import { describeHost, findTool, hostFacts, localRootfulEngine, readEngine, type EngineFacts, type HostFacts } from "./facts.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** What the doctor found and did; every check is one line in the report. */
export interface DoctorReport {
  checks: { name: string; ok: boolean; detail: string; changed: boolean }[];
  cgroupVersion: 1 | 2;
  missingCapabilities: string[];
  /** The changes this host needed (applied only with fix). */
  plan: Change[];
  /** The `host: …` line. */
  host: string;
}

/** The setting that lets any command that runs the doctor apply its changes, as `pnpm run doctor --fix` does. */
export const FIX_ENV = "AFTERSHOCK_FIX_HOST";

export interface DoctorOptions {
  progress: Progress;
  /** Free space the docker data root needs for an offline image build, in GiB. */
  minFreeGiB?: number;
  /**
   * Apply the plan (install packages, start dockerd, write daemon.json, raise sysctls). Without it the doctor only
   * looks, and a host that needs a change stops the command with E_HOST_CHANGES. Defaults to AFTERSHOCK_FIX_HOST=1.
   */
  fix?: boolean;
  /** Also what `pnpm test` needs on the host: docker-registry (existing-cluster tests), chromium (screenshots), openssh-server (sshd). */
  tests?: boolean;
  /** Where host-wide files are (tests point these at a temp dir). */
  paths?: HostPaths;
}

/** Every host-wide place the doctor writes, only ever under --fix (or --undo). */
export interface HostPaths {
  daemonJson: string;
  shim: string;
  /** What --fix changed, with the previous values, for --undo. */
  stateFile: string;
  /** /proc/sys. */
  sysctlDir: string;
  dockerdLog: string;
  aptLock: string;
}

export const HOST_PATHS: HostPaths = {
  daemonJson: "/etc/docker/daemon.json",
  shim: "/usr/local/lib/aftershock/runc-shim",
  stateFile: "/var/lib/aftershock/host-changes.json",
  sysctlDir: "/proc/sys",
  dockerdLog: "/var/log/aftershock-dockerd.log",
  aptLock: "/var/lib/aftershock/apt.lock",
};

export const SHIM_PATH = HOST_PATHS.shim;
export const SHIM_RUNTIME = "aftershock-runc";
const GO_HINT = `install Go ≥ ${MIN_GO.version} from https://go.dev/dl into /usr/local/go (Debian bookworm's golang-go is 1.19)`;

/** Linux capability names by number (capability.h), for reading /proc/self/status. */
const CAP_NAMES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/**
 * Capabilities the kernel knows but this process's bounding set lacks. Docker grants every known capability
 * to --privileged containers, and runc fails with "unable to apply caps" when one is outside the bounding set.
 */
export function missingBoundingCapabilities(statusText: string, lastCap: number): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(statusText);
  if (!m) return [];
  const bnd = BigInt("0x" + m[1]);
  const missing: string[] = [];
  for (let i = 0; i <= Math.min(lastCap, CAP_NAMES.length - 1); i++) {
    if ((bnd & (1n << BigInt(i))) === 0n) missing.push(CAP_NAMES[i]!);
  }
  return missing;
}

/** The runtime shim: deletes the given capabilities from the OCI spec (create) and process spec (exec), then runs runc. */
export function shimScript(drop: string[], runc: string): string {
  return `#!/bin/sh
# Installed by Aftershock (pnpm run doctor). This host's capability bounding set lacks: ${drop.join(" ")}.
# Docker asks for every capability for --privileged containers, which runc cannot grant here, so this
# runtime removes them from the container's OCI spec (create/run --bundle) and exec process spec (--process)
# before handing over to runc.
DROP="${drop.join(" ")}"
edit() {
  [ -f "$1" ] || return 0
  for c in $DROP; do sed -i -e "s/\\"$c\\",//g" -e "s/,\\"$c\\"//g" -e "s/\\"$c\\"//g" "$1"; done
}
prev=""
for a in "$@"; do
  case "$prev" in --bundle|-b) edit "$a/config.json" ;; --process|-p) edit "$a" ;; esac
  case "$a" in --bundle=*) edit "\${a#--bundle=}/config.json" ;; --process=*) edit "\${a#--process=}" ;; esac
  prev="$a"
done
exec ${runc} "$@"
`;
}

/**
 * A Go version in Go's own order (go/version): 1.26 (a language version) < 1.26rc1 < 1.26.0 < 1.26.8 < 1.100.0,
 * as a tuple to compare element by element. Reads `go env GOVERSION` output (go1.26.8, "go1.26.8 X:boringcrypto",
 * "devel go1.27-4f6e8c2 Tue …") and go.mod go lines (1.26.0); undefined for anything else.
 */
export function parseGoVersion(v: string): number[] | undefined {
  const m = /^(?:devel\s+)?(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+)|(alpha|beta|rc)(\d+))?(?=$|[\s-])/.exec(v.trim());
  if (!m) return undefined;
  const [major, minor] = [Number(m[1]), Number(m[2] ?? 0)];
  if (m[3] !== undefined) return [major, minor, 4, Number(m[3])];
  if (m[4] !== undefined) return [major, minor, ["alpha", "beta", "rc"].indexOf(m[4]) + 1, Number(m[5])];
  return [major, minor, 0, 0];
}

/** Whether Go version `v` is older than `min` (see parseGoVersion); undefined when `v` is not a Go version. */
export function goOlderThan(v: string, min: string): boolean | undefined {
  const a = parseGoVersion(v);
  const b = parseGoVersion(min);
  if (!a || !b) return undefined;
  const i = a.findIndex((x, k) => x !== b[k]);
  return i >= 0 && a[i]! < b[i]!;
}

/**
 * One change the doctor would make to this host. Every one is host-wide (a package, the Docker daemon, a file under
 * /etc or /usr/local, a kernel setting), so every one needs root; `root` says so in the plan.
 */
export type Change =
  | { kind: "install"; packages: string[]; why: string; root: true }
  | { kind: "start-dockerd"; why: string; root: true }
  | { kind: "runtime-shim"; drop: string[]; reload: boolean; why: string; root: true }
  | { kind: "sysctl"; key: string; from: number; to: number; why: string; root: true };

/** What a change does, in full (the plan's lines). */
export function describeChange(c: Change, paths: HostPaths = HOST_PATHS): string {
  switch (c.kind) {
    case "install":
      return `install Debian packages ${c.packages.join(", ")} (apt-get)`;
    case "start-dockerd":
      return `start dockerd in the background, outside systemd (log ${paths.dockerdLog})`;
    case "runtime-shim":
      return `write the runtime shim ${paths.shim} and make it the default runtime of every container in ${paths.daemonJson}${c.reload ? ", then reload dockerd (SIGHUP)" : ""}`;
    case "sysctl":
      return `sysctl ${c.key} ${c.from} → ${c.to} (until reboot)`;
  }
}

/** The same in a few words, for the one-line error. */
function shortChange(c: Change): string {
  switch (c.kind) {
    case "install":
      return `install ${c.packages.join(" ")}`;
    case "start-dockerd":
      return "start dockerd";
    case "runtime-shim":
      return `default runtime ${SHIM_RUNTIME} in daemon.json`;
    case "sysctl":
      return `${c.key} ${c.from}→${c.to}`;
  }
}

/** Kernel settings kind nodes need: each node runs systemd, kubelet and containerd, which together exhaust 128 instances. */
export const SYSCTLS = [
  { key: "fs.inotify.max_user_instances", min: 512, why: "every node's systemd, kubelet and containerd together exhaust the default 128 inotify instances" },
  { key: "fs.inotify.max_user_watches", min: 524288, why: "kubelet and containerd watch many files per node" },
];

const sysctlPath = (dir: string, key: string) => path.join(dir, ...key.split("."));

/** A Debian package the offline build (or `pnpm test`) needs, and how to tell it is there. */
interface NeededPackage {
  pkg: string;
  present: (find: (bin: string) => string | undefined, exists: (p: string) => boolean) => boolean;
  why: string;
  tests?: boolean;
}

export const NEEDED_PACKAGES: NeededPackage[] = [
  { pkg: "mmdebstrap", present: (f) => !!f("mmdebstrap"), why: "makes the images' Debian root filesystems (as a user: --mode=unshare)" },
  { pkg: "uidmap", present: (f) => !!f("newuidmap"), why: "newuidmap, for mmdebstrap --mode=unshare as a user who is not root" },
  { pkg: "gcc", present: (f) => !!f("gcc"), why: "builds pause, the privileged probe and runc (cgo)" },
  { pkg: "libc6-dev", present: (_, e) => e("/usr/include/stdio.h"), why: "the C library's headers and static parts, for gcc -static" },
  { pkg: "libseccomp-dev", present: (_, e) => e("/usr/include/seccomp.h"), why: "runc for Kubernetes 1.35+ links libseccomp statically" },
  { pkg: "pkg-config", present: (f) => !!f("pkg-config"), why: "cgo finds libseccomp through it" },
  { pkg: "tar", present: (f) => !!f("tar"), why: "packs files into images" },
  { pkg: "docker-registry", present: (_, e) => e("/usr/bin/docker-registry"), why: "the plain-HTTP registry existing-cluster tests push to", tests: true },
  { pkg: "chromium", present: (f) => !!(f("chromium") ?? f("chromium-browser")), why: "report screenshots in the e2e tests", tests: true },
  {
    pkg: "openssh-server",
    present: (_, e) => e("/usr/sbin/sshd"),
    why: "the ssh node shell's unit test runs its own sshd on 127.0.0.1 (on a systemd host the package also enables the system's ssh service: systemctl disable --now ssh if you do not want it)",
    tests: true,
  },
];

/** The packages of NEEDED_PACKAGES that are missing (those for `pnpm test` only when `tests`). */
export function missingPackages(find: (bin: string) => string | undefined, exists: (p: string) => boolean, tests: boolean): string[] {
  return NEEDED_PACKAGES.filter((p) => (tests || !p.tests) && !p.present(find, exists)).map((p) => p.pkg);
}

/** Everything the plan is decided from; read by readHostState, built by hand in tests. */
export interface HostState {
  facts: HostFacts;
  engine: EngineFacts;
  apt: boolean;
  missingCaps: string[];
  /** default-runtime in daemon.json as written now (what a dockerd started now would use). */
  daemonDefaultRuntime: string | undefined;
  shimPresent: boolean;
  /** Current values of SYSCTLS, by key. */
  sysctls: Record<string, number>;
  missingPackages: string[];
  /** `go env GOVERSION`, or undefined when there is no go. */
  go: string | undefined;
}

export interface Plan {
  changes: Change[];
  /** What --fix cannot do (no Go, an engine elsewhere that does not answer, no apt): each stops the doctor. */
  blockers: AftershockError[];
}

/** Decides, from facts alone, what this host needs changed. Changes nothing. */
export function planHost(s: HostState): Plan {
  const changes: Change[] = [];
  const blockers: AftershockError[] = [];
  const e = s.engine;
  const install = [...s.missingPackages];
  // A dockerd the doctor starts here is local and rootful; an engine that answers is only ours to configure if it is.
  let localEngine = e.answers && localRootfulEngine(e);
  if (!e.answers) {
    if (e.remote) {
      blockers.push(
        new AftershockError("E_DOCKER_DOWN", `the Docker engine at DOCKER_HOST=${process.env.DOCKER_HOST ?? ""} does not answer: ${e.error ?? "no reply"}`, {
          hint: "start that engine, or unset DOCKER_HOST",
        }),
      );
    } else if (/permission denied/i.test(e.error ?? "")) {
      blockers.push(
        new AftershockError("E_DOCKER_DOWN", `${s.facts.user.name} may not use the Docker socket: ${e.error}`, {
          hint: `add the user to the docker group (sudo usermod -aG docker ${s.facts.user.name}) and log in again`,
        }),
      );
    } else {
      // Docker is missing when there is no CLI, or no engine answers and there is no dockerd to start.
      if (!e.cli || !e.dockerd) install.unshift("docker.io");
      changes.push({ kind: "start-dockerd", why: `no Docker engine answers (${e.error ?? "no reply"})`, root: true });
      localEngine = true;
    }
  }
  if (s.missingCaps.length && localEngine) {
    const current = e.answers ? e.defaultRuntime : s.daemonDefaultRuntime;
    if (current !== SHIM_RUNTIME || !s.shimPresent) {
      changes.unshift({
        kind: "runtime-shim",
        drop: s.missingCaps,
        reload: e.answers,
        why: `this host's capability bounding set lacks ${s.missingCaps.join(", ")}, so runc fails every --privileged container (kind nodes are privileged)`,
        root: true,
      });
    }
  }
  if (install.length) {
    const why = install.map((p) => `${p}: ${p === "docker.io" ? "the Docker engine" : (NEEDED_PACKAGES.find((n) => n.pkg === p)?.why ?? "")}`).join("; ");
    if (s.apt) changes.unshift({ kind: "install", packages: install, why, root: true });
    else
      blockers.push(
        new AftershockError("E_TOOL_MISSING", `missing Debian packages ${install.join(", ")}, and this host has no apt-get`, { hint: "install them by hand" }),
      );
  }
  if (!s.go) {
    blockers.push(
      new AftershockError(
        "E_TOOL_MISSING",
        "the Go toolchain is not installed (not on PATH, nor in /usr/local/go/bin); the offline image builder compiles Kubernetes from Go modules",
        { hint: GO_HINT },
      ),
    );
  } else if (goOlderThan(s.go, MIN_GO.version)) {
    blockers.push(
      new AftershockError(
        "E_TOOL_MISSING",
        `the local Go is ${s.go}; the offline image builder needs Go ≥ ${MIN_GO.version} (${MIN_GO.neededBy} requires it)`,
        {
          hint: GO_HINT,
        },
      ),
    );
  }
  for (const { key, min, why } of SYSCTLS) {
    const v = s.sysctls[key];
    if (v !== undefined && v < min) changes.push({ kind: "sysctl", key, from: v, to: min, why, root: true });
  }
  return { changes, blockers };
}

/** Reads everything planHost needs. Only reads: docker info, /proc, daemon.json, PATH. */
export async function readHostState(paths: HostPaths, tests: boolean): Promise<HostState> {
  const facts = hostFacts();
  const engine = await readEngine();
  const missingCaps = missingBoundingCapabilities(
    readFileSync("/proc/self/status", "utf8"),
    Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim()),
  );
  const sysctls: Record<string, number> = {};
  for (const { key } of SYSCTLS) {
    const p = sysctlPath(paths.sysctlDir, key);
    if (existsSync(p)) sysctls[key] = Number(readFileSync(p, "utf8").trim());
  }
  let go: string | undefined;
  if (findTool("go")) {
    const r = await run("go", ["env", "GOVERSION"], { env: { GOTOOLCHAIN: "local" }, allowFailure: true, timeout: "30s" });
    go = r.exitCode === 0 ? r.stdout.trim() : undefined;
  }
  return {
    facts,
    engine,
    apt: !!findTool("apt-get"),
    missingCaps,
    daemonDefaultRuntime: readDaemonJson(paths.daemonJson)?.["default-runtime"] as string | undefined,
    shimPresent: existsSync(paths.shim),
    sysctls,
    missingPackages: missingPackages(findTool, existsSync, tests),
    go,
  };
}

function readDaemonJson(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The one-line error of a host that needs changes and was not told to make them. */
export function changesNeeded(changes: Change[], root: boolean, tests = false): AftershockError {
  const n = changes.length;
  return new AftershockError(
    "E_HOST_CHANGES",
    `this host needs ${n} change${n === 1 ? "" : "s"} (${changes.map(shortChange).join("; ")}); nothing was changed`,
    {
      hint: `review the plan above, then run: ${fixCommand(root, tests)}`,
    },
  );
}

/** The command that applies the plan, as this user types it. */
export const fixCommand = (root: boolean, tests: boolean) => `${root ? "" : "sudo "}pnpm run doctor --fix${tests ? " --tests" : ""}`;

/**
 * apt-get install, one Aftershock process at a time: two at once would have the second fail on dpkg's lock at once.
 * Only under --fix (the lock lives in a root place).
 */
export async function aptInstall(pkgs: string[], progress: Progress, lock = HOST_PATHS.aptLock): Promise<void> {
  await mkdir(path.dirname(lock), { recursive: true });
  await withLock(lock, progress, () => aptInstallNow(pkgs, progress), "20m", "installing Debian packages");
}

async function aptInstallNow(pkgs: string[], progress: Progress): Promise<void> {
  const s = progress.step(`apt-get install ${pkgs.join(" ")}`, "10m");
  try {
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await run("apt-get", ["update", "-q"], { env, timeout: "5m", onLine: (l) => s.detail(l) });
    await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...pkgs], { env, timeout: "10m", onLine: (l) => s.detail(l) });
    s.done();
  } catch (e) {
    s.fail((e as Error).message);
    throw e;
  }
}

/**
 * Checks everything a cluster run needs on this host (the Docker engine, privileged containers, cgroups, disk, inotify
 * limits, build tools) and, only with `fix`, applies the plan of changes it made, saying each. Without `fix` a host
 * that needs a change stops the command with one line (E_HOST_CHANGES) and is left as it was. On a configured host
 * it changes nothing either way.
 */
export async function doctor(opts: DoctorOptions): Promise<DoctorReport> {
  const { progress } = opts;
  const paths = opts.paths ?? HOST_PATHS;
  const tests = !!opts.tests;
  const fix = opts.fix ?? process.env[FIX_ENV] === "1";
  let state = await readHostState(paths, tests);
  const report: DoctorReport = { checks: [], cgroupVersion: state.facts.cgroup, missingCapabilities: state.missingCaps, plan: [], host: "" };
  const line = (name: string, ok: boolean, detail: string, changed = false) => {
    report.checks.push({ name, ok, detail, changed });
    (ok ? progress.info : progress.warn).call(progress, `${ok ? "✓" : "✗"} ${name.padEnd(22)} ${detail}${changed ? "  (changed now)" : ""}`);
  };
  progress.info(describeHost(state.facts, state.engine));
  for (const tool of ["go", "mmdebstrap", "dockerd", "newuidmap"]) {
    const at = findTool(tool);
    if (at && state.facts.pathAdded.includes(path.dirname(at)))
      progress.info(`${tool} found in ${path.dirname(at)}, which is not on your PATH (added for Aftershock's commands)`);
  }

  const plan = planHost(state);
  report.plan = plan.changes;
  if (plan.changes.length) {
    progress.warn(
      `This host needs ${plan.changes.length} change${plan.changes.length === 1 ? "" : "s"}${fix ? "" : " (nothing changed yet)"}, each needing root:`,
    );
    plan.changes.forEach((c, i) => progress.warn(`  ${i + 1}. ${describeChange(c, paths)}: ${c.why}`));
  }
  for (const b of plan.blockers.slice(1)) progress.warn(`✗ ${b.oneLine()}`);
  if (plan.blockers[0]) throw plan.blockers[0];
  const applied = new Set<Change["kind"]>();
  if (plan.changes.length) {
    if (!fix) throw changesNeeded(plan.changes, state.facts.user.root, tests);
    state = await applyPlan(plan.changes, state, { paths, tests, progress, applied });
  }
  report.host = describeHost(state.facts, state.engine);

  // From here on only checks: the plan is empty.
  const e = state.engine;
  line(
    "docker engine",
    true,
    `running, ${e.serverVersion} (${e.flavour}), storage ${e.storage}, root ${e.rootDir}`,
    applied.has("start-dockerd") || applied.has("install"),
  );
  const tools = ["mmdebstrap", "gcc", "pkg-config", ...(tests ? ["docker-registry", "chromium", "openssh-server"] : [])].join(", ");
  line("build tools", true, `${state.go}, ${tools}`, applied.has("install"));

  // Privileged containers (kind nodes are privileged).
  await probePrivileged();
  if (state.missingCaps.length) {
    const how = localRootfulEngine(e) ? `runtime shim ${SHIM_RUNTIME} removes it` : `the engine is not a rootful dockerd of this host, so it is left as it is`;
    line("privileged containers", true, `host lacks ${state.missingCaps.join(", ")}; ${how}; probe passed`, applied.has("runtime-shim"));
  } else {
    line("privileged containers", true, "full capability bounding set, probe passed");
  }

  line("cgroups", true, state.facts.cgroup === 2 ? "v2 (unified)" : `v1 — Kubernetes ${supportedVersionsText()}; 1.35+ with failCgroupV1: false`);

  // Disk, under Docker's data root (or the nearest parent this user may stat: /var/lib/docker is root's alone).
  const { dir, freeGiB } = freeSpace(e.rootDir ?? "/");
  const need = opts.minFreeGiB ?? 15;
  if (freeGiB < need) {
    throw new AftershockError("E_DISK", `only ${freeGiB.toFixed(1)} GiB free under ${dir}; building images and running clusters needs ${need} GiB`, {
      hint: "free space, or remove old images with docker image prune",
    });
  }
  line("disk", true, `${freeGiB.toFixed(0)} GiB free under ${dir}`);
  line("inotify limits", true, SYSCTLS.map((s) => `${s.key.split(".").pop()} ${state.sysctls[s.key] ?? "?"}`).join(", "), applied.has("sysctl"));
  return report;
}

/** doctor --fix: applies the plan's changes as root, saying each, and reads the host again; it must need nothing more. */
async function applyPlan(
  changes: Change[],
  before: Awaited<ReturnType<typeof readHostState>>,
  o: { paths: HostPaths; tests: boolean; progress: Progress; applied: Set<Change["kind"]> },
): Promise<Awaited<ReturnType<typeof readHostState>>> {
  const { paths, tests, progress } = o;
  if (!before.facts.user.root)
    throw new AftershockError("E_NOT_ROOT", `the changes above need root; ${before.facts.user.name} is not root`, {
      hint: `run: ${fixCommand(false, tests)}`,
    });
  for (const c of changes) {
    progress.info(`→ ${describeChange(c, paths)}`);
    await applyChange(c, paths, progress);
    o.applied.add(c.kind);
  }
  const state = await readHostState(paths, tests);
  const plan = planHost(state);
  if (plan.blockers[0]) throw plan.blockers[0];
  if (plan.changes.length)
    throw new AftershockError("E_HOST_CHANGES", `after --fix this host still needs: ${plan.changes.map(shortChange).join("; ")}`, {
      hint: `see ${paths.dockerdLog} and the lines above`,
    });
  progress.info(`recorded in ${paths.stateFile}; pnpm run doctor --undo restores the previous daemon.json and sysctls`);
  progress.info(`now ${describeHost(state.facts, state.engine)}`);
  return state;
}

function freeSpace(start: string): { dir: string; freeGiB: number } {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      const st = statfsSync(dir);
      return { dir, freeGiB: (st.bavail * st.bsize) / 2 ** 30 };
    } catch (e) {
      if (dir === "/") throw e;
    }
  }
}

async function applyChange(c: Change, paths: HostPaths, progress: Progress): Promise<void> {
  switch (c.kind) {
    case "install":
      await aptInstall(c.packages, progress, paths.aptLock);
      await recordChange(paths.stateFile, (r) => ({ ...r, packages: [...new Set([...r.packages, ...c.packages])] }));
      return;
    case "runtime-shim":
      await installShim(c.drop, paths);
      // Also when the plan meant to start dockerd: docker.io's install may have started one already.
      if ((await readEngine()).answers) await reloadDocker((e) => e.defaultRuntime === SHIM_RUNTIME);
      return;
    case "start-dockerd":
      if ((await readEngine()).answers) return; // started by the docker.io package's install
      await startDockerd(paths);
      await recordChange(paths.stateFile, (r) => ({ ...r, dockerdStarted: { log: paths.dockerdLog, at: new Date().toISOString() } }));
      return;
    case "sysctl": {
      const p = sysctlPath(paths.sysctlDir, c.key);
      await writeFile(p, String(c.to));
      await recordChange(paths.stateFile, (r) => ({
        ...r,
        // The first previous value is the host's own; a later --fix must not record ours as it.
        sysctls: r.sysctls.some((s) => s.key === c.key)
          ? r.sysctls.map((s) => (s.key === c.key ? { ...s, value: c.to } : s))
          : [...r.sysctls, { key: c.key, path: p, previous: c.from, value: c.to }],
      }));
      return;
    }
  }
}

/** What --fix changed on this host, with what was there before, so --undo can put it back. */
export interface HostChangeRecord {
  daemonJson?: { path: string; previous: string | null; wrote: string };
  shim?: { path: string };
  sysctls: { key: string; path: string; previous: number; value: number }[];
  packages: string[];
  dockerdStarted?: { log: string; at: string };
}

export function readRecord(file: string): HostChangeRecord | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as HostChangeRecord;
}

async function recordChange(file: string, update: (r: HostChangeRecord) => HostChangeRecord): Promise<void> {
  const r = readRecord(file) ?? { sysctls: [], packages: [] };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(update(r), null, 2) + "\n");
}

async function startDockerd(paths: HostPaths): Promise<void> {
  await mkdir(path.dirname(paths.dockerdLog), { recursive: true });
  await run("sh", ["-c", `nohup setsid dockerd >>"${paths.dockerdLog}" 2>&1 </dev/null &`]);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await readEngine()).answers) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  const tail = existsSync(paths.dockerdLog) ? (await readFile(paths.dockerdLog, "utf8")).trim().split("\n").slice(-2).join(" | ") : "";
  throw new AftershockError("E_DOCKER_DOWN", `dockerd did not become ready within 60s: ${tail}`, { hint: `see ${paths.dockerdLog}` });
}

/** Writes the shim and registers it as the default runtime, recording daemon.json's content from before the first write. */
export async function installShim(drop: string[], paths: HostPaths = HOST_PATHS): Promise<void> {
  const runc = findTool("runc") ?? "/usr/sbin/runc";
  await mkdir(path.dirname(paths.shim), { recursive: true });
  await writeFile(paths.shim, shimScript(drop, runc));
  await chmod(paths.shim, 0o755);
  await mkdir(path.dirname(paths.daemonJson), { recursive: true });
  const previous = existsSync(paths.daemonJson) ? await readFile(paths.daemonJson, "utf8") : null;
  let cfg: Record<string, unknown> = {};
  if (previous !== null && previous.trim()) {
    try {
      cfg = JSON.parse(previous) as Record<string, unknown>;
    } catch {
      throw new AftershockError("E_PRIVILEGED", `${paths.daemonJson} is not valid JSON; fix it before Aftershock registers its runtime`);
    }
  }
  const runtimes = (cfg.runtimes ?? {}) as Record<string, unknown>;
  runtimes[SHIM_RUNTIME] = { path: paths.shim };
  cfg.runtimes = runtimes;
  cfg["default-runtime"] = SHIM_RUNTIME;
  const wrote = JSON.stringify(cfg, null, 2) + "\n";
  await writeFile(paths.daemonJson, wrote);
  await recordChange(paths.stateFile, (r) => ({
    ...r,
    daemonJson: { path: paths.daemonJson, previous: r.daemonJson ? r.daemonJson.previous : previous, wrote },
    shim: { path: paths.shim },
  }));
}

/**
 * Puts back what --fix changed, from the record: daemon.json's previous content (or, if it was edited since, only our
 * keys removed), the previous sysctl values (unless changed since), and removes the shim. Packages stay installed
 * and a dockerd it started keeps running (containers may use them); both are named. `reload` tells dockerd.
 */
export async function undoHostChanges(paths: HostPaths, progress: Progress, reload: () => Promise<void>): Promise<void> {
  const rec = readRecord(paths.stateFile);
  if (!rec) {
    progress.info(`nothing to undo: ${paths.stateFile} does not exist (pnpm run doctor --fix changed nothing here)`);
    return;
  }
  let reloadNeeded = false;
  if (rec.daemonJson) {
    const { path: file, previous, wrote } = rec.daemonJson;
    const now = existsSync(file) ? await readFile(file, "utf8") : null;
    if (now === wrote) {
      if (previous === null) await rm(file, { force: true });
      else await writeFile(file, previous);
      progress.info(previous === null ? `removed ${file} (there was none before)` : `restored ${file} as it was before`);
      reloadNeeded = true;
    } else if (now !== null) {
      // Edited since --fix: keep the edits, take out only our runtime.
      const cfg = JSON.parse(now) as Record<string, unknown>;
      const runtimes = (cfg.runtimes ?? {}) as Record<string, unknown>;
      delete runtimes[SHIM_RUNTIME];
      if (Object.keys(runtimes).length) cfg.runtimes = runtimes;
      else delete cfg.runtimes;
      if (cfg["default-runtime"] === SHIM_RUNTIME) delete cfg["default-runtime"];
      await writeFile(file, JSON.stringify(cfg, null, 2) + "\n");
      progress.info(`removed ${SHIM_RUNTIME} from ${file} (edited since, other settings kept)`);
      reloadNeeded = true;
    }
  }
  if (rec.shim) {
    await rm(rec.shim.path, { force: true });
    await rmdir(path.dirname(rec.shim.path)).catch(() => undefined); // only if empty
    progress.info(`removed ${rec.shim.path}`);
  }
  for (const s of rec.sysctls) {
    const now = existsSync(s.path) ? Number(readFileSync(s.path, "utf8").trim()) : undefined;
    if (now === s.value) {
      await writeFile(s.path, String(s.previous));
      progress.info(`sysctl ${s.key} ${s.value} → ${s.previous}`);
    } else progress.warn(`sysctl ${s.key} is ${now} now, not the ${s.value} --fix set: left as it is`);
  }
  if (rec.packages.length) progress.info(`kept the packages --fix installed: ${rec.packages.join(" ")} (apt-get remove them by hand if you want)`);
  if (rec.dockerdStarted) progress.info(`a dockerd --fix started (log ${rec.dockerdStarted.log}) keeps running; stop it by hand if you want`);
  await rm(paths.stateFile, { force: true });
  if (reloadNeeded) await reload();
}

/** dockerd reloads runtimes and default-runtime on SIGHUP; waits (15s at most) until `done` holds for docker info. */
export async function reloadDocker(done: (e: EngineFacts) => boolean): Promise<void> {
  const r = await run("sh", ["-c", "kill -HUP $(pidof dockerd)"], { allowFailure: true });
  if (r.exitCode !== 0) return; // no dockerd running: it reads daemon.json when it starts
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (done(await readEngine())) return;
    await new Promise((res) => setTimeout(res, 300));
  }
}

export const PROBE_IMAGE = `${PINNED.localRegistry}/probe:1`;

/** Runs a tiny privileged container (our pause binary, built here) to prove kind nodes can start. */
async function probePrivileged(): Promise<void> {
  const exists = (await run("docker", ["image", "inspect", PROBE_IMAGE], { allowFailure: true })).exitCode === 0;
  if (!exists) {
    const dir = await mkdtemp(path.join(os.tmpdir(), "aftershock-probe-"));
    try {
      await run("gcc", ["-Os", "-static", "-s", "-o", path.join(dir, "pause"), path.join(here, "..", "images", "components", "pause", "pause.c")]);
      await run("sh", [
        "-c",
        `tar -C "${dir}" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' --change 'LABEL ${LABELS.builtBy}=aftershock' - ${PROBE_IMAGE}`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const r = await run("docker", ["run", "--rm", "--privileged", "--label", `${LABELS.managed}=probe`, PROBE_IMAGE, "-v"], {
    allowFailure: true,
    timeout: "1m",
  });
  if (r.exitCode !== 0) {
    throw new AftershockError("E_PRIVILEGED", `a privileged probe container failed: ${(r.stderr || r.stdout).trim().split("\n")[0]}`, {
      hint: "kind nodes need --privileged; check dockerd's runtime configuration in /etc/docker/daemon.json",
    });
  }
}
