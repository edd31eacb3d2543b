import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { installScript, lddLibraries, sshdBundle, sshdConfig, sshdUnit, startForwarder, wrapperScript } from "../e2e/ssh-machines.js";

/**
 * The test bed's sshd (test/e2e/ssh-machines.ts) without a cluster: this host's sshd bundled with its libraries and
 * loader, started through its wrapper on 127.0.0.1 as the nodes start it, answering two connections (sshd re-executes
 * itself through the wrapper for each), with sessions that run this machine's own shell and libraries, none of the
 * bundle's. Needs /usr/sbin/sshd and ssh, ssh-keygen (openssh-server, openssh-client); skipped with the reason without.
 */

const SSHD = "/usr/sbin/sshd";
const missing = !existsSync(SSHD)
  ? "sshd is not installed (apt-get install openssh-server)"
  : (() => {
      try {
        execFileSync("sh", ["-c", "command -v ssh && command -v ssh-keygen && command -v ldd"], { stdio: "ignore" });
        return "";
      } catch {
        return "ssh, ssh-keygen or ldd is not installed";
      }
    })();
if (missing) process.stdout.write(`ssh-machines-bundle.test.ts: skipped, ${missing}\n`);

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });

describe("the test bed's pieces, read", () => {
  it("ldd's lines: libraries by their names, the loader, vdso left out; a missing library is an error", () => {
    const out = `\tlinux-vdso.so.1 (0x00007ffd4b5f2000)
\tlibcrypt.so.1 => /lib/x86_64-linux-gnu/libcrypt.so.1 (0x00007f9d85d68000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f9d8541e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f9d85ef1000)
`;
    expect(lddLibraries(out)).toEqual({
      libraries: [
        { name: "libcrypt.so.1", file: "/lib/x86_64-linux-gnu/libcrypt.so.1" },
        { name: "libc.so.6", file: "/lib/x86_64-linux-gnu/libc.so.6" },
      ],
      loader: "/lib64/ld-linux-x86-64.so.2",
    });
    expect(() => lddLibraries("\tlibwrap.so.0 => not found\n")).toThrow(/libwrap\.so\.0 => not found/);
  });

  it("the wrapper starts the program with the bundled loader and libraries, as its own path; the unit restarts it and leaves sessions alone", () => {
    expect(wrapperScript("sshd", "ld-linux-x86-64.so.2")).toContain(
      'exec "$d/lib/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$d/lib" --argv0 "$0" "$d/bin/sshd" "$@"',
    );
    expect(sshdUnit()).toMatch(/^ExecStart=\/opt\/aftershock\/sshd\/sshd -D -e -f \/opt\/aftershock\/sshd\/sshd_config$/m);
    expect(sshdUnit()).toMatch(/^KillMode=process$/m);
    expect(sshdUnit()).toMatch(/^RuntimeDirectory=sshd$/m);
    expect(sshdUnit()).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(sshdConfig(["sshd"])).toMatch(/^PermitRootLogin prohibit-password$/m);
    expect(sshdConfig(["sshd"])).not.toMatch(/SshdSessionPath/);
    expect(sshdConfig(["sshd", "sshd-session"])).toMatch(/^SshdSessionPath \/opt\/aftershock\/sshd\/sshd-session$/m);
  });

  it("the install script parses (bash -n) and holds the unit as written", () => {
    execFileSync("bash", ["-n"], { input: installScript() });
    expect(installScript()).toContain(sshdUnit());
    expect(installScript()).toMatch(/useradd --system --no-create-home --home-dir \/run\/sshd --shell \/usr\/sbin\/nologin sshd/);
  });
});

