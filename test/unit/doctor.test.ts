import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  changesNeeded,
  goOlderThan,
  installShim,
  missingBoundingCapabilities,
  missingPackages,
  parseGoVersion,
  planHost,
  readRecord,
  shimScript,
  SHIM_RUNTIME,
  undoHostChanges,
  type HostPaths,
  type HostState,
} from "../../clusters/host/doctor.js";
import { findOnPath } from "../../clusters/exec.js";
import { describeHost, extendedPath, parseDockerInfo, type EngineFacts, type HostFacts } from "../../clusters/host/facts.js";
import { defaultCacheDir, mmdebstrapArgs } from "../../clusters/images/builder.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { MIN_GO } from "../../clusters/versions.js";

describe("capability detection", () => {
  it("finds CAP_SYS_RESOURCE missing from the bounding set this project's hosts have", () => {
    // CapBnd as read on the CI machine: every capability up to 40 except bit 24.
    expect(missingBoundingCapabilities("Name:\tx\nCapBnd:\t000001fffeffffff\n", 40)).toEqual(["CAP_SYS_RESOURCE"]);
  });
  it("finds nothing missing on a full set", () => {
    expect(missingBoundingCapabilities("CapBnd:\t000001ffffffffff\n", 40)).toEqual([]);
  });
  it("only counts capabilities the kernel knows", () => {
    expect(missingBoundingCapabilities("CapBnd:\t0000003fffffffff\n", 37)).toEqual([]);
  });
});

describe("runtime shim", () => {
  it("removes the dropped capability from a bundle's config.json and an exec process spec, then runs runc with the same arguments", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "shim-test-"));
    const fakeRunc = path.join(dir, "runc");
    writeFileSync(fakeRunc, `#!/bin/sh\necho "$@" > ${dir}/args\n`);
    chmodSync(fakeRunc, 0o755);
    const shim = path.join(dir, "shim");
    writeFileSync(shim, shimScript(["CAP_SYS_RESOURCE"], fakeRunc));
    chmodSync(shim, 0o755);
    const caps = '["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_SYS_TIME"]';
    const last = '["CAP_CHOWN","CAP_SYS_RESOURCE"]';
    writeFileSync(path.join(dir, "config.json"), `{"process":{"capabilities":{"bounding":${caps},"effective":${last},"permitted":["CAP_SYS_RESOURCE"]}}}`);
    execFileSync(shim, ["--root", "/x", "create", "--bundle", dir, "cid"]);
    const cfg = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as { process: { capabilities: Record<string, string[]> } };
    expect(cfg.process.capabilities).toEqual({ bounding: ["CAP_CHOWN", "CAP_SYS_TIME"], effective: ["CAP_CHOWN"], permitted: [] });
    expect(readFileSync(path.join(dir, "args"), "utf8").trim()).toBe(`--root /x create --bundle ${dir} cid`);

    const proc = path.join(dir, "process.json");
    writeFileSync(proc, `{"capabilities":{"bounding":${caps}}}`);
    execFileSync(shim, ["exec", "--process", proc, "cid"]);
    expect(JSON.parse(readFileSync(proc, "utf8"))).toEqual({ capabilities: { bounding: ["CAP_CHOWN", "CAP_SYS_TIME"] } });
  });
});

describe("local Go version against the builder's minimum", () => {
  it("compares in Go's order, numerically: language version < prereleases < releases < patches", () => {
    const order = [
      "1.9",
      "1.9.2",
      "1.21.0",
      "1.25.9",
      "1.26",
      "1.26alpha1",
      "1.26beta2",
      "1.26rc1",
      "1.26rc2",
      "1.26.0",
      "1.26.8",
      "1.26.10",
      "1.100.0",
      "2.0.0",
    ];
    for (const [i, a] of order.entries()) {
      for (const [j, b] of order.entries()) expect(goOlderThan(a, b), `${a} < ${b}`).toBe(i < j);
    }
  });

  it("reads `go env GOVERSION` output against MIN_GO (1.26.0, set by Helm's module)", () => {
    expect(MIN_GO).toEqual({ version: "1.26.0", neededBy: "helm.sh/helm/v3 v3.22.0" });
    for (const old of ["go1.9", "go1.22.12", "go1.25.9", "go1.26rc1", "go1.26beta1 X:nocoverageredesign"])
      expect(goOlderThan(old, MIN_GO.version), old).toBe(true);
    for (const ok of ["go1.26.0", "go1.26.8", "go1.27.1 X:boringcrypto", "devel go1.27-4f6e8c2 Tue Jan 2 15:04:05 2026 +0000"]) {
      expect(goOlderThan(ok, MIN_GO.version), ok).toBe(false);
    }
  });

  it("does not guess at what is not a Go version", () => {
    for (const v of ["", "unknown", "go", "1.26.0rc1", "gccgo 14"]) expect(parseGoVersion(v), v).toBeUndefined();
    expect(goOlderThan("unknown", MIN_GO.version)).toBeUndefined();
  });
});

