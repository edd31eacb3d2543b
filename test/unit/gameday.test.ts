import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { drawAnnouncement, gameNodes, gameOutcome, gameReporter } from "../../harness/cli/gameday-command.js";
import { alertLeaks, gameDayHints, renderPage, runbookHint, runbookSteps, severityOf } from "../../harness/gameday/alert.js";
import { CommandLogTail, firstCauseCommand, parseCommandLine, parseCommandLog, readCommandLog } from "../../harness/gameday/commands.js";
import { debriefHtml, debriefText, gameRecord, writeDebrief, type GameRecord } from "../../harness/gameday/debrief.js";
import { candidates, drawScenario, isGameDay, parseDifficulty, seededRandom, type GameDayScenario } from "../../harness/gameday/draw.js";
import { clock, HINT_EVERY_MS, nextAutoHintAt, PAR_MS, referenceTime, score } from "../../harness/gameday/score.js";
import { gamePace, GameSession, POLL_MS } from "../../harness/gameday/session.js";
import {
  forgetGame,
  gameFiles,
  clearNodeShellFiles,
  nodeRc,
  onNodeFunction,
  readGameState,
  runningMarker,
  shellRc,
  statePath,
  withContext,
  withNamespace,
  writeGameState,
  writePlayerFiles,
  type GameState,
} from "../../harness/gameday/shell.js";
import type { HistoryRecord } from "../../harness/reports/history.js";
import { esc } from "../../harness/reports/files.js";
import type { Probe } from "../../harness/model/probe.js";
import { loadAll } from "../../harness/engine/registry.js";
import type { PhaseRecord, RunJournal, StepRecord } from "../../harness/engine/journal.js";
import type { Scenario } from "../../harness/model/scenario.js";
import type { ScenarioContext } from "../../harness/model/context.js";
import { nodeHandle } from "../../clusters/kind/nodes.js";
import type { NodeShell } from "../../clusters/contract.js";

let all: Scenario[];
let games: GameDayScenario[];
beforeAll(async () => {
  all = await loadAll();
  games = all.filter(isGameDay);
});

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));

