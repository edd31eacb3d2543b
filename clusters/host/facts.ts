import { existsSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import { findOnPath, run } from "../exec.js";

/**
 * What kind of host this is, decided in one place, the way a Kubernetes version is: the cgroup hierarchy, who
 * runs Aftershock and whether it may reach Docker. Scenarios, the doctor, the image builder and cluster code ask
 * here; none of them tests /sys/fs/cgroup or the uid on its own. Read once per process (the answers do not
 * change under a running process); tests pass their own root to the pure readers.
 */
export type CgroupVersion = 1 | 2;

/** v2 (unified) when the root of the cgroup mount lists its controllers; v1 (legacy or hybrid) otherwise. */
export function readCgroupVersion(root = "/sys/fs/cgroup"): CgroupVersion {
  return existsSync(`${root}/cgroup.controllers`) ? 2 : 1;
}

export interface HostUser {
  uid: number;
  name: string;
  root: boolean;
  /** Member of the group that owns the Docker socket (so it may run containers without root). */
  dockerGroup: boolean;
}

/** The user this process runs as, and whether it is in the group of `socket` (by default Docker's socket). */
export function readHostUser(socket = "/var/run/docker.sock", groupFile = "/etc/group"): HostUser {
  const uid = process.getuid?.() ?? -1;
  const name = os.userInfo().username;
  let dockerGroup = false;
  try {
    const gid = statGid(socket);
    const groups = new Set<number>(process.getgroups?.() ?? []);
    if (gid !== undefined) dockerGroup = groups.has(gid);
    else {
      // No socket yet (engine not started): fall back to membership of a group named docker.
      const line = readFileSync(groupFile, "utf8")
        .split("\n")
        .find((l) => l.startsWith("docker:"));
      dockerGroup = !!line && (line.split(":")[3] ?? "").split(",").includes(name);
    }
  } catch {
    dockerGroup = false;
  }
  return { uid, name, root: uid === 0, dockerGroup };
}

function statGid(p: string): number | undefined {
  return existsSync(p) ? statSync(p).gid : undefined;
}

export interface HostFacts {
  cgroup: CgroupVersion;
  user: HostUser;
  /** e.g. "Debian 12". */
  os: string;
  /** Tool directories this process appended to PATH (TOOL_DIRS), for its child processes too. */
  pathAdded: string[];
}

let cached: HostFacts | undefined;

/**
 * This host's facts, read once per process. The first read also extends PATH with the standard tool directories
 * the user's PATH lacks, once, so every child process (go, mmdebstrap, dockerd) finds them the same way.
 */
export function hostFacts(): HostFacts {
  if (!cached) {
    const p = extendedPath(process.env.PATH ?? "", TOOL_DIRS);
    process.env.PATH = p.value;
    cached = { cgroup: readCgroupVersion(), user: readHostUser(), os: readOsName(), pathAdded: p.added };
  }
  return cached;
}

/** The cgroup version of this host (see hostFacts). */
export function hostCgroupVersion(): CgroupVersion {
  return hostFacts().cgroup;
}

/**
 * Where tools Aftershock runs live on Debian hosts when a user's PATH leaves them out: Go's tarball from go.dev
 * (/usr/local/go/bin) and the sbin directories a non-root login shell lacks (debootstrap, mmdebstrap's helpers,
 * dockerd). Appended, never prepended, so a tool the user chose on PATH wins.
 */
export const TOOL_DIRS = ["/usr/local/go/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"];

/** PATH with those of `dirs` that exist and are not on it yet appended; `added` names them. */
export function extendedPath(pathValue: string, dirs: string[], isDir: (d: string) => boolean = isDirectory): { value: string; added: string[] } {
  const have = new Set(pathValue.split(":").filter(Boolean));
  const added = dirs.filter((d) => !have.has(d) && isDir(d));
  return { value: [...pathValue.split(":").filter(Boolean), ...added].join(":"), added };
}

/** Where `name` is on this process's PATH (extended by hostFacts), or undefined. */
export function findTool(name: string): string | undefined {
  hostFacts();
  return findOnPath(name, process.env.PATH ?? "");
}

function isDirectory(d: string): boolean {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}

/** "Debian 12" from os-release (NAME without "GNU/Linux", VERSION_ID); "Linux" when there is none. */
export function readOsName(file = "/etc/os-release"): string {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return "Linux";
  }
  const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, "m").exec(text)?.[1];
  const name = (field("NAME") ?? "Linux").replace(/\s*GNU\/Linux$/, "");
  const version = field("VERSION_ID");
  return version ? `${name} ${version}` : name;
}