const silent = new RecordingProgress();
const baseFacts: HostFacts = { cgroup: 1, user: { uid: 0, name: "root", root: true, dockerGroup: false }, os: "Debian 12", pathAdded: [] };
const answering: EngineFacts = {
  cli: "/usr/bin/docker",
  dockerd: "/usr/sbin/dockerd",
  answers: true,
  registryMirrors: [],
  serverVersion: "20.10.24+dfsg1",
  defaultRuntime: SHIM_RUNTIME,
  runtimes: ["runc", SHIM_RUNTIME],
  flavour: "docker.io",
  rootless: false,
  remote: false,
};
/** A configured host: engine answering with the shim, every tool, sysctls high enough. */
function hostState(o: Partial<HostState> = {}): HostState {
  return {
    facts: baseFacts,
    engine: answering,
    apt: true,
    missingCaps: ["CAP_SYS_RESOURCE"],
    daemonDefaultRuntime: SHIM_RUNTIME,
    shimPresent: true,
    sysctls: { "fs.inotify.max_user_instances": 512, "fs.inotify.max_user_watches": 524288 },
    missingPackages: [],
    go: "go1.26.8",
    ...o,
  };
}
const kinds = (s: HostState) => planHost(s).changes.map((c) => c.kind);

describe("the doctor's plan", () => {
  it("is empty on a configured host", () => {
    expect(planHost(hostState())).toEqual({ changes: [], blockers: [] });
  });

  it("never installs an engine when docker info answers, even without dockerd on PATH (Docker Desktop, a remote or rootless engine)", () => {
    const desktop: EngineFacts = { ...answering, dockerd: undefined, flavour: "Docker Desktop", defaultRuntime: "runc" };
    expect(planHost(hostState({ engine: desktop }))).toEqual({ changes: [], blockers: [] });
    const rootless: EngineFacts = { ...answering, rootless: true, defaultRuntime: "runc" };
    expect(kinds(hostState({ engine: rootless }))).toEqual([]);
  });

  it("installs docker.io and starts dockerd when there is no CLI, and writes the shim first when capabilities are missing", () => {
    const none: EngineFacts = {
      registryMirrors: [],
      cli: undefined,
      dockerd: undefined,
      answers: false,
      error: "the docker CLI is not installed",
      runtimes: [],
      rootless: false,
      remote: false,
    };
    const plan = planHost(hostState({ engine: none, daemonDefaultRuntime: undefined, shimPresent: false, missingPackages: ["mmdebstrap"] }));
    expect(plan.changes.map((c) => c.kind)).toEqual(["install", "runtime-shim", "start-dockerd"]);
    expect(plan.changes[0]).toMatchObject({ kind: "install", packages: ["docker.io", "mmdebstrap"], root: true });
    expect(plan.changes[1]).toMatchObject({ drop: ["CAP_SYS_RESOURCE"], reload: false });
  });

  it("only starts dockerd when the CLI and dockerd are there but no engine answers", () => {
    const down: EngineFacts = { ...answering, answers: false, error: "Cannot connect to the Docker daemon", serverVersion: undefined };
    expect(kinds(hostState({ engine: down }))).toEqual(["start-dockerd"]);
  });

  it("registers the shim with a reload on a running local engine whose default runtime is runc, and not on a full capability set", () => {
    const runc: EngineFacts = { ...answering, defaultRuntime: "runc" };
    expect(planHost(hostState({ engine: runc })).changes).toMatchObject([{ kind: "runtime-shim", reload: true }]);
    expect(kinds(hostState({ engine: runc, missingCaps: [] }))).toEqual([]);
  });

  it("raises a low sysctl from its current value", () => {
    expect(planHost(hostState({ sysctls: { "fs.inotify.max_user_instances": 128, "fs.inotify.max_user_watches": 524288 } })).changes).toEqual([
      expect.objectContaining({ kind: "sysctl", key: "fs.inotify.max_user_instances", from: 128, to: 512 }),
    ]);
  });

  it("stops on what --fix cannot do: no Go, an old Go, no apt, a socket the user may not use", () => {
    expect(planHost(hostState({ go: undefined })).blockers[0]?.message).toMatch(/Go toolchain is not installed/);
    expect(planHost(hostState({ go: "go1.25.9" })).blockers[0]?.message).toMatch(/Go ≥ 1\.26\.0/);
    expect(planHost(hostState({ apt: false, missingPackages: ["gcc"] })).blockers[0]?.message).toMatch(/gcc, and this host has no apt-get/);
    const denied: EngineFacts = { ...answering, answers: false, error: "permission denied while trying to connect to the Docker daemon socket" };
    const p = planHost(hostState({ engine: denied }));
    expect(p.changes).toEqual([]);
    expect(p.blockers[0]?.oneLine()).toMatch(/usermod -aG docker root/);
  });

  it("names the tools the offline build needs, and the test packages only for --tests", () => {
    const none = () => undefined;
    expect(missingPackages(none, () => false, false)).toEqual(["mmdebstrap", "uidmap", "gcc", "libc6-dev", "libseccomp-dev", "pkg-config", "tar"]);
    expect(missingPackages(none, () => false, true)).toContain("docker-registry");
    expect(missingPackages(none, () => false, true)).toContain("openssh-server");
    expect(
      missingPackages(
        (b) => `/usr/bin/${b}`,
        () => true,
        true,
      ),
    ).toEqual([]);
  });

  it("without fix, a host that needs changes stops with one line naming them and sudo for a user", () => {
    const changes = planHost(hostState({ sysctls: { "fs.inotify.max_user_instances": 128, "fs.inotify.max_user_watches": 8192 } })).changes;
    const e = changesNeeded(changes, false);
    expect(e.code).toBe("E_HOST_CHANGES");
    expect(e.oneLine()).toBe(
      "this host needs 2 changes (fs.inotify.max_user_instances 128→512; fs.inotify.max_user_watches 8192→524288); nothing was changed (review the plan above, then run: sudo pnpm run doctor --fix)",
    );
    expect(e.oneLine()).not.toContain("\n");
  });
});