describe("the draw: the player picks a tag or a difficulty, never a scenario", () => {
  it("finds every scenario tagged game-day, and each has its briefing", () => {
    const tagged = all.filter((s) => s.tags.includes("game-day"));
    expect(tagged.length).toBeGreaterThanOrEqual(11);
    expect(games.map((s) => s.id)).toEqual(tagged.map((s) => s.id));
    for (const s of tagged) expect(s.gameDay, s.id).toMatchObject({ difficulty: expect.stringMatching(/^(easy|medium|hard)$/) });
  });

  it("filters by tag and difficulty, sorted by id", () => {
    const easy = candidates(all, { difficulty: "easy" });
    expect(easy.length).toBeGreaterThan(0);
    expect(easy.every((s) => s.gameDay.difficulty === "easy")).toBe(true);
    expect(easy.map((s) => s.id)).toEqual([...easy.map((s) => s.id)].sort());
    const workload = candidates(all, { tag: "workload" });
    expect(workload.length).toBeGreaterThan(0);
    expect(workload.every((s) => s.tags.includes("workload") && s.tags.includes("game-day"))).toBe(true);
    const both = candidates(all, { tag: "control-plane", difficulty: "hard" });
    expect(both.every((s) => s.tags.includes("control-plane") && s.gameDay.difficulty === "hard")).toBe(true);
    // Scenarios without the tag are never drawn, whatever the filter.
    expect(candidates(all, {}).length).toBe(games.length);
  });

  it("is reproducible with a seed, and a seed's choice stays within the filter", () => {
    for (const seed of [0, 1, 7, 42, 2 ** 31 - 1]) {
      const a = drawScenario(all, { difficulty: "medium" }, seed);
      const b = drawScenario(all, { difficulty: "medium" }, seed);
      expect(a.scenario.id).toBe(b.scenario.id);
      expect(a.scenario.gameDay.difficulty).toBe("medium");
      expect(a.of).toBe(candidates(all, { difficulty: "medium" }).length);
    }
    // Different seeds reach different scenarios.
    const seen = new Set(Array.from({ length: 40 }, (_, seed) => drawScenario(all, {}, seed).scenario.id));
    expect(seen.size).toBeGreaterThan(3);
  });

  it("the seeded generator is deterministic and in [0, 1)", () => {
    const r1 = seededRandom(5);
    const r2 = seededRandom(5);
    const xs = Array.from({ length: 100 }, () => r1());
    expect(xs).toEqual(Array.from({ length: 100 }, () => r2()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(100);
  });

  it("no match is a one-line error naming what was asked for; an unknown difficulty too", () => {
    expect(() => drawScenario(all, { tag: "no-such-tag" })).toThrow(/no game-day scenario has tag "no-such-tag"/);
    expect(() => drawScenario(all, { tag: "workload", difficulty: "easy" }, 1)).toThrow(/no game-day scenario has tag "workload" and difficulty easy/);
    expect(() => parseDifficulty("nightmare")).toThrow(/--difficulty must be one of easy, medium, hard, got "nightmare"/);
    expect(parseDifficulty("hard")).toBe("hard");
    expect(parseDifficulty(undefined)).toBeUndefined();
  });

  it("the first line says how many incidents were drawn from and the run, never which", () => {
    expect(drawAnnouncement(4, 0, "ab12cd34")).toBe("gameday: one of 4 incidents was drawn (seed 0); run ab12cd34. You will be paged when it happens.");
    expect(drawAnnouncement(1, undefined, "ab12cd34")).toBe("gameday: one of 1 incident was drawn; run ab12cd34. You will be paged when it happens.");
    // What the tmux test reads the run's id from.
    expect(/run ([0-9a-f]{8})\. You will be paged/.exec(drawAnnouncement(3, 7, "0f1e2d3c"))?.[1]).toBe("0f1e2d3c");
  });
});

describe("briefings: symptoms only, hints that lead to the fix", () => {
  it("giving up shows the runbook: its steps numbered, each command under its step", () => {
    expect(runbookSteps([{ title: "find who holds :2380", shows: "lsof -i :2380" }])).toEqual([
      "the runbook (1 step):",
      "  1. find who holds :2380",
      "      $ lsof -i :2380",
    ]);
    expect(
      runbookSteps([
        { title: "look", shows: "kubectl get pods -A\nkubectl get nodes" },
        { title: "fix", shows: "kubectl rollout restart deployment/web" },
      ]),
    ).toEqual([
      "the runbook (2 steps):",
      "  1. look",
      "      $ kubectl get pods -A",
      "      $ kubectl get nodes",
      "  2. fix",
      "      $ kubectl rollout restart deployment/web",
    ]);
  });

  it("no alert gives away its scenario: not its id, nor words of its fault's title or of its cause patterns", () => {
    for (const s of games) {
      expect(alertLeaks(s), s.id).toEqual([]);
      expect(s.gameDay.alert.toLowerCase(), s.id).not.toContain(s.id);
    }
  });

  it("the leak check catches an alert that names the id, the fault or the cause", () => {
    const s = games.find((x) => x.id === "etcd-port-conflict")!;
    expect(alertLeaks({ ...s, gameDay: { ...s.gameDay, alert: "etcd-port-conflict again" } })).toContain("the scenario id etcd-port-conflict");
    expect(alertLeaks({ ...s, gameDay: { ...s.gameDay, alert: "kubectl hangs; something holds :2380" } }).join(" ")).toMatch(/"2380" from the fault's title/);
    expect(alertLeaks({ ...s, gameDay: { ...s.gameDay, alert: "a zombie process" } }).join(" ")).toMatch(/"zombie" from the fault's title/);
    expect(alertLeaks({ ...s, gameDay: { ...s.gameDay, alert: "run lsof" } }).join(" ")).toMatch(/"lsof" from the cause pattern/);
    // Words that name a place rather than a cause do not count.
    expect(alertLeaks({ ...s, gameDay: { ...s.gameDay, alert: "kubectl hangs on every node of the cluster" } })).toEqual([]);
  });

  it("hints end with the runbook's commands, every one of them", () => {
    for (const s of games) {
      const hints = gameDayHints(s);
      expect(hints.slice(0, -1)).toEqual(s.gameDay.hints);
      const last = hints.at(-1)!;
      for (const st of s.runbook) for (const line of st.shows.split("\n")) expect(last, s.id).toContain(`$ ${line}`);
      expect(s.gameDay.hints.length, s.id).toBeGreaterThanOrEqual(2);
    }
    expect(runbookHint([{ shows: "lsof -i :2380" }, { shows: "kill -9 <pid>\ncrictl ps" }])).toBe(
      "the runbook's commands, in order:\n  $ lsof -i :2380\n  $ kill -9 <pid>\n  $ crictl ps",
    );
  });

  it("every cause pattern matches a command of the scenario's own runbook or a hint (they are reachable)", () => {
    for (const s of games) {
      const text = [...s.runbook.map((st) => st.shows), ...s.gameDay.hints].join("\n");
      expect(
        s.gameDay.cause.some((re) => re.test(text)),
        s.id,
      ).toBe(true);
    }
  });

  it("the page is boxed, with the stable lines PAGE: and Open a shell:, and never the scenario", () => {
    const s = games.find((x) => x.id === "crashloop-triage")!;
    const page = renderPage({
      severity: severityOf(s),
      alert: s.gameDay.alert,
      firedAt: new Date("2026-11-24T10:32:05Z"),
      cluster: "as-ab12cd34",
      nodes: 2,
      kubeconfig: "/c/gameday/ab12cd34/kubeconfig",
      hintEveryMs: 240_000,
      hintCost: 15,
    });
    const lines = page.split("\n");
    expect(lines[0]).toMatch(/^╔/);
    expect(lines.at(-1)).toMatch(/^╚/);
    expect(lines.filter((l) => l.startsWith("PAGE: SEV-2 · Five services degraded"))).toHaveLength(1);
    expect(lines).toContain("Open a shell: pnpm gameday shell");
    expect(page).toContain("export KUBECONFIG=/c/gameday/ab12cd34/kubeconfig");
    expect(page).toContain("10:32:05 UTC");
    expect(page).not.toContain("crashloop-triage");
    expect(page).not.toContain(s.title);
    expect(severityOf(games.find((x) => x.id === "etcd-port-conflict")!)).toBe("SEV-1");
  });
});

describe("score, hints over time, reference time", () => {
  it("100 − 15 per hint asked − 1 per full minute beyond the reference, never below 0", () => {
    expect(score({ outcome: "recovered", hintsAsked: 0, recoverMs: 20_000, referenceMs: 28_500 })).toEqual({
      points: 100,
      formula: "100 − 15 × 0 hints − 0 min beyond 28.5s = 100",
    });
    // 7m50s against 28.5s: 7 full minutes beyond it.
    expect(score({ outcome: "recovered", hintsAsked: 1, recoverMs: 470_000, referenceMs: 28_500 })).toEqual({
      points: 78,
      formula: "100 − 15 × 1 hint − 7 min beyond 28.5s = 78",
    });
    expect(score({ outcome: "data-lost", hintsAsked: 0, recoverMs: 60_000, referenceMs: 60_000 }).points).toBe(50);
    expect(score({ outcome: "recovered", hintsAsked: 7, recoverMs: 60_000, referenceMs: 60_000 }).points).toBe(0);
    expect(score({ outcome: "recovered", hintsAsked: 0, recoverMs: 3 * 3_600_000, referenceMs: 60_000 }).points).toBe(0);
    for (const outcome of ["gave-up", "not-recovered", "aborted", "not-started"] as const)
      expect(score({ outcome, hintsAsked: 0, recoverMs: 1000, referenceMs: 60_000 }).points).toBe(0);
  });

  it("a hint comes by itself every N minutes without one; asking resets the wait; none once all are out", () => {
    const t0 = 1_000_000;
    const every = 4 * 60_000;
    expect(nextAutoHintAt(t0, [], 4, every)).toBe(t0 + every);
    expect(nextAutoHintAt(t0, [{ n: 1, at: t0 + 60_000, how: "asked" }], 4, every)).toBe(t0 + 60_000 + every);
    expect(nextAutoHintAt(t0, [{ n: 1, at: t0 + every, how: "auto" }], 4, every)).toBe(t0 + 2 * every);
    const allOut = [1, 2, 3, 4].map((n) => ({ n, at: t0 + n, how: "asked" as const }));
    expect(nextAutoHintAt(t0, allOut, 4, every)).toBeUndefined();
  });

  it("the reference time is the median time to recover of the suite's earlier passing runs of the default runbook, else the difficulty's par", () => {
    const rec = (runs: HistoryRecord["runs"]): HistoryRecord => ({ version: 1, startedAt: "2026-01-01T00:00:00.000Z", ids: [], prove: false, repeat: 1, runs });
    const run = (id: string, ms: number | undefined, extra: Partial<HistoryRecord["runs"][number]> = {}) => ({
      id,
      outcome: "passed" as const,
      expected: "passed" as const,
      asExpected: true,
      totalMs: 1,
      ...(ms !== undefined ? { timeToRecoverMs: ms } : {}),
      ...extra,
    });
    const etcd = games.find((s) => s.id === "etcd-port-conflict")!;
    const history = [
      rec([run("etcd-port-conflict", 30_000), run("etcd-port-conflict", 10_000, { name: "fault neutralised" })]),
      rec([run("etcd-port-conflict", 20_000), run("apiserver-down", 5000)]),
      rec([run("etcd-port-conflict", 26_000), run("etcd-port-conflict", 99_000, { outcome: "not-recovered" })]),
    ];
    expect(referenceTime(history, etcd, "medium")).toEqual({ ms: 26_000, source: "suite", runs: 3 });
    // Step times: the median of each step over the passing runs that timed it.
    const timed = (ms: number, fix: number) =>
      run("etcd-port-conflict", ms, {
        runbookSteps: [
          { title: "find the holder", ms: 1_000 },
          { title: "kill it", ms: fix },
        ],
      });
    expect(
      referenceTime([rec([timed(20_000, 3_000), timed(30_000, 5_000)]), rec([timed(40_000, 9_000), run("etcd-port-conflict", 50_000)])], etcd, "medium"),
    ).toEqual({
      ms: 35_000,
      source: "suite",
      runs: 4,
      steps: [
        { title: "find the holder", ms: 1_000, runs: 3 },
        { title: "kill it", ms: 5_000, runs: 3 },
      ],
    });
    expect(referenceTime([], etcd, "medium")).toEqual({ ms: PAR_MS.medium, source: "par" });
    // A scenario with several runbooks: the suite names its default runbook's runs.
    const sts = games.find((s) => s.id === "statefulset-immutable-upgrade")!;
    expect(
      referenceTime([rec([run(sts.id, 7000, { name: "runbook safe" }), run(sts.id, 13_000, { name: "runbook incident", outcome: "data-lost" })])], sts, "hard"),
    ).toEqual({ ms: 7000, source: "suite", runs: 1 });
  });

  it("the game clock", () => {
    expect(clock(0)).toBe("00:00");
    expect(clock(247_900)).toBe("04:07");
    expect(clock(123 * 60_000)).toBe("123:00");
    expect(clock(-5)).toBe("00:00");
  });

  it("the pace: a hint every 4 minutes and a poll every 7 seconds, unless AFTERSHOCK_GAMEDAY_HINT_EVERY and AFTERSHOCK_GAMEDAY_POLL say otherwise", () => {
    expect(gamePace({})).toEqual({ hintEveryMs: HINT_EVERY_MS, pollMs: POLL_MS });
    expect([HINT_EVERY_MS, POLL_MS]).toEqual([240_000, 7000]);
    expect(gamePace({ AFTERSHOCK_GAMEDAY_HINT_EVERY: "25s", AFTERSHOCK_GAMEDAY_POLL: "3s" })).toEqual({ hintEveryMs: 25_000, pollMs: 3000 });
    expect(gamePace({ AFTERSHOCK_GAMEDAY_HINT_EVERY: "", AFTERSHOCK_GAMEDAY_POLL: "1m30s" })).toEqual({ hintEveryMs: HINT_EVERY_MS, pollMs: 90_000 });
    expect(() => gamePace({ AFTERSHOCK_GAMEDAY_POLL: "soon" })).toThrow(/not a duration: "soon"/);
  });
});

describe("the command log", () => {
  it("parses `<epoch ms or s>\\t<command>`, commands typed on a node, and skips what is not a command", () => {
    expect(parseCommandLine("1795515298625\tkubectl get pods -A")).toEqual({ at: 1795515298625, command: "kubectl get pods -A" });
    expect(parseCommandLine("1795515298\tls")).toEqual({ at: 1795515298000, command: "ls" });
    expect(parseCommandLine("1795515298.5\tls")).toEqual({ at: 1795515298500, command: "ls" });
    expect(parseCommandLine("1795515298625\t[node control-plane] lsof -i :2380")).toEqual({
      at: 1795515298625,
      command: "lsof -i :2380",
      node: "control-plane",
    });
    expect(parseCommandLine("1795515298625\tprintf 'a\tb'")).toEqual({ at: 1795515298625, command: "printf 'a\tb'" });
    for (const bad of ["", "ls", "soon\tls", "1795515298625\t   ", "1795515298625 ls"]) expect(parseCommandLine(bad), bad).toBeUndefined();
    expect(parseCommandLog("1\tx\n1795515298625\ta\n\n1795515299625\tb\r\n")).toEqual([
      { at: 1795515298625, command: "a" },
      { at: 1795515299625, command: "b" },
    ]);
  });

  it("the first command that touched the cause", () => {
    const cmds = parseCommandLog(
      ["1795515298000\tkubectl get pods", "1795515299000\t[node control-plane] crictl ps -a", "1795515300000\t[node control-plane] lsof -i :2380"].join("\n"),
    );
    expect(firstCauseCommand(cmds, [/2380/, /\blsof\b/])).toBe(2);
    expect(firstCauseCommand(cmds, [/crictl/g])).toBe(1);
    expect(firstCauseCommand(cmds, [/etcdctl/])).toBe(-1);
  });

  it("is followed as it grows, whole lines only", () => {
    const file = path.join(tmp("gd-log-"), "commands.log");
    const tail = new CommandLogTail(file);
    expect(tail.read()).toEqual([]);
    writeFileSync(file, "1795515298000\tkubectl get no");
    expect(tail.read()).toEqual([]);
    appendFileSync(file, "des\n1795515299000\tls\n");
    expect(tail.read().map((c) => c.command)).toEqual(["kubectl get nodes", "ls"]);
    expect(tail.read()).toEqual([]);
    appendFileSync(file, "1795515300000\t[node worker] systemctl start kubelet\n");
    expect(tail.read()).toEqual([{ at: 1795515300000, command: "systemctl start kubelet", node: "worker" }]);
  });

  it("after the game, the whole log in the order typed (a node-shell line is written when that shell ends); none without a log", async () => {
    const file = path.join(tmp("gd-log-"), "commands.log");
    expect(await readCommandLog(file)).toEqual([]);
    writeFileSync(
      file,
      "1795515298000\tkubectl get nodes\n1795515301000\t[node worker] systemctl start kubelet\n1795515299000\tnode-shell worker\nnot a command\n1795515302000\tkubectl get nodes\n",
    );
    expect((await readCommandLog(file)).map((c) => [c.at, c.command])).toEqual([
      [1795515298000, "kubectl get nodes"],
      [1795515299000, "node-shell worker"],
      [1795515301000, "systemctl start kubelet"],
      [1795515302000, "kubectl get nodes"],
    ]);
  });
});

// The kind target's node shell, as the game gets it from the run (docker exec, never called here).
const kindHandles = [nodeHandle("as-ab12cd34-control-plane", "control-plane"), nodeHandle("as-ab12cd34-worker", "worker")];
const kindShell: NodeShell = { nodes: kindHandles, controlPlane: () => kindHandles[0]!, node: (n) => kindHandles.find((h) => h.name === n)! };

const state = (dir: string, over: Partial<GameState> = {}): GameState => ({
  version: 1,
  runId: "ab12cd34",
  pid: process.pid,
  pagedAt: Date.now() - 65_000,
  cluster: "as-ab12cd34",
  kubeconfig: path.join(dir, "kubeconfig"),
  namespace: "as-ab12cd34-gameday",
  nodes: gameNodes("as-ab12cd34", ["as-ab12cd34-control-plane", "as-ab12cd34-worker"], kindShell),
  commandLog: path.join(dir, "commands.log"),
  dir,
  kubectl: "/opt/kubernetes/bin/kubectl",
  ...over,
});

describe("the game shell", () => {
  it("its rc file sets KUBECONFIG, kubectl on PATH, PROMPT_COMMAND recording to the log, nodes and node-shell", () => {
    const rc = shellRc(state("/g"), "/g/node.rc");
    expect(rc).toContain("export KUBECONFIG=/g/kubeconfig\n");
    expect(rc).toContain("export AFTERSHOCK_GAMEDAY_LOG=/g/commands.log\n");
    expect(rc).toContain(`export PATH=/opt/kubernetes/bin:"$PATH"`);
    expect(rc).toContain("PROMPT_COMMAND=__as_prompt\n");
    expect(rc).toContain("unset HISTTIMEFORMAT");
    expect(rc).toMatch(/builtin history 1/);
    expect(rc).toMatch(/\nnode-shell\(\) \{/);
    // node-shell goes through the node shell's command lines: on kind, docker exec -it/-i as before.
    expect(rc).toContain(`    0:tty) docker exec -it as-ab12cd34-control-plane "$@" ;;`);
    expect(rc).toContain(`    1:stdin) docker exec -i as-ab12cd34-worker "$@" ;;`);
    expect(rc).toContain(`__as_on_node "$idx" tty env AS_NODE="$short" AS_LOG="$d/$session.log"`);
    expect(rc).not.toMatch(/^\s*docker exec/m);
    expect(rc).toContain("__as_node_names=(as-ab12cd34-control-plane as-ab12cd34-worker)");
    expect(rc).toMatch(/\nnodes\(\) \{/);
    expect(rc).toContain("PS1='[gameday ${__as_clock}]");
    expect(shellRc(state("/g", { kubectl: "kubectl" }), "/g/node.rc")).not.toContain("export PATH=");
    expect(nodeRc()).toContain(`__AS_PREFIX="[node $AS_NODE] "`);
    // The node's shell keeps its history in node-shell's directory (removed after the game), not in root's home.
    expect(nodeRc()).toContain("HISTFILE=${AS_LOG%.log}.history");
  });

  it("runs a node's command as its capability says: argv appended (docker exec) or one line quoted for a remote shell (ssh)", () => {
    const dir = tmp("gd-on-node-");
    const nodes = [
      // Stand-ins that run locally: "argv" like docker exec, "shell-line" like ssh (its remote side is sh -c <line>).
      {
        name: "a",
        short: "a",
        role: "worker",
        commands: {
          tty: { argv: ["env"], words: "argv" as const },
          stdin: { argv: ["env"], words: "argv" as const },
          none: { argv: ["env"], words: "argv" as const },
        },
      },
      {
        name: "b",
        short: "b",
        role: "worker",
        commands: {
          tty: { argv: ["sh", "-c"], words: "shell-line" as const },
          stdin: { argv: ["sh", "-c"], words: "shell-line" as const },
          none: { argv: ["sh", "-c"], words: "shell-line" as const },
        },
      },
      { name: "c", short: "c", role: "worker" },
    ];
    const rc = path.join(dir, "on-node.sh");
    writeFileSync(rc, `__as_node_names=(a b c)\n${onNodeFunction(nodes)}`);
    const run = (i: number) => spawnSync("bash", ["-c", `source ${rc}; __as_on_node ${i} none printf '%s|' "a b" "it's" '$HOME' '*' ""`], { encoding: "utf8" });
    expect(run(0).stdout).toBe("a b|it's|$HOME|*||");
    expect(run(1).stdout).toBe("a b|it's|$HOME|*||");
    expect(run(2).status).toBe(1);
    expect(run(2).stderr).toContain("node-shell: this cluster's node c cannot be reached from here");
  });

  it("records every command typed in it (bash, as an interactive shell), with its time, and nothing from before", () => {
    const dir = tmp("gd-shell-");
    const s = state(dir, { pagedAt: Date.now() - 125_000 });
    writeFileSync(path.join(dir, "running"), "");
    writeFileSync(path.join(dir, "bash_history"), "echo typed-before-the-game\n");
    const rc = path.join(dir, "shell.rc");
    writeFileSync(rc, shellRc(s, path.join(dir, "node.rc")));
    expect(spawnSync("bash", ["-n", rc]).status).toBe(0);
    const before = Date.now();
    const r = spawnSync("bash", ["--rcfile", rc, "-i"], {
      input: "echo one\nkubectl get pods -A\n\necho one\nnode-shell nope\nsleep 1.2\necho $KUBECONFIG\n",
      env: { ...process.env, HOME: dir },
      encoding: "utf8",
    });
    expect(r.stdout).toContain(path.join(dir, "kubeconfig"));
    expect(r.stderr).toContain(`node-shell: no node "nope" (nodes: control-plane worker)`);
    // The prompt's clock is the time since the page: 2:05 when bash started, and on a busy machine as much more as
    // bash took (not "02:0x", which a slow start breaks). Each prompt shown lies between the two ends of the run.
    const after = Date.now();
    const shown = [...r.stderr.matchAll(/\[gameday (\d\d):(\d\d)\] /g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    expect(shown.length).toBeGreaterThan(0);
    // (Whole seconds on both sides, each rounded its own way: a second of slack at either end.)
    const [lo, hi] = [Math.floor((before - s.pagedAt) / 1000) - 1, Math.ceil((after - s.pagedAt) / 1000) + 1];
    expect(
      shown.filter((t) => t < lo || t > hi),
      `prompts outside ${lo}–${hi} s since the page`,
    ).toEqual([]);
    const log = parseCommandLog(readFileSync(s.commandLog, "utf8"));
    expect(log.map((c) => c.command)).toEqual(["echo one", "kubectl get pods -A", "echo one", "node-shell nope", "sleep 1.2", "echo $KUBECONFIG"]);
    expect(log.every((c) => c.at >= before - 1000 && c.at <= Date.now() + 1000)).toBe(true);
    // A command is timed when it started: what came after a 1.2 s sleep is 1.2 s later, not at the same moment.
    expect(log[5]!.at - log[4]!.at).toBeGreaterThanOrEqual(1100);
  });

  it("the player's kubeconfig defaults to the incident's namespace", () => {
    const kc = "apiVersion: v1\nkind: Config\ncurrent-context: kind-x\ncontexts:\n  - name: kind-x\n    context:\n      cluster: kind-x\n      user: kind-x\n";
    expect(withNamespace(kc, "as-1-gameday")).toMatch(/context:\n\s+cluster: kind-x\n\s+user: kind-x\n\s+namespace: as-1-gameday/);
    expect(withNamespace(kc, undefined)).toBe(kc);
  });

  it("on an existing cluster reached with --context, the player's kubeconfig uses that context", () => {
    const kc =
      "apiVersion: v1\nkind: Config\ncurrent-context: prod\ncontexts:\n  - name: prod\n    context: {cluster: p, user: p}\n  - name: staging\n    context: {cluster: s, user: s}\n";
    expect(withContext(kc, "staging")).toMatch(/^current-context: staging$/m);
    expect(withNamespace(withContext(kc, "staging"), "ns")).toMatch(/- name: staging\n\s+context:\n\s+cluster: s\n\s+user: s\n\s+namespace: ns/);
    expect(withContext(kc, undefined)).toBe(kc);
    expect(() => withContext(kc, "dev")).toThrow(/the cluster's kubeconfig has no context dev/);
  });

  it("finds the running game from its state file; none, or one whose process is gone, is a one-line error", () => {
    const cache = tmp("gd-cache-");
    expect(() => readGameState(cache)).toThrow(/^no game day is running \(no .*current\.json\)$/);
    mkdirSync(path.dirname(statePath(cache)), { recursive: true });
    writeFileSync(statePath(cache), JSON.stringify(state("/g")));
    expect(readGameState(cache).runId).toBe("ab12cd34");
    expect(() => readGameState(cache, () => false)).toThrow(/no game day is running \(the game of run ab12cd34 \(pid \d+\) has ended\)/);
  });

  it("a game's files: the report directory (debrief, command log), its private directory and the state file", () => {
    const f = gameFiles("/cache", "/repo/reports", "ab12cd34");
    expect(f).toEqual({
      reportDir: "/repo/reports/gameday-ab12cd34",
      commandLog: "/repo/reports/gameday-ab12cd34/commands.log",
      dir: "/cache/gameday/ab12cd34",
      state: statePath("/cache"),
    });
  });

  it("when paged, the player gets an empty command log, the running marker and a private kubeconfig, in the incident's namespace if it has one", async () => {
    const root = tmp("gd-files-");
    const source = path.join(root, "cluster.kubeconfig");
    const kc = "apiVersion: v1\nkind: Config\ncurrent-context: kind-x\ncontexts:\n  - name: kind-x\n    context:\n      cluster: kind-x\n      user: kind-x\n";
    writeFileSync(source, kc);
    const f = gameFiles(path.join(root, "cache"), path.join(root, "reports"), "ab12cd34");
    const kubeconfig = await writePlayerFiles(f, source, "as-ab12cd34-gameday");
    expect(kubeconfig).toBe(path.join(f.dir, "kubeconfig"));
    expect(readFileSync(kubeconfig, "utf8")).toMatch(/namespace: as-ab12cd34-gameday/);
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    expect(readFileSync(f.commandLog, "utf8")).toBe("");
    expect(existsSync(runningMarker(f))).toBe(true);
    const g = gameFiles(path.join(root, "cache"), path.join(root, "reports"), "0f1e2d3c");
    expect(readFileSync(await writePlayerFiles(g, source, undefined), "utf8")).toBe(kc);
  });

  it("the state file is written for the shell to join, and forgotten when the game ends, unless it is another game's", () => {
    const cache = tmp("gd-cache-");
    const f = gameFiles(cache, path.join(cache, "reports"), "ab12cd34");
    mkdirSync(f.dir, { recursive: true });
    writeFileSync(runningMarker(f), "");
    const mine = state(f.dir);
    writeGameState(f, mine);
    expect(readGameState(cache)).toEqual(mine);
    forgetGame(f, "ab12cd34");
    expect(existsSync(f.state)).toBe(false);
    expect(existsSync(runningMarker(f))).toBe(false);
    forgetGame(f, "ab12cd34"); // harmless to repeat
    // Another game's state file stays (this game's marker still goes); so does one that cannot be read.
    writeFileSync(runningMarker(f), "");
    writeGameState(f, state("/other", { runId: "99999999" }));
    forgetGame(f, "ab12cd34");
    expect(readGameState(cache).runId).toBe("99999999");
    expect(existsSync(runningMarker(f))).toBe(false);
    writeFileSync(f.state, "{ half");
    forgetGame(f, "ab12cd34");
    expect(readFileSync(f.state, "utf8")).toBe("{ half");
  });

  it("node names: the container, its short name and role", () => {
    expect(gameNodes("as-1", ["as-1-control-plane", "as-1-control-plane2", "as-1-worker"])).toEqual([
      { name: "as-1-control-plane", short: "control-plane", role: "control-plane" },
      { name: "as-1-control-plane2", short: "control-plane2", role: "control-plane" },
      { name: "as-1-worker", short: "worker", role: "worker" },
    ]);
  });
});

describe("the game terminal", () => {
  const ctx = {} as ScenarioContext;
  const probe = (ok: () => boolean): Probe => ({ name: "p", expectation: "e", check: async () => ({ ok: ok(), observed: "seen" }) });
  const session = (o: { probes?: Probe[]; now?: () => number; onAbort?: () => void; hintEveryMs?: number } = {}) => {
    const lines: string[] = [];
    const s = new GameSession({
      hints: ["look at the nodes", "it is the kubelet", "the runbook's commands, in order:\n  $ systemctl start kubelet"],
      probes: o.probes ?? [probe(() => false)],
      commandLog: path.join(tmp("gd-session-"), "commands.log"),
      write: (l) => lines.push(l),
      onAbort: o.onAbort ?? (() => {}),
      hintEveryMs: o.hintEveryMs ?? 60_000,
      pollMs: 5,
      clockMs: 60_000,
      tailMs: 60_000,
      ...(o.now ? { now: o.now } : {}),
    });
    return { s, lines };
  };

  it("h reveals the next hint (HINT n/m:), a multi-line hint indented; none past the last", () => {
    const { s, lines } = session();
    s.key("h");
    s.key("h");
    s.key("h");
    s.key("h");
    s.stop();
    expect(lines.filter((l) => l.startsWith("HINT "))).toEqual([
      "HINT 1/3: look at the nodes   (−15 points)",
      "HINT 2/3: it is the kubelet   (−15 points)",
      "HINT 3/3: the runbook's commands, in order:   (−15 points)",
    ]);
    expect(lines).toContain("      $ systemctl start kubelet");
    expect(lines.at(-1)).toBe("no more hints (3/3 shown)");
    expect(s.reveals.map((r) => r.how)).toEqual(["asked", "asked", "asked"]);
  });

  it("a hint comes by itself when its time has come, for free", () => {
    let t = 1_000_000;
    const { s, lines } = session({ now: () => t, hintEveryMs: 60_000 });
    s.tick();
    expect(lines.some((l) => l.startsWith("HINT"))).toBe(false);
    t += 60_000;
    s.tick();
    expect(lines.filter((l) => l.startsWith("HINT"))).toEqual(["HINT 1/3: look at the nodes   (came by itself, free)"]);
    s.printClock();
    expect(lines.at(-1)).toMatch(/^\[01:00\] incident open · checking health · hints 1\/3, next by itself in 01:00 · keys: h hint, g give up, q abort$/);
    s.stop();
  });

  it("prints each newly recorded command as `> <command>`", () => {
    const { s, lines } = session();
    writeFileSync(
      (s as unknown as { o: { commandLog: string } }).o.commandLog,
      "1795515298000\tkubectl get nodes\n1795515299000\t[node worker] systemctl status kubelet\n",
    );
    s.tick();
    s.stop();
    expect(lines).toEqual(expect.arrayContaining(["> kubectl get nodes", "> [worker] systemctl status kubelet"]));
    expect(s.commands).toHaveLength(2);
  });

  it("recovers by itself once every health probe holds: RECOVERED after mm:ss, no key needed", async () => {
    let healthy = false;
    // The game's clock is given (the real one made "after 00:0x" depend on how busy the machine was).
    let t = 1_000_000;
    const { s, lines } = session({ probes: [probe(() => true), probe(() => healthy)], now: () => t });
    const end = s.play(ctx);
    await new Promise((r) => setTimeout(r, 30));
    expect(lines.some((l) => l.startsWith("RECOVERED"))).toBe(false);
    t += 83_000;
    healthy = true;
    await expect(end).resolves.toBe("recovered");
    expect(lines.at(-1)).toBe("RECOVERED after 01:23");
    expect(s.recoveredAt).toBe(1_083_000);
  });

  it("g gives up, q (or Ctrl-C) aborts through onAbort", async () => {
    const { s, lines } = session();
    const end = s.play(ctx);
    s.key("g");
    await expect(end).resolves.toBe("gave-up");
    expect(lines.at(-1)).toMatch(/^GAVE UP after 00:00/);
    for (const k of ["q", "\u0003"]) {
      let aborted = 0;
      const { s: s2, lines: l2 } = session({ onAbort: () => aborted++ });
      void s2.play(ctx);
      s2.key(k);
      s2.key("h"); // after the end, keys do nothing
      expect(aborted).toBe(1);
      expect(l2.at(-1)).toMatch(/^ABORTED after 00:00: cleaning up$/);
    }
  });

  it("how the game ended", () => {
    expect(gameOutcome(undefined, undefined, false)).toBe("not-started");
    expect(gameOutcome(undefined, undefined, true)).toBe("aborted");
    expect(gameOutcome({ recoveredAt: 1 }, { outcome: "passed" }, false)).toBe("recovered");
    expect(gameOutcome({ recoveredAt: 1 }, { outcome: "data-lost" }, false)).toBe("data-lost");
    expect(gameOutcome({ recoveredAt: 1 }, { outcome: "not-recovered" }, false)).toBe("not-recovered");
    expect(gameOutcome({ gaveUpAt: 1 }, { outcome: "passed" }, false)).toBe("gave-up");
    expect(gameOutcome({}, { outcome: "interrupted" }, true)).toBe("aborted");
  });
});

describe("the game's live output says nothing about the scenario", () => {
  it("neutral progress for every phase; the runbook's steps only after giving up", () => {
    const lines: string[] = [];
    const r = gameReporter((l) => lines.push(l));
    const s = games.find((x) => x.id === "etcd-port-conflict")!;
    const j = { runId: "ab12cd34", scenario: { id: s.id, title: s.title, summary: s.summary, source: s.source, tags: s.tags } } as RunJournal;
    const phase = (name: PhaseRecord["name"], status: PhaseRecord["status"] = "passed"): PhaseRecord => ({
      name,
      startedAt: 0,
      endedAt: 1000,
      status,
      steps: [],
      probes: [{ name: s.symptoms.expect[0]!.name, expectation: "x", ok: true, observed: "bind: address already in use" }],
    });
    r.begin();
    r.onRunBegin!(j);
    for (const n of ["cluster", "setup", "steady-state", "symptoms-absent", "inject", "symptoms", "verify-fails", "runbook"] as const) {
      const p = phase(n);
      r.onPhaseBegin!(p, j);
      const st: StepRecord = {
        title: n === "inject" ? s.fault.title : "manual recovery (game day)",
        shows: s.fault.plan.join("\n"),
        startedAt: 0,
        endedAt: 1,
        ok: true,
      };
      r.onStepBegin!(st, p, j);
      r.onStepEnd!(st, p, j);
      r.onProbe?.(p.probes[0]!, p, j);
      r.onPhaseEnd!(p, j);
    }
    const text = lines.join("\n");
    expect(lines[0]).toBe("preparing your cluster …");
    expect(lines.filter((l) => l === "preparing your cluster …")).toHaveLength(1);
    expect(text).toMatch(/… ready \(/);
    expect(text).toContain("something is about to go wrong…");
    for (const secret of [
      s.id,
      s.title,
      s.fault.title,
      ...s.fault.plan,
      ...s.symptoms.expect.map((p) => p.name),
      "2380",
      "etcd",
      ...s.runbook.map((st) => st.title),
    ])
      expect(text).not.toContain(secret);
    // After giving up, the runbook's steps are shown as they run.
    r.reveal = true;
    const rb = phase("runbook");
    const st: StepRecord = { title: s.runbook[0]!.title, startedAt: 0, endedAt: 1000, ok: true, output: "etcd 1626 root 6u IPv4 TCP *:2380 (LISTEN)" };
    r.onStepBegin!(st, rb, j);
    r.onStepEnd!(st, rb, j);
    expect(lines.slice(-3)).toEqual([`  → ${s.runbook[0]!.title}`, `  ✓ ${s.runbook[0]!.title} [1.0s]`, "      etcd 1626 root 6u IPv4 TCP *:2380 (LISTEN)"]);
    r.onRunEnd!(j);
  });
});

describe("the debrief", () => {
  const s = () => games.find((x) => x.id === "etcd-port-conflict")!;
  const record = (over: Partial<GameRecord> = {}): GameRecord => {
    const pagedAt = Date.parse("2026-11-24T10:00:00Z");
    return {
      runId: "ab12cd34",
      scenario: { id: s().id, title: s().title, summary: s().summary, source: s().source },
      difficulty: "medium",
      severity: "SEV-1",
      alert: s().gameDay.alert,
      pagedAt,
      endedAt: pagedAt + 600_000,
      outcome: "recovered",
      recoveredAt: pagedAt + 470_000,
      hints: [{ n: 1, at: pagedAt + 240_000, how: "auto", text: "ask the API server" }],
      hintsTotal: 4,
      commands: parseCommandLog(
        [
          `${pagedAt + 30_000}\tkubectl get pods -A`,
          `${pagedAt + 95_000}\t[node control-plane] crictl logs <x> 2>&1 | grep '<bind>'`,
          `${pagedAt + 192_000}\t[node control-plane] lsof -i :2380`,
          `${pagedAt + 200_000}\t[node control-plane] ss -ltnp | grep 2380`,
          `${pagedAt + 250_000}\t[node control-plane] kill -9 1626`,
        ].join("\n"),
      ),
      cause: s().gameDay.cause,
      runbook: s().runbook.map((x) => ({ title: x.title, shows: x.shows })),
      reference: { ms: 28_500, source: "suite", runs: 5 },
      score: score({ outcome: "recovered", hintsAsked: 0, recoverMs: 470_000, referenceMs: 28_500 }),
      run: { outcome: "passed", reason: "symptoms reproduced in 5.3s, recovered in 9m", report: "../etcd-port-conflict-ab12cd34/report.html" },
      ...over,
    };
  };

  it("reveals the scenario and shows the timeline beside the reference runbook, the first command that touched the cause highlighted", () => {
    const html = debriefHtml(record());
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("Game day debrief: etcd-port-conflict");
    expect(html).toContain(esc(s().title));
    expect(html).toContain("incident 001");
    // Every command, escaped, with its time since the page.
    expect(html).toContain("<code>kubectl get pods -A</code>");
    expect(html).toContain("<code>[control-plane] crictl logs &lt;x&gt; 2&gt;&amp;1 | grep '&lt;bind&gt;'</code>");
    expect(html).toContain(`<td class="t">+00:30</td>`);
    // Exactly one highlighted row: the first lsof, not the later ss.
    expect(html.match(/class="cmd cause"/g)).toHaveLength(1);
    expect(html).toMatch(
      /<tr class="cmd cause"><td class="t">\+03:12<\/td><td><code>\[control-plane\] lsof -i :2380<\/code> <span class="tag">first command that touched the cause<\/span>/,
    );
    // The reference runbook and time, the hints, the score with its formula.
    for (const st of s().runbook) expect(html).toContain(`<pre class="cmd">${esc(st.shows)}</pre>`);
    expect(html).toContain("28.5s (median time to recover of 5 nightly suite runs)");
    // A suite that timed the runbook's steps: each reference step says how long it took there.
    const [first, second] = s().runbook;
    const timed = debriefHtml(
      record({
        reference: {
          ms: 28_500,
          source: "suite",
          runs: 5,
          steps: [
            { title: first!.title, ms: 1_500, runs: 4 },
            { title: second!.title, ms: 12_000, runs: 1 },
          ],
        },
      }),
    );
    expect(timed).toContain(`<li>${first!.title} <span class="meta">median 1.5s over 4 suite runs</span>`);
    expect(timed).toContain(`<li>${second!.title} <span class="meta">median 12.0s over 1 suite run</span>`);
    expect(html).not.toContain("suite run</span>");
    expect(html).toContain("hint 1/4 (came by itself)");
    // The score once, in its card; the formula under it says how it was counted.
    expect(html.match(/>93</g)).toHaveLength(1);
    expect(html).toContain("<h2>How the score was counted</h2>");
    expect(html).toContain("100 − 15 × 0 hints − 7 min beyond 28.5s = 93");
    expect(html).toContain("<b>RECOVERED</b>");
    expect(html).toContain(`href="../etcd-port-conflict-ab12cd34/report.html"`);
    expect(html).not.toContain("Data lost");
  });

  it("names the lost data when the run ended data-lost, and says when there is no suite history", () => {
    const html = debriefHtml(
      record({
        outcome: "data-lost",
        reference: { ms: PAR_MS.hard, source: "par" },
        run: { outcome: "data-lost", reason: "the cluster recovered but data written before the fault is gone: 12 of 12 blobs missing (3f2a…)" },
      }),
    );
    expect(html).toContain("<h2>Data lost</h2>");
    expect(html).toContain("12 of 12 blobs missing");
    expect(html).toContain("no suite history yet");
  });

  it("the record of a game: from its session and the run's journal, or from neither when it ended before the run began", () => {
    const pagedAt = Date.parse("2026-11-24T10:00:00Z");
    const reveals = [
      { n: 1, at: pagedAt + 60_000, how: "asked" as const, text: "ask the API server" },
      { n: 2, at: pagedAt + 240_000, how: "auto" as const, text: "who holds the port?" },
    ];
    const commands = parseCommandLog(`${pagedAt + 30_000}\tkubectl get pods -A`);
    const j = { runId: "ab12cd34", scenario: { id: s().id, title: s().title, summary: s().summary, source: s().source, tags: s().tags } };
    const r = gameRecord({
      runId: "ab12cd34",
      scenario: s(),
      session: { pagedAt, recoveredAt: pagedAt + 300_000, gaveUpAt: undefined, reveals },
      journal: { ...j, outcome: "passed", reason: "recovered in 5m" },
      outcome: "recovered",
      commands,
      reference: { ms: 60_000, source: "suite", runs: 3 },
      endedAt: pagedAt + 400_000,
    });
    expect(r).toEqual({
      runId: "ab12cd34",
      scenario: { id: s().id, title: s().title, summary: s().summary, source: s().source },
      difficulty: s().gameDay.difficulty,
      severity: "SEV-1",
      alert: s().gameDay.alert,
      pagedAt,
      endedAt: pagedAt + 400_000,
      outcome: "recovered",
      recoveredAt: pagedAt + 300_000,
      hints: reveals,
      hintsTotal: gameDayHints(s()).length,
      commands,
      cause: s().gameDay.cause,
      runbook: s().runbook.map((x) => ({ title: x.title, shows: x.shows })),
      reference: { ms: 60_000, source: "suite", runs: 3 },
      // Only the hint asked for costs; 4 full minutes beyond the reference.
      score: { points: 81, formula: "100 − 15 × 1 hint − 4 min beyond 1m00s = 81" },
      run: { outcome: "passed", reason: "recovered in 5m", report: "../etcd-port-conflict-ab12cd34/report.html" },
    });
    const gaveUp = gameRecord({
      runId: "ab12cd34",
      scenario: s(),
      session: { pagedAt, recoveredAt: undefined, gaveUpAt: pagedAt + 90_000, reveals: [] },
      journal: { ...j, outcome: "passed", reason: "the runbook recovered it" },
      outcome: "gave-up",
      commands: [],
      reference: { ms: PAR_MS.medium, source: "par" },
      endedAt: pagedAt + 200_000,
    });
    expect(gaveUp).toMatchObject({ gaveUpAt: pagedAt + 90_000, score: { points: 0, formula: "gave-up: 0" } });
    expect(gaveUp).not.toHaveProperty("recoveredAt");
    const never = gameRecord({
      runId: "ab12cd34",
      scenario: s(),
      session: undefined,
      journal: undefined,
      outcome: "aborted",
      commands: [],
      reference: { ms: PAR_MS.medium, source: "par" },
      endedAt: pagedAt,
    });
    expect(never).toMatchObject({ hints: [], score: { points: 0, formula: "aborted: 0" }, run: { outcome: "interrupted", reason: "interrupted" } });
    for (const k of ["pagedAt", "recoveredAt", "gaveUpAt"]) expect(never).not.toHaveProperty(k);
    expect(never.run).not.toHaveProperty("report");
  });

  it("is written as debrief.html and debrief.json (the cause patterns as text), the report directory made if need be", async () => {
    const dir = path.join(tmp("gd-debrief-"), "reports", "gameday-ab12cd34");
    const html = await writeDebrief(dir, record());
    expect(html).toBe(path.join(dir, "debrief.html"));
    expect(readFileSync(html, "utf8")).toBe(debriefHtml(record()));
    const json = JSON.parse(readFileSync(path.join(dir, "debrief.json"), "utf8")) as Record<string, unknown>;
    expect(json.cause).toEqual(s().gameDay.cause.map(String));
    expect(json).toMatchObject({ runId: "ab12cd34", outcome: "recovered", score: record().score, hintsTotal: 4 });
  });

  it("a text summary for the console: debrief: <path>, the scenario, the outcome, time, hints, score, the first cause command", () => {
    const text = debriefText(record(), "reports/gameday-ab12cd34/debrief.html");
    const lines = text.split("\n");
    expect(lines[0]).toBe("debrief: reports/gameday-ab12cd34/debrief.html");
    expect(text).toContain(`scenario:   etcd-port-conflict: ${s().title}`);
    expect(text).toContain("source:     incident 001");
    expect(text).toContain("outcome:    recovered");
    expect(text).toContain("recovered:  07:50 after the page   reference: 28.5s (median time to recover of 5 nightly suite runs)");
    expect(text).toContain("hints:      0 asked, 1 came by itself (of 4)");
    expect(text).toContain("score:      93 (100 − 15 × 0 hints − 7 min beyond 28.5s = 93)");
    expect(text).toContain("the first that touched the cause: +03:12 [control-plane] lsof -i :2380");
    const gaveUp = debriefText(
      record({ outcome: "gave-up", recoveredAt: undefined, gaveUpAt: Date.parse("2026-11-24T10:05:00Z"), score: { points: 0, formula: "gave-up: 0" } }),
      "d.html",
    );
    expect(gaveUp).toContain("outcome:    gave up (the runbook recovered it)");
    expect(gaveUp).toContain("score:      0 (gave-up: 0)");
  });
});

describe("node-shell's files after the play", () => {
  it("are removed from every node; a node that could not be cleared is named with its last error line or its exit code", async () => {
    const ran: string[] = [];
    const node = (name: string, exitCode: number, stderr = "") => ({
      name,
      sh: async (script: string) => {
        ran.push(`${name}: ${script}`);
        return { exitCode, stdout: "", stderr, command: script, elapsedMs: 1 };
      },
    });
    const left = await clearNodeShellFiles([node("a", 0), node("b", 1), node("c", 255, "ssh: connect to host c\nConnection refused\n")]);
    expect(ran).toEqual(["a: rm -rf /var/log/aftershock-gameday", "b: rm -rf /var/log/aftershock-gameday", "c: rm -rf /var/log/aftershock-gameday"]);
    expect(left.sort()).toEqual(["b: exit 1", "c: Connection refused"]);
  });
});
