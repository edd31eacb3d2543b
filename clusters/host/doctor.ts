import { existsSync, readFileSync, statfsSync } from "node:fs";
import { LABELS } from "../labels.js";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AftershockError } from "../errors.js";
import { withLock } from "../lock.js";
import { run, which } from "../exec.js";
import type { Progress } from "../progress.js";
import { MIN_GO, PINNED, supportedVersionsText } from "../versions.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** What the doctor found and did; every check is one line in the report. */
export interface DoctorReport {
  checks: { name: string; ok: boolean; detail: string; changed: boolean }[];
  cgroupVersion: 1 | 2;
  missingCapabilities: string[];
}

export interface DoctorOptions {
  progress: Progress;
  /** Free space the docker data root needs for an offline image build, in GiB. */
  minFreeGiB?: number;
  /** Only look; install and start nothing. */
  checkOnly?: boolean;
}

export const SHIM_PATH = "/usr/local/lib/aftershock/runc-shim";
export const SHIM_RUNTIME = "aftershock-runc";
const DAEMON_JSON = "/etc/docker/daemon.json";
const DOCKERD_LOG = "/var/log/aftershock-dockerd.log";
const GO_HINT = `install Go ≥ ${MIN_GO.version} from https://go.dev/dl (Debian bookworm's golang-go is 1.19)`;

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

async function dockerInfo(): Promise<{
  ok: boolean;
  serverVersion?: string;
  defaultRuntime?: string;
  runtimes?: string[];
  storage?: string;
  rootDir?: string;
  error?: string;
}> {
  const r = await run("docker", ["info", "--format", "{{json .}}"], { allowFailure: true, timeoutMs: 20_000 }).catch((e: Error) => ({
    exitCode: 1,
    stdout: "",
    stderr: e.message,
  }));
  if (r.exitCode !== 0) return { ok: false, error: (r.stderr || r.stdout).trim().split("\n").pop() };
  const info = JSON.parse(r.stdout) as {
    ServerVersion?: string;
    DefaultRuntime?: string;
    Runtimes?: Record<string, unknown>;
    Driver?: string;
    DockerRootDir?: string;
    ServerErrors?: string[];
  };
  if (!info.ServerVersion) return { ok: false, error: info.ServerErrors?.join("; ") ?? "no server" };
  return {
    ok: true,
    serverVersion: info.ServerVersion,
    defaultRuntime: info.DefaultRuntime,
    runtimes: Object.keys(info.Runtimes ?? {}),
    storage: info.Driver,
    rootDir: info.DockerRootDir,
  };
}

async function waitForDocker(budgetMs: number): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  while (Date.now() < deadline) {
    if ((await dockerInfo()).ok) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/**
 * apt-get install, one Aftershock process at a time: two at once (say the registry and Chromium for two test files
 * running side by side on a fresh machine) would have the second fail on dpkg's lock at once.
 */
export async function aptInstall(pkgs: string[], progress: Progress): Promise<void> {
  await withLock(path.join(os.tmpdir(), "aftershock-apt.lock"), progress, () => aptInstallNow(pkgs, progress), 20 * 60_000, "installing Debian packages");
}

async function aptInstallNow(pkgs: string[], progress: Progress): Promise<void> {
  const s = progress.step(`apt-get install ${pkgs.join(" ")}`, 10 * 60_000);
  try {
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await run("apt-get", ["update", "-q"], { env, timeoutMs: 5 * 60_000, onLine: (l) => s.detail(l) });
    await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...pkgs], { env, timeoutMs: 10 * 60_000, onLine: (l) => s.detail(l) });
    s.done();
  } catch (e) {
    s.fail((e as Error).message);
    throw e;
  }
}

/**
 * Checks, and where it can fixes, everything a cluster run needs on this host: root, the Docker engine,
 * privileged containers, cgroups, disk, inotify limits and build tools. Idempotent; one line per check.
 */