// Without sshd every test is reported as skipped with why (a describe.skipIf would say no reason in the summary).
describe("this host's sshd, bundled, answering on 127.0.0.1 through its wrapper", () => {
  beforeEach((t) => {
    if (missing) t.skip(missing);
  });
  let dir: string;
  let sshd: ChildProcess;
  let port: number;
  let log = "";
  const sshArgs = (command: string, to = port) => [
    ...["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", `UserKnownHostsFile=${dir}/known_hosts`, "-o", "IdentitiesOnly=yes"],
    ...["-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=3"],
    ...[
      "-o",
      "ControlMaster=no",
      "-o",
      "LogLevel=ERROR",
      "-i",
      path.join(dir, "user_key"),
      "-p",
      String(to),
      `${os.userInfo().username}@127.0.0.1`,
      "--",
      command,
    ],
  ];
  const ssh = (command: string) => execFileSync("ssh", sshArgs(command), { encoding: "utf8", timeout: 120_000 });

  beforeAll(async () => {
    if (missing) return;
    dir = mkdtempSync(path.join(os.tmpdir(), "as-bundle-"));
    const b = sshdBundle(dir, dir);
    expect(b.programs).toContain("sshd");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "ssh_host_ed25519_key")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "user_key")]);
    writeFileSync(path.join(dir, "authorized_keys"), readFileSync(path.join(dir, "user_key.pub")));
    port = await freePort();
    writeFileSync(path.join(dir, "sshd_config"), sshdConfig(b.programs, { dir, port, listen: "127.0.0.1", pidFile: path.join(dir, "sshd.pid") }));
    // Privilege separation wants this directory when sshd runs as root (the unit's RuntimeDirectory on a node).
    if (process.getuid?.() === 0) execFileSync("mkdir", ["-p", "/run/sshd"]);
    sshd = spawn(path.join(dir, "sshd"), ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    sshd.stderr!.on("data", (b: Buffer) => (log += b.toString()));
    // Until it answers or exits: no count of tries (on a busy machine 10 s of them can be too few); the hook's
    // timeout is the hang guard.
    for (;;) {
      const up = await new Promise<boolean>((r) => {
        const c = net.connect(port, "127.0.0.1", () => {
          c.end();
          r(true);
        });
        c.on("error", () => r(false));
      });
      if (up) break;
      if (sshd.exitCode !== null || sshd.signalCode !== null) throw new Error(`the bundled sshd did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 180_000);

  afterAll(() => {
    sshd?.kill("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs on the bundle's libraries, and answers one connection after another (each re-executed through the wrapper)", () => {
    expect(ssh("echo one")).toBe("one\n");
    expect(ssh("echo two")).toBe("two\n");
    // The listening sshd maps the bundle's libc, loaded by the bundle's loader.
    const maps = readFileSync(`/proc/${sshd.pid}/maps`, "utf8");
    expect(maps).toContain(path.join(dir, "lib", "libc.so.6"));
    // The sshd serving a session (the session shell's parent) was re-executed through the wrapper: it runs on the
    // bundle's loader and libc, not on this machine's (which is what a node's would be).
    const parent = ssh('readlink /proc/$PPID/exe; grep -c "' + path.join(dir, "lib", "libc.so.6") + '" /proc/$PPID/maps')
      .trim()
      .split("\n");
    expect(parent[0]).toBe(path.join(dir, "lib", path.basename(lddLibraries(execFileSync("ldd", [SSHD], { encoding: "utf8" })).loader!)));
    expect(Number(parent[1])).toBeGreaterThan(0);
  });

  it("a session runs this machine's own shell and libraries: nothing of the bundle, no LD_LIBRARY_PATH", () => {
    const out = ssh('echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH-unset}"; grep -c "' + dir + '" /proc/$$/maps || true');
    expect(out).toBe("LD_LIBRARY_PATH=unset\n0\n");
  });

  it("the forwarder relays to where the target is now; cut drops the open connection and refuses new ones; restore lets them through", async () => {
    await using fwd = await startForwarder(["box", "gone"], async (t) => (t === "box" ? { host: "127.0.0.1", port } : undefined));
    // Asynchronously: the forwarder relays in this process, which a synchronous child would block.
    const sshVia = (command: string, to: number) =>
      new Promise<{ status: number | null; stdout: string }>((r) => {
        let stdout = "";
        const c = spawn("ssh", sshArgs(command, to), { stdio: ["ignore", "pipe", "ignore"] });
        c.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
        c.on("exit", (status) => r({ status, stdout }));
      });
    const through = (command: string) => sshVia(command, fwd.ports.box!);
    expect((await through("echo through")).stdout).toBe("through\n");
    expect(fwd.connections.box).toBe(1);
    // A target that is nowhere now (a node whose container restarts): the connection is closed, ssh fails (255).
    expect((await sshVia("true", fwd.ports.gone!)).status).toBe(255);
    // A session open when the network is cut ends (255) at once, not when its command would have: while the same
    // command started just before it, not through the forwarder, still runs (no wall-clock bound, which a busy
    // machine would break: the two sessions' commands are the measure).
    const direct = spawn("ssh", sshArgs("sleep 30"), { stdio: "ignore" });
    const directEnded = new Promise((r) => direct.on("exit", r));
    const viaFwd = sshVia("sleep 30", fwd.ports.box!);
    await new Promise((r) => setTimeout(r, 1500));
    fwd.cut();
    expect((await viaFwd).status).toBe(255);
    expect([direct.exitCode, direct.signalCode], "the session not through the forwarder still runs").toEqual([null, null]);
    expect((await through("true")).status).toBe(255);
    expect(fwd.refused.box).toBeGreaterThan(0);
    fwd.restore();
    expect((await through("echo again")).stdout).toBe("again\n");
    // A session that does not go through the forwarder was not cut.
    expect(direct.exitCode).toBeNull();
    direct.kill();
    await directEnded;
  }, 180_000);
});