describe("the host line", () => {
  it("names the OS, cgroup version, engine and user", () => {
    const alice = { ...baseFacts, user: { uid: 1000, name: "alice", root: false, dockerGroup: true } };
    expect(describeHost(alice, answering)).toBe("host: Debian 12, cgroup v1, Docker 20.10.24+dfsg1 (docker.io, rootful), user alice (docker group)");
    const info = parseDockerInfo(JSON.stringify({ ServerVersion: "28.2.2", OperatingSystem: "Docker Desktop", SecurityOptions: ["name=rootless"] }), undefined);
    expect(info).toMatchObject({ answers: true, flavour: "Docker Desktop", rootless: true, remote: false });
  });
});

describe("--undo", () => {
  function tempHost() {
    const dir = mkdtempSync(path.join(os.tmpdir(), "doctor-undo-"));
    const paths: HostPaths = {
      daemonJson: path.join(dir, "etc/docker/daemon.json"),
      shim: path.join(dir, "usr/local/lib/aftershock/runc-shim"),
      stateFile: path.join(dir, "var/lib/aftershock/host-changes.json"),
      sysctlDir: path.join(dir, "proc/sys"),
      dockerdLog: path.join(dir, "dockerd.log"),
      aptLock: path.join(dir, "apt.lock"),
    };
    mkdirSync(path.join(paths.sysctlDir, "fs/inotify"), { recursive: true });
    return { dir, paths };
  }

  it("restores daemon.json's previous content and the sysctl values, and removes the shim and the record", async () => {
    const { paths } = tempHost();
    const before = '{ "log-driver": "journald" }\n';
    mkdirSync(path.dirname(paths.daemonJson), { recursive: true });
    writeFileSync(paths.daemonJson, before);
    const sysctl = path.join(paths.sysctlDir, "fs/inotify/max_user_instances");
    writeFileSync(sysctl, "128\n");

    await installShim(["CAP_SYS_RESOURCE"], paths);
    const written = JSON.parse(readFileSync(paths.daemonJson, "utf8")) as Record<string, unknown>;
    expect(written).toMatchObject({ "log-driver": "journald", "default-runtime": SHIM_RUNTIME });
    expect(existsSync(paths.shim)).toBe(true);
    // As applyChange does for a sysctl: the value written and the record.
    writeFileSync(sysctl, "512");
    const rec = readRecord(paths.stateFile)!;
    writeFileSync(paths.stateFile, JSON.stringify({ ...rec, sysctls: [{ key: "fs.inotify.max_user_instances", path: sysctl, previous: 128, value: 512 }] }));

    let reloaded = 0;
    await undoHostChanges(paths, silent, async () => void reloaded++);
    expect(readFileSync(paths.daemonJson, "utf8")).toBe(before);
    expect(readFileSync(sysctl, "utf8").trim()).toBe("128");
    expect(existsSync(paths.shim)).toBe(false);
    expect(existsSync(paths.stateFile)).toBe(false);
    expect(reloaded).toBe(1);
  });

  it("removes only its own keys from a daemon.json edited since, and the file it created from nothing", async () => {
    const { paths } = tempHost();
    await installShim(["CAP_SYS_RESOURCE"], paths);
    const cfg = JSON.parse(readFileSync(paths.daemonJson, "utf8")) as Record<string, unknown>;
    writeFileSync(paths.daemonJson, JSON.stringify({ ...cfg, "log-level": "warn" }));
    await undoHostChanges(paths, silent, async () => undefined);
    expect(JSON.parse(readFileSync(paths.daemonJson, "utf8"))).toEqual({ "log-level": "warn" });

    const other = tempHost().paths;
    await installShim(["CAP_SYS_RESOURCE"], other);
    await undoHostChanges(other, silent, async () => undefined);
    expect(existsSync(other.daemonJson)).toBe(false);
  });

  it("keeps the host's own previous value when --fix runs twice", async () => {
    const { paths } = tempHost();
    mkdirSync(path.dirname(paths.daemonJson), { recursive: true });
    writeFileSync(paths.daemonJson, "{}\n");
    await installShim(["CAP_SYS_RESOURCE"], paths);
    await installShim(["CAP_SYS_RESOURCE"], paths);
    expect(readRecord(paths.stateFile)?.daemonJson?.previous).toBe("{}\n");
  });
});