export async function doctor(opts: DoctorOptions): Promise<DoctorReport> {
  const { progress } = opts;
  const report: DoctorReport = { checks: [], cgroupVersion: 1, missingCapabilities: [] };
  const line = (name: string, ok: boolean, detail: string, changed = false) => {
    report.checks.push({ name, ok, detail, changed });
    (ok ? progress.info : progress.warn).call(progress, `${ok ? "✓" : "✗"} ${name.padEnd(22)} ${detail}${changed ? "  (fixed now)" : ""}`);
  };
  const isRoot = process.getuid?.() === 0;
  const canFix = isRoot && !opts.checkOnly;
  const hasApt = !!(await which("apt-get"));

  // 1. Docker CLI and engine.
  let changed = false;
  if (!(await which("docker")) || !(await which("dockerd"))) {
    if (!(await which("dockerd")) && canFix && hasApt) {
      await aptInstall(["docker.io"], progress);
      changed = true;
    } else if (!(await which("docker"))) {
      throw new AftershockError("E_DOCKER_MISSING", "Docker is not installed", {
        hint: isRoot
          ? "install docker.io (apt-get install docker.io) or Docker Engine, then run pnpm run doctor"
          : "run pnpm run doctor as root, or install Docker Engine and add yourself to the docker group",
      });
    }
  }
  const missingCaps = missingBoundingCapabilities(
    readFileSync("/proc/self/status", "utf8"),
    Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim()),
  );
  report.missingCapabilities = missingCaps;
  let info = await dockerInfo();
  if (!info.ok) {
    if (!canFix || !(await which("dockerd"))) {
      throw new AftershockError("E_DOCKER_DOWN", `the Docker engine is not reachable: ${info.error ?? "unknown error"}`, {
        hint: isRoot ? "start it (dockerd, or systemctl start docker), then run pnpm run doctor" : "start the Docker engine or run pnpm run doctor as root",
      });
    }
    if (missingCaps.length) await installShim(missingCaps);
    await run("sh", ["-c", `nohup setsid dockerd >>${DOCKERD_LOG} 2>&1 </dev/null &`]);
    if (!(await waitForDocker(60_000))) {
      const tail = existsSync(DOCKERD_LOG) ? (await readFile(DOCKERD_LOG, "utf8")).trim().split("\n").slice(-2).join(" | ") : "";
      throw new AftershockError("E_DOCKER_DOWN", `dockerd did not become ready within 60s: ${tail}`, { hint: `see ${DOCKERD_LOG}` });
    }
    info = await dockerInfo();
    changed = true;
  }
  line("docker engine", true, `running, ${info.serverVersion}, storage ${info.storage}, root ${info.rootDir}`, changed);

  // 2. Build tools (gcc also builds the privileged probe below) for the offline image builder.
  const tools: [string, string][] = [
    ["go", "golang-go"],
    ["debootstrap", "debootstrap"],
    ["gcc", "gcc"],
    ["tar", "tar"],
  ];
  const missing = [];
  for (const [bin, pkg] of tools) if (!(await which(bin))) missing.push(pkg);
  // runc for Kubernetes 1.35+ is built with cgo against libseccomp (found through pkg-config) and linked statically.
  if (!existsSync("/usr/include/seccomp.h")) missing.push("libseccomp-dev");
  if (!(await which("pkg-config"))) missing.push("pkg-config");
  const installable = missing.filter((p) => p !== "golang-go");
  if (installable.length && canFix && hasApt) await aptInstall([...installable, "libc6-dev"], progress);
  if (!(await which("go"))) {
    throw new AftershockError("E_TOOL_MISSING", "the Go toolchain is not installed; the offline image builder compiles Kubernetes from Go modules", {
      hint: GO_HINT,
    });
  }
  const stillMissing = [];
  for (const [bin] of tools) if (!(await which(bin))) stillMissing.push(bin);
  if (stillMissing.length)
    throw new AftershockError("E_TOOL_MISSING", `missing tools: ${stillMissing.join(", ")}`, {
      hint: "install them (as root: pnpm run doctor installs them from Debian)",
    });
  const gov = (await run("go", ["env", "GOVERSION"], { env: { GOTOOLCHAIN: "local" } })).stdout.trim();
  const goOld = goOlderThan(gov, MIN_GO.version);
  if (goOld) {
    throw new AftershockError(
      "E_TOOL_MISSING",
      `the local Go is ${gov}; the offline image builder needs Go ≥ ${MIN_GO.version} (${MIN_GO.neededBy} requires it)`,
      { hint: GO_HINT },
    );
  }
  const goNote = goOld === undefined ? ` (not a Go version this doctor can read; the image builder needs Go ≥ ${MIN_GO.version})` : "";
  line(
    "build tools",
    !goNote,
    `${gov}${goNote}, debootstrap, gcc${installable.length ? ` (installed ${installable.join(", ")})` : ""}`,
    installable.length > 0,
  );
  // 3. Privileged containers (kind nodes are privileged).
  if (missingCaps.length) {
    let fixed = false;
    if (info.defaultRuntime !== SHIM_RUNTIME) {
      if (!canFix) {
        throw new AftershockError("E_PRIVILEGED", `privileged containers fail on this host: its capability bounding set lacks ${missingCaps.join(", ")}`, {
          hint: "run pnpm run doctor as root to register Aftershock's runtime shim",
        });
      }
      await installShim(missingCaps);
      await reloadDocker();
      info = await dockerInfo();
      fixed = true;
    }
    if (info.defaultRuntime !== SHIM_RUNTIME) {
      throw new AftershockError(
        "E_PRIVILEGED",
        `docker did not pick up the ${SHIM_RUNTIME} runtime from ${DAEMON_JSON} (default runtime is ${info.defaultRuntime})`,
        { hint: "restart dockerd" },
      );
    }
    await probePrivileged();
    line("privileged containers", true, `host lacks ${missingCaps.join(", ")}; runtime shim ${SHIM_RUNTIME} removes it, probe passed`, fixed);
  } else {
    await probePrivileged();
    line("privileged containers", true, "full capability bounding set, probe passed");
  }

  // 4. cgroups.
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  report.cgroupVersion = v2 ? 2 : 1;
  line("cgroups", true, v2 ? "v2 (unified)" : `v1 — Kubernetes ${supportedVersionsText()}; 1.35+ with failCgroupV1: false`);

  // 5. Disk.
  const dir = info.rootDir && existsSync(info.rootDir) ? info.rootDir : "/";
  const st = statfsSync(dir);
  const freeGiB = (st.bavail * st.bsize) / 2 ** 30;
  const need = opts.minFreeGiB ?? 15;
  if (freeGiB < need) {
    throw new AftershockError("E_DISK", `only ${freeGiB.toFixed(1)} GiB free under ${dir}; building images and running clusters needs ${need} GiB`, {
      hint: "free space, or remove old images with docker image prune",
    });
  }
  line("disk", true, `${freeGiB.toFixed(0)} GiB free under ${dir}`);

  // 6. inotify: each node runs systemd, kubelet and containerd, which together exhaust the default 128 instances.
  const instPath = "/proc/sys/fs/inotify/max_user_instances";
  const watchPath = "/proc/sys/fs/inotify/max_user_watches";
  const inst = Number(readFileSync(instPath, "utf8"));
  const watches = Number(readFileSync(watchPath, "utf8"));
  if ((inst < 512 || watches < 524288) && canFix) {
    if (inst < 512) await writeFile(instPath, "512");
    if (watches < 524288) await writeFile(watchPath, "524288");
    line("inotify limits", true, "instances 512, watches 524288", true);
  } else {
    line("inotify limits", inst >= 512, `instances ${inst}, watches ${watches}${inst < 512 ? " (raise fs.inotify.max_user_instances to 512)" : ""}`);
  }

  return report;
}

