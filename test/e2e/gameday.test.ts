import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadAll } from "../../harness/engine/registry.js";
import { drawScenario } from "../../harness/gameday/draw.js";
import { chromiumDom, findChromium, leftovers, until } from "./helpers.js";
import { ensureTmux, tmuxSession, type TmuxSession } from "./tmux.js";

/**
 * Game days as a person plays them: the game in one tmux window, the recording shell in another, keys typed
 * with send-keys and the screen read with capture-pane. One control-plane incident and one workload incident,
 * drawn by difficulty and tag with a fixed seed (the test knows which; the player is not told).
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let t: TmuxSession | undefined;
const screen = (w: number) => t!.screen(w);
const type = (w: number, text: string) => t!.type(w, text);
const seen = (w: number, what: RegExp | string, budgetMs: number) => t!.seen(w, what, budgetMs);

let chromium = "";
beforeAll(() => {
  ensureTmux();
  chromium = findChromium();
}, 10 * 60_000);

afterEach((x) => {
  // A failed game day shows what both windows showed.
  if (x.task.result?.state === "fail") process.stderr.write(`${t?.dump() ?? ""}\n`);
  t?.kill();
  t = undefined;
});

/** Starts the game in window 0 of a fresh tmux session; returns the drawn run's id once the player is paged. */
async function startGame(args: string[]): Promise<string> {
  t = tmuxSession(`aftershock-gd-${process.pid}`, root);
  type(0, `AFTERSHOCK_GAMEDAY_HINT_EVERY=25s AFTERSHOCK_GAMEDAY_POLL=3s pnpm gameday ${args.join(" ")}`);
  await seen(0, /^PAGE: /m, 10 * 60_000);
  await seen(0, "Open a shell: pnpm gameday shell", 5_000);
  return /run ([0-9a-f]{8})\. You will be paged/.exec(screen(0))![1]!;
}

/** The recording shell in window 1, as the page says to open it. */
async function openShell(): Promise<void> {
  t!.newWindow();
  type(1, "pnpm gameday shell");
  await seen(1, "Game day shell", 60_000);
}

/** What the game printed up to the page: a briefing that must not name the incident. */
function briefing(): string {
  const s = screen(0);
  return s.slice(0, s.indexOf("Open a shell:"));
}

/** After the game: the debrief's path, its HTML as Chromium renders it, and nothing of the run left in Docker. */
async function debrief(runId: string): Promise<{ text: string; dom: string }> {
  await seen(0, /^debrief: \S+/m, 10 * 60_000);
  const file = /^debrief: (\S+)/m.exec(screen(0))![1]!;
  const html = path.resolve(root, file);
  expect(existsSync(html)).toBe(true);
  expect(chromium, "chromium is installed (as root the test installs Debian's package)").not.toBe("");
  const dom = chromiumDom(chromium, html);
  await until(async () => (await leftovers(runId)).length === 0, 3 * 60_000, "the game's cluster removed");
  return { text: readFileSync(html, "utf8"), dom };
}

describe("a game day in tmux", () => {
  it("control plane (easy, seed 0): paged without the cause, hints by time and on request, the fix detected by itself, the commands in the debrief", async () => {
    const drawn = drawScenario(await loadAll(), { difficulty: "easy" }, 0).scenario;
    expect(drawn.id).toBe("controllers-down");
    const runId = await startGame(["--difficulty", "easy", "--seed", "0"]);
    for (const leak of [drawn.id, "controller-manager", "controller manager", "scheduler", drawn.title]) expect(briefing()).not.toContain(leak);

    await seen(0, /^HINT 1\/\d+: .*came by itself, free/m, 90_000);
    t!.key(0, "h");
    await seen(0, /^HINT 2\/\d+: .*−15 points/m, 10_000);

    await openShell();
    type(1, "kubectl get pods -n kube-system");
    await seen(0, "> kubectl get pods -n kube-system", 15_000);
    type(1, "node-shell control-plane");
    await seen(1, /root@control-plane:/, 30_000);
    type(1, "ls /etc/kubernetes/manifests /etc/kubernetes/aftershock-stopped");
    type(1, "mv /etc/kubernetes/aftershock-stopped/*.yaml /etc/kubernetes/manifests/");
    type(1, "exit");
    // Nothing is pressed in the game's window: verification, polled in the background, declares the recovery.
    await seen(0, /^RECOVERED after \d\d:\d\d/m, 5 * 60_000);

    const d = await debrief(runId);
    for (const cmd of ["kubectl get pods -n kube-system", "mv /etc/kubernetes/aftershock-stopped/*.yaml /etc/kubernetes/manifests/"]) {
      expect(d.dom).toContain(cmd.replace(/>/g, "&gt;"));
    }
    expect(d.dom).toContain("controllers-down");
    // One hint asked for (h), the others came with time (one, or more on a slow machine): only the asked one costs points.
    expect(screen(0)).toMatch(/^ {2}hints: +1 asked, (1 came by itself|[2-9] came by themselves) \(of \d+\)/m);
    expect(screen(0)).toMatch(/^ {2}score: +\d+ \(100 − 15 × 1 hint/m);
  });

  it("workload (tag workload, seed 5): the OOMKilled JVM, fixed with the budget the runbook gives, recovery detected by itself", async () => {
    const drawn = drawScenario(await loadAll(), { tag: "workload" }, 5).scenario;
    expect(drawn.id).toBe("oomkilled-jvm");
    const fix = drawn.runbook.find((s) => s.title === "split the limit into a budget the JVM enforces")!.shows;
    // Shown as the step runs it (harness/kit/commands.ts quotes a value with spaces in single quotes), typed as is.
    expect(fix).toMatch(/^kubectl set env deployment\/ledger JAVA_OPTS='[^']+'$/);
    const runId = await startGame(["--tag", "workload", "--seed", "5"]);
    for (const leak of [drawn.id, "OOMKilled", "MaxDirectMemorySize", "direct buffer"]) expect(briefing()).not.toContain(leak);

    await openShell();
    type(1, "kubectl get pods");
    await seen(0, "> kubectl get pods", 15_000);
    type(1, "kubectl describe pod -l app=ledger | grep -A4 'Last State'");
    type(1, fix);
    await seen(0, `> ${fix}`, 15_000);
    await seen(0, /^RECOVERED after \d\d:\d\d/m, 6 * 60_000);

    const d = await debrief(runId);
    expect(d.dom).toContain("kubectl describe pod -l app=ledger");
    expect(d.dom).toContain("JAVA_OPTS=");
    expect(d.dom).toContain("oomkilled-jvm");
    expect(d.text).not.toContain("data lost");
  });
});
