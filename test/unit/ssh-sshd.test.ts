import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { nodeCommand, type NodeCommandRecord } from "../../clusters/contract.js";
import { CommandError } from "../../clusters/errors.js";
import { armDeadman, deadmanUnit } from "../../clusters/ssh/deadman.js";
import { nodeCommands, onNodeFunction } from "../../harness/gameday/shell.js";
import type { InventoryNode } from "../../clusters/ssh/inventory.js";
import { closeSshSession, masterPid, openSshSession, sshNode, type SshSession } from "../../clusters/ssh/ssh-node.js";

/**
 * The ssh node shell against a real OpenSSH server on 127.0.0.1 (a throwaway host key, user key and config in a
 * temp dir; the system's sshd and /etc/ssh are not touched). Needs /usr/sbin/sshd (Debian: openssh-server) and
 * ssh, ssh-keygen (openssh-client); without them the file is skipped and says why.
 */

const SSHD = ["/usr/sbin/sshd", "/usr/bin/sshd"].find((f) => existsSync(f));
const haveClient = (() => {
  try {
    execFileSync("ssh", ["-V"], { stdio: "ignore" });
    execFileSync("sh", ["-c", "command -v ssh-keygen"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const missing = !SSHD ? "sshd is not installed (apt-get install openssh-server)" : !haveClient ? "ssh or ssh-keygen is not installed (openssh-client)" : "";
if (missing) process.stdout.write(`ssh-sshd.test.ts: skipped, ${missing}\n`);

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process is gone (a zombie left to a PID 1 that does not reap counts as gone). */
const gone = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
};

// Without sshd every test is reported as skipped with why (a describe.skipIf would say no reason in the summary).
describe("ssh node shell against a real sshd on 127.0.0.1", () => {
  let dir: string;
  let sshd: ChildProcess;
  let node: InventoryNode;
  let session: SshSession;
  beforeEach((t) => {
    if (missing) t.skip(missing);
  });

  beforeAll(async () => {
    if (missing) return;
    dir = mkdtempSync(path.join(os.tmpdir(), "as-sshd-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "user_key")]);
    writeFileSync(path.join(dir, "authorized_keys"), readFileSync(path.join(dir, "user_key.pub")));
    const port = await freePort();
    writeFileSync(
      path.join(dir, "sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${dir}/host_key`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        "PrintMotd no",
        // A session's processes are left alone when its connection ends (as on most hosts: no logind here).
        "",
      ].join("\n"),
    );
    // Privilege separation wants this directory when sshd runs as root.
    if (process.getuid?.() === 0) execFileSync("mkdir", ["-p", "/run/sshd"]);
    sshd = spawn(SSHD!, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    sshd.stderr!.on("data", (b: Buffer) => (log += b.toString()));
    // Until it answers or exits: no count of tries (5 s of them were too few beside a busy CI); the hook's timeout
    // is the hang guard.
    for (;;) {
      const up = await new Promise<boolean>((r) => {
        const c = net.connect(port, "127.0.0.1", () => {
          c.end();
          r(true);
        });
        c.on("error", () => r(false));
      });
      if (up) break;
      if (sshd.exitCode !== null || sshd.signalCode !== null) throw new Error(`sshd did not start: ${log}`);
      await sleep(100);
    }
    node = { name: "box", host: "127.0.0.1", port, user: os.userInfo().username, key: path.join(dir, "user_key"), sudo: false };
    session = await openSshSession("t3st", { parent: dir, persist: "60s" });
  }, 180_000);

  afterAll(async () => {
    if (session) await closeSshSession(session, [node]);
    sshd?.kill("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("exec runs argv word for word (quoting survives the remote shell), and reuses one master connection", async () => {
    const h = sshNode(node, "worker", session);
    const r = await h.exec(["printf", "%s|", "a b", "it's", "$HOME", "*", ""], { timeout: "20s" });
    expect(r.stdout).toBe("a b|it's|$HOME|*||");
    expect(r.command).toMatch(/^ssh \S+@127\.0\.0\.1:\d+ printf/);
    const pid = await masterPid(node, session);
    expect(pid).toBeGreaterThan(0);
    await h.exec(["true"]);
    expect(await masterPid(node, session)).toBe(pid);
    // The run's known_hosts learned the host key on first use.
    expect(readFileSync(session.knownHosts, "utf8")).toMatch(/ssh-ed25519/);
  });

  it("every command is heard as it ended, with where it went (what the run's journal lists)", async () => {
    const heard: NodeCommandRecord[] = [];
    const h = sshNode(node, "worker", session, (c) => heard.push(c));
    await h.exec(["true"]);
    await h.sh("exit 4", { allowFailure: true });
    await h.exec(["false"]).catch(() => undefined);
    expect(heard.map((c) => [c.node, c.command.replace(/:\d+ /, ":PORT "), c.exitCode])).toEqual([
      ["box", `ssh ${node.user}@127.0.0.1:PORT true`, 0],
      ["box", `ssh ${node.user}@127.0.0.1:PORT bash -c 'exit 4'`, 4],
      ["box", `ssh ${node.user}@127.0.0.1:PORT false`, 1],
    ]);
    expect(heard.every((c) => c.elapsedMs >= 0)).toBe(true);
  });

  it("sh runs a bash script with stdin", async () => {
    const h = sshNode(node, "worker", session);
    const r = await h.sh(`set -euo pipefail; read -r line; echo "got [$line]"; echo "$(( 6 * 7 ))"`, { input: "one 'two' \"three\"\n" });
    expect(r.stdout).toBe(`got [one 'two' "three"]\n42`);
  });

  it("a non-zero exit is a CommandError with the node's command, the exit code and the stderr tail", async () => {
    const h = sshNode(node, "worker", session);
    const e = await h.sh("echo to-stdout; echo broke-here >&2; exit 7").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CommandError);
    const c = e as CommandError;
    expect(c.exitCode).toBe(7);
    expect(c.stderrTail).toContain("broke-here");
    expect(c.command).toMatch(/^ssh \S+@127\.0\.0\.1:\d+ bash -c /);
    expect(c.message).toMatch(/exited 7 after .*broke-here/);
    expect((await h.sh("exit 3", { allowFailure: true })).exitCode).toBe(3);
  });

  it("a command past its budget is an E_TIMEOUT CommandError with elapsed and budget", async () => {
    const h = sshNode(node, "worker", session);
    const e = (await h.exec(["sleep", "31.5"], { timeout: "1500ms" }).catch((x: unknown) => x)) as CommandError;
    expect(e).toBeInstanceOf(CommandError);
    expect(e.code).toBe("E_TIMEOUT");
    expect(e.budgetMs).toBe(1500);
    expect(e.elapsedMs).toBeGreaterThanOrEqual(1500);
    // Ended by the budget, not by the command: how soon after 1.5 s depends on the machine's load, so the bound is
    // the command's own length.
    expect(e.elapsedMs).toBeLessThan(31_500);
    // The node's timeout ended the remote command too (the "node" is this machine): nothing is left sleeping.
    expect(spawnSync("pgrep", ["-fx", "sleep 31.5"]).status).toBe(1);
  });

  it("a machine that does not answer is exit 255 within the connect timeout", async () => {
    const gone = { ...node, port: await freePort() };
    await using closed = new AsyncDisposableStack();
    const s = await openSshSession("t3st", { parent: dir, connectTimeoutS: 3 });
    closed.defer(() => closeSshSession(s, [gone]));
    const e = (await sshNode(gone, "worker", s)
      .exec(["true"])
      .catch((x: unknown) => x)) as CommandError;
    expect(e.exitCode).toBe(255);
    expect(e.message).toMatch(/ssh: no connection/);
  });

  it("with sudo, the command goes through sudo -n (composed here; this user needs none)", () => {
    const h = sshNode({ ...node, sudo: true }, "worker", session);
    const line = h.shellCommand!("tty");
    expect(line.words).toBe("shell-line");
    expect(line.argv.slice(-4)).toEqual(["--", "sudo", "-n", "--"]);
    expect(line.argv).toContain("-t");
    expect(nodeCommand(line, ["bash", "--rcfile", "/x y/rc", "-i"]).at(-1)).toBe("bash --rcfile '/x y/rc' -i");
  });

  it("a person's command line (shellCommand) runs on the node as exec does", () => {
    const line = sshNode(node, "worker", session).shellCommand!("stdin");
    const argv = nodeCommand(line, ["sh", "-c", 'cat; echo "[$0]"', "x y"]);
    const out = execFileSync(argv[0]!, argv.slice(1), { input: "piped\n", encoding: "utf8" });
    expect(out).toBe("piped\n[x y]\n");
  });

  it("the game shell's __as_on_node reaches the node through ssh: argv word for word, piped input (the rc copy)", () => {
    const h = sshNode(node, "worker", session);
    const rc = path.join(dir, "on-node.sh");
    writeFileSync(rc, `__as_node_names=(box)\n${onNodeFunction([{ name: "box", short: "box", role: "worker", commands: nodeCommands(h)! }])}`);
    const words = spawnSync("bash", ["-c", `source ${rc}; __as_on_node 0 none printf '%s|' "a b" "it's" '$HOME' '*' ""`], { encoding: "utf8" });
    expect(words.stdout).toBe("a b|it's|$HOME|*||");
    const copied = path.join(dir, "copied rc");
    const piped = spawnSync("bash", ["-c", `source ${rc}; __as_on_node 0 stdin sh -c "cat >'${copied}'"`], { input: "PS1='x'\n", encoding: "utf8" });
    expect(piped.status).toBe(0);
    expect(readFileSync(copied, "utf8")).toBe("PS1='x'\n");
  });

  describe("deadman switch", () => {
    it("fires when the connection is cut: the master ssh is killed, the undo still runs on the node after N seconds", async () => {
      const h = sshNode(node, "worker", session);
      const marker = path.join(dir, "undone-cut");
      const d = await armDeadman(h, { runId: "t3st", tag: "cut", seconds: 3, undo: `echo undone >${marker}`, mode: "sleep", dir: path.join(dir, "deadman") });
      expect(d.how).toMatch(/^sleep \d+$/);
      const pid = await masterPid(node, session);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid!, "SIGKILL");
      while (!gone(pid!)) await sleep(50);
      expect(await masterPid(node, session)).toBeUndefined();
      // The undo comes by itself: when depends on the machine's load, so it is waited for (the test's timeout is the
      // hang guard), never a number of tries. That it came no sooner than the N seconds is read from the node's own
      // clock, not this process's: the marker was written 3 s or more after the arm wrote the timer's script.
      while (!existsSync(marker)) await sleep(100);
      expect(readFileSync(marker, "utf8")).toBe("undone\n");
      const script = path.join(dir, "deadman", `${deadmanUnit({ runId: "t3st", tag: "cut" })}.sh`);
      expect(statSync(marker).mtimeMs - statSync(script).mtimeMs).toBeGreaterThanOrEqual(2900);
    }, 120_000);

    it("does not fire once disarmed", async () => {
      const h = sshNode(node, "worker", session);
      const marker = path.join(dir, "undone-disarmed");
      // The mode the node picks by itself: systemd-run where systemd runs the machine, else the sleep.
      // 60 s: the disarm must arrive before the timer, and its ssh round trip beside a busy CI (load 28) took longer
      // than 2 s. The sleep's timer is its pid: once the disarm has stopped it (or it fired), the marker is looked
      // for; a systemd timer is waited out.
      const armedAt = Date.now();
      const d = await armDeadman(h, { runId: "t3st", tag: "disarm", seconds: 60, undo: `echo undone >${marker}`, dir: path.join(dir, "deadman") });
      expect(d.how).toMatch(existsSync("/run/systemd/system") ? /^systemd aftershock-deadman-t3st-disarm$/ : /^sleep \d+$/);
      await d.disarm();
      await d.disarm(); // harmless to repeat
      const timer = /^sleep (\d+)$/.exec(d.how)?.[1];
      if (timer) while (!gone(Number(timer))) await sleep(100);
      else await sleep(Math.max(0, armedAt + 61_500 - Date.now()));
      expect(existsSync(marker)).toBe(false);
    }, 180_000);
  });
});