async function installShim(drop: string[]): Promise<void> {
  const runc = (await which("runc")) ?? "/usr/sbin/runc";
  await mkdir(path.dirname(SHIM_PATH), { recursive: true });
  await writeFile(SHIM_PATH, shimScript(drop, runc));
  await chmod(SHIM_PATH, 0o755);
  await mkdir(path.dirname(DAEMON_JSON), { recursive: true });
  let cfg: Record<string, unknown> = {};
  if (existsSync(DAEMON_JSON)) {
    try {
      cfg = JSON.parse(await readFile(DAEMON_JSON, "utf8")) as Record<string, unknown>;
    } catch {
      throw new AftershockError("E_PRIVILEGED", `${DAEMON_JSON} is not valid JSON; fix it before Aftershock registers its runtime`);
    }
  }
  const runtimes = (cfg.runtimes ?? {}) as Record<string, unknown>;
  runtimes[SHIM_RUNTIME] = { path: SHIM_PATH };
  cfg.runtimes = runtimes;
  cfg["default-runtime"] = SHIM_RUNTIME;
  await writeFile(DAEMON_JSON, JSON.stringify(cfg, null, 2) + "\n");
}

/** dockerd reloads runtimes and default-runtime on SIGHUP. */
async function reloadDocker(): Promise<void> {
  await run("sh", ["-c", "kill -HUP $(pidof dockerd)"]);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if ((await dockerInfo()).defaultRuntime === SHIM_RUNTIME) return;
    await new Promise((r) => setTimeout(r, 300));
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
        `tar -C "${dir}" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' --change 'LABEL aftershock.built-by=aftershock' - ${PROBE_IMAGE}`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const r = await run("docker", ["run", "--rm", "--privileged", "--label", `${LABELS.managed}=probe`, PROBE_IMAGE, "-v"], {
    allowFailure: true,
    timeoutMs: 60_000,
  });
  if (r.exitCode !== 0) {
    throw new AftershockError("E_PRIVILEGED", `a privileged probe container failed: ${(r.stderr || r.stdout).trim().split("\n")[0]}`, {
      hint: "kind nodes need --privileged; check dockerd's runtime configuration in /etc/docker/daemon.json",
    });
  }
}