/** The Docker engine as `docker info` describes it, and the CLI and daemon binaries found on this host. */
export interface EngineFacts {
  /** The docker CLI, when installed. */
  cli: string | undefined;
  /** dockerd on this host (a local engine the doctor may start), when installed. */
  dockerd: string | undefined;
  /** `docker info` reached a server. */
  answers: boolean;
  /** Why it did not, in docker's words (last line). */
  error?: string;
  serverVersion?: string;
  defaultRuntime?: string;
  runtimes: string[];
  storage?: string;
  rootDir?: string;
  /** Which engine: Debian's docker.io (version +dfsg), Docker Desktop, or another Docker Engine. */
  flavour?: "docker.io" | "Docker Desktop" | "Docker Engine";
  rootless: boolean;
  /** DOCKER_HOST names another machine (tcp://, ssh://): nothing about its daemon is this host's to change. */
  remote: boolean;
  /** The engine's mirrors of docker.io (registry-mirrors), through which `docker pull kindest/node…` goes. */
  registryMirrors: string[];
}

/** Reads `docker info --format '{{json .}}'` output; `dockerHost` is DOCKER_HOST. */
export function parseDockerInfo(json: string, dockerHost: string | undefined): Omit<EngineFacts, "cli" | "dockerd"> {
  const remote = !!dockerHost && !dockerHost.startsWith("unix://");
  let info: {
    ServerVersion?: string;
    DefaultRuntime?: string;
    Runtimes?: Record<string, unknown>;
    Driver?: string;
    DockerRootDir?: string;
    OperatingSystem?: string;
    SecurityOptions?: string[];
    ServerErrors?: string[];
    RegistryConfig?: { Mirrors?: string[] | null };
  };
  try {
    info = JSON.parse(json) as typeof info;
  } catch {
    return { answers: false, error: "docker info printed no JSON", runtimes: [], rootless: false, remote, registryMirrors: [] };
  }
  if (!info.ServerVersion)
    return { answers: false, error: info.ServerErrors?.join("; ") ?? "no server", runtimes: [], rootless: false, remote, registryMirrors: [] };
  const flavour = /Docker Desktop/i.test(info.OperatingSystem ?? "") ? "Docker Desktop" : /\+dfsg/.test(info.ServerVersion) ? "docker.io" : "Docker Engine";
  return {
    answers: true,
    serverVersion: info.ServerVersion,
    ...(info.DefaultRuntime ? { defaultRuntime: info.DefaultRuntime } : {}),
    runtimes: Object.keys(info.Runtimes ?? {}),
    ...(info.Driver ? { storage: info.Driver } : {}),
    ...(info.DockerRootDir ? { rootDir: info.DockerRootDir } : {}),
    flavour,
    rootless: (info.SecurityOptions ?? []).some((o) => o.includes("name=rootless")),
    remote,
    registryMirrors: info.RegistryConfig?.Mirrors ?? [],
  };
}

/** Asks the engine now (not cached: the doctor reads it again after starting or reloading dockerd). */
export async function readEngine(): Promise<EngineFacts> {
  const cli = findTool("docker");
  const dockerd = findTool("dockerd");
  if (!cli)
    return { cli, dockerd, answers: false, error: "the docker CLI is not installed", runtimes: [], rootless: false, remote: false, registryMirrors: [] };
  const r = await run(cli, ["info", "--format", "{{json .}}"], { allowFailure: true, timeout: "20s" }).catch((e: Error) => ({
    exitCode: 1,
    stdout: "",
    stderr: e.message,
  }));
  const parsed =
    r.exitCode === 0
      ? parseDockerInfo(r.stdout, process.env.DOCKER_HOST)
      : {
          answers: false,
          error: (r.stderr || r.stdout).trim().split("\n").pop() ?? "docker info failed",
          runtimes: [],
          rootless: false,
          remote: !!process.env.DOCKER_HOST && !process.env.DOCKER_HOST.startsWith("unix://"),
          registryMirrors: [],
        };
  return { cli, dockerd, ...parsed };
}

/** An engine whose daemon runs on this host as root, so daemon.json and dockerd are this host's to change. */
export function localRootfulEngine(e: EngineFacts): boolean {
  return !e.remote && !e.rootless && e.flavour !== "Docker Desktop" && !!e.dockerd;
}

/** One line naming the host: `host: Debian 12, cgroup v1, Docker 28.2.2 (docker.io, rootful), user alice (docker group)`. */
export function describeHost(f: HostFacts, e: EngineFacts): string {
  const engine = e.answers
    ? `Docker ${e.serverVersion} (${e.flavour}, ${e.remote ? "remote" : e.rootless ? "rootless" : "rootful"})`
    : `Docker ${e.cli ? "not answering" : "not installed"}`;
  const user = f.user.root ? "user root" : `user ${f.user.name}${f.user.dockerGroup ? " (docker group)" : " (not in the docker group)"}`;
  return `host: ${f.os}, cgroup v${f.cgroup}, ${engine}, ${user}`;
}