describe("tools at standard places not on PATH", () => {
  it("appends the existing tool directories the PATH lacks, and finds tools there", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "doctor-path-"));
    const goBin = path.join(dir, "go", "bin");
    const sbin = path.join(dir, "sbin");
    mkdirSync(goBin, { recursive: true });
    mkdirSync(sbin);
    writeFileSync(path.join(goBin, "go"), "#!/bin/sh\n");
    chmodSync(path.join(goBin, "go"), 0o755);
    writeFileSync(path.join(sbin, "debootstrap"), "#!/bin/sh\n");
    chmodSync(path.join(sbin, "debootstrap"), 0o755);
    const p = extendedPath("/usr/bin:/bin", [goBin, sbin, path.join(dir, "absent"), "/bin"]);
    expect(p).toEqual({ value: `/usr/bin:/bin:${goBin}:${sbin}`, added: [goBin, sbin] });
    expect(findOnPath("go", "/bin")).toBeUndefined();
    expect(findOnPath("go", p.value)).toBe(path.join(goBin, "go"));
    expect(findOnPath("debootstrap", p.value)).toBe(path.join(sbin, "debootstrap"));
  });
});

describe("cache directory", () => {
  it("is AFTERSHOCK_CACHE, else $XDG_CACHE_HOME/aftershock, else ~/.cache/aftershock", () => {
    expect(defaultCacheDir({ AFTERSHOCK_CACHE: "/c" }, "/home/a")).toBe("/c");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x" }, "/home/a")).toBe("/x/aftershock");
    expect(defaultCacheDir({}, "/home/a")).toBe("/home/a/.cache/aftershock");
  });
});

describe("rootfs with mmdebstrap", () => {
  it("builds as root in a chroot and as a user in a user namespace, to a tarball, without apt caches, docs or man pages", () => {
    expect(mmdebstrapArgs(["bash"], "/c/r.tar", true)).toContain("--mode=root");
    const user = mmdebstrapArgs(["bash", "jq"], "/c/r.tar", false);
    expect(user).toContain("--mode=unshare");
    expect(user).toContain("--format=tar");
    expect(user).toContain("--include=bash,jq");
    expect(user.find((a) => a.startsWith("--customize-hook="))).toMatch(/var\/lib\/apt\/lists.*usr\/share\/doc.*usr\/share\/man/);
    expect(user.slice(-3)).toEqual(["bookworm", "/c/r.tar", "http://deb.debian.org/debian"]);
  });
});
