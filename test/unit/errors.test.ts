import { describe, expect, it } from "vitest";
import { AftershockError, asDuration, CommandError, formatDuration, parseDuration } from "../../clusters/errors.js";
import { run } from "../../clusters/exec.js";

describe("durations", () => {
  it("parses the budgets scenarios and flags use", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
  });
  it("rejects anything else with a one-line error", () => {
    for (const bad of ["", "5", "five minutes", "5m junk", "-3s"]) {
      expect(() => parseDuration(bad)).toThrowError(AftershockError);
    }
  });
  it("checks a flag's text as a duration, keeping the text (cluster create --wait 1h30m)", () => {
    expect(asDuration("1h30m")).toBe("1h30m");
    expect(() => asDuration("5")).toThrow(/^not a duration: "5"/);
  });
  it("formats for humans", () => {
    expect(formatDuration(420)).toBe("420ms");
    expect(formatDuration(12_340)).toBe("12.3s");
    expect(formatDuration(185_000)).toBe("3m05s");
    expect(formatDuration(3_900_000)).toBe("1h05m");
  });
});

describe("run()", () => {
  it("returns output of a successful command", async () => {
    const r = await run("sh", ["-c", "echo out; echo err >&2"]);
    expect(r.stdout).toBe("out");
    expect(r.stderr).toBe("err");
    expect(r.exitCode).toBe(0);
  });
  it("turns a non-zero exit into a CommandError with command, exit code and stderr tail", async () => {
    const e = await run("sh", ["-c", "echo first >&2; echo 'bind: address already in use' >&2; exit 3"]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CommandError);
    const ce = e as CommandError;
    expect(ce.code).toBe("E_COMMAND");
    expect(ce.exitCode).toBe(3);
    expect(ce.command).toBe("sh -c 'echo first >&2; echo '\\''bind: address already in use'\\'' >&2; exit 3'");
    expect(ce.stderrTail).toContain("bind: address already in use");
    expect(ce.message).toMatch(/exited 3 after \d+ms: first \| bind: address already in use/);
  });
  it("kills a command that exceeds its budget and names the budget", async () => {
    const e = (await run("sleep", ["5"], { timeout: "300ms" }).catch((x: unknown) => x)) as CommandError;
    expect(e).toBeInstanceOf(CommandError);
    expect(e.code).toBe("E_TIMEOUT");
    expect(e.budgetMs).toBe(300);
    expect(e.message).toContain("did not finish within 300ms");
  });
  it("reports a missing binary as exit 127", async () => {
    const e = (await run("no-such-binary-aftershock", []).catch((x: unknown) => x)) as CommandError;
    expect(e.exitCode).toBe(127);
    expect(e.message).toContain("command not found");
  });
  it("streams lines to onLine as they arrive", async () => {
    const seen: string[] = [];
    await run("sh", ["-c", "echo a; echo b >&2; echo c"], { onLine: (l) => seen.push(l) });
    expect(seen.sort()).toEqual(["a", "b", "c"]);
  });
});

describe("sh: shell text with quoted values (zx's $)", () => {
  it("quotes what it interpolates, joins arrays as words, and leaves raw() text alone", async () => {
    const { sh, raw, quote } = await import("../../clusters/exec.js");
    expect(sh`etcdctl member remove ${"c63fc327fd7550b9"}`).toBe("etcdctl member remove c63fc327fd7550b9");
    expect(sh`rm -f ${"/tmp/a b"} ${["x", "it's"]}`).toBe("rm -f '/tmp/a b' x 'it'\\''s'");
    expect(sh`${raw("ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379")} endpoint health`).toBe(
      "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 endpoint health",
    );
    expect(quote("$(reboot)")).toBe("'$(reboot)'");
  });
});
