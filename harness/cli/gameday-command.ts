import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { AftershockError, formatDuration, parseDuration } from "../../clusters/errors.js";
import { defaultCacheDir } from "../../clusters/images/builder.js";
import { ensureHostTools, helmHome } from "../../clusters/images/host-tools.js";
import { kubectlForPeople } from "../../clusters/kind/provider.js";
import type { Progress, StepHandle } from "../../clusters/progress.js";
import { registerTeardown } from "../../clusters/teardown.js";
import { historyDir, readHistory } from "../history.js";
import { loadAll } from "../registry.js";
import type { Reporter } from "../reporters/reporter.js";
import type { RunJournal } from "../runner.js";
import { healthProbes } from "../scenario.js";
import type { ScenarioContext } from "../types.js";
import { gameDayHints, renderPage, severityOf } from "../gameday/alert.js";
import { parseCommandLog } from "../gameday/commands.js";
import { debriefHtml, debriefText, type GameRecord } from "../gameday/debrief.js";
import { drawScenario, type DrawFilter, type GameDayScenario } from "../gameday/draw.js";
import { HINT_COST, HINT_EVERY_MS, referenceTime, score, type GameOutcome } from "../gameday/score.js";
import { bindKeys, GameSession } from "../gameday/session.js";
import { gamedayDir, nodeRc, readGameState, runningMarker, shellRc, statePath, withNamespace, type GameNode, type GameState } from "../gameday/shell.js";
import { REPORTS_DIR, runScenarios } from "./scenario-command.js";

/**
 * pnpm gameday: a break-fix exercise on a real cluster. One game-day scenario matching the player's tag or
 * difficulty is drawn (never named), prepared and broken quietly; the player is paged with symptoms only, works
 * from `pnpm gameday shell` (every command recorded), takes hints or gives up, and verification polled in the
 * background ends the game by itself. The debrief then reveals the scenario and puts the player's timeline beside
 * the reference runbook.
 */

export interface GamedayOptions extends DrawFilter {
  seed?: number;
  version: string;
}

const out = (line: string) => void process.stdout.write(line + "\n");

/** Progress that says nothing: building an image or loading one into the cluster would name what is coming. */
const silent: Progress = {
  step: (): StepHandle => ({ detail: () => {}, done: () => {}, skip: () => {}, fail: () => {} }),
  info: () => {},
  warn: () => {},
};

/** Everything that can be refused before anything is created: the draw (no match), the terminal, a game already running. */
export async function prepareGame(o: GamedayOptions, stdinIsTTY: boolean, cacheDir = defaultCacheDir()): Promise<{ scenario: GameDayScenario; of: number }> {
  const drawn = drawScenario(await loadAll(), o, o.seed);
  if (!stdinIsTTY)
    throw new AftershockError("E_BAD_INPUT", "pnpm gameday needs an interactive terminal (stdin is not a TTY)", {
      hint: "run it in a terminal, not a pipe or CI",
    });
  let running: GameState | undefined;
  try {
    running = readGameState(cacheDir);
  } catch {
    running = undefined;
  }
  if (running) throw new AftershockError("E_BAD_INPUT", `a game day is already running (run ${running.runId}, pid ${running.pid})`, { hint: "one at a time" });
  return drawn;
}

/** Helm built by this tool, when there is one: on the game shell's PATH for every game, so its presence says nothing. */
function builtHelm(cacheDir: string): { bin: string; home: string } | undefined {
  const goDir = path.join(cacheDir, "go");
  if (!existsSync(goDir)) return undefined;
  const bin = readdirSync(goDir)
    .filter((d) => d.startsWith("helm-"))
    .map((d) => path.join(goDir, d, "bin", "helm"))
    .find((f) => existsSync(f));
  return bin ? { bin, home: helmHome(cacheDir) } : undefined;
}

/** The node containers of the run's cluster, from the journal (every game cluster is a kind cluster). */
export function gameNodes(cluster: string, names: string[]): GameNode[] {
  return names.map((name) => ({
    name,
    short: name.startsWith(`${cluster}-`) ? name.slice(cluster.length + 1) : name,
    role: /control-plane/.test(name) ? "control-plane" : "worker",
  }));
}

export async function gamedayCommand(o: GamedayOptions, stdinIsTTY = !!process.stdin.isTTY): Promise<number> {
  const cacheDir = defaultCacheDir();
  const { scenario, of } = await prepareGame(o, stdinIsTTY, cacheDir);
  const runId = randomBytes(4).toString("hex");
  const hints = gameDayHints(scenario);
  const hintEveryMs = process.env.AFTERSHOCK_GAMEDAY_HINT_EVERY ? parseDuration(process.env.AFTERSHOCK_GAMEDAY_HINT_EVERY) : HINT_EVERY_MS;
  const pollMs = process.env.AFTERSHOCK_GAMEDAY_POLL ? parseDuration(process.env.AFTERSHOCK_GAMEDAY_POLL) : 7000;
  const reportDir = path.join(REPORTS_DIR, `gameday-${runId}`);
  const privateDir = path.join(gamedayDir(cacheDir), runId);
  const commandLog = path.join(reportDir, "commands.log");
  const state = statePath(cacheDir);
  let session: GameSession | undefined;
  const live = gameReporter(out);

  out(
    `gameday: one of ${of} incident${of === 1 ? "" : "s"} was drawn${o.seed !== undefined ? ` (seed ${o.seed})` : ""}; run ${runId}. You will be paged when it happens.`,
  );

  // Whatever ends the game (the end of the run, Ctrl-C, q), the state file goes: a shell must not reach a deleted cluster.
  const forget = () => {
    for (const f of [state, runningMarker({ dir: privateDir })]) {
      try {
        if (f !== state || (existsSync(state) && (JSON.parse(readFileSync(state, "utf8")) as GameState).runId === runId)) rmSync(f, { force: true });
      } catch {
        /* already gone */
      }
    }
  };
  process.on("exit", forget);

  const finishGame = async (j: RunJournal | undefined, interrupted: boolean): Promise<string> => {
    forget();
    // The player's kubeconfig and rc files: the cluster is gone (a shell still open says "game over" in its prompt).
    rmSync(privateDir, { recursive: true, force: true });
    // In the order they were typed: a node-shell line is written when that shell ends, after the node's own commands.
    const commands = (existsSync(commandLog) ? parseCommandLog(await readFile(commandLog, "utf8")) : []).sort((a, b) => a.at - b.at);
    const outcome = gameOutcome(session, j, interrupted);
    const reference = referenceTime(await readHistory(historyDir()), scenario, scenario.gameDay.difficulty);
    const record: GameRecord = {
      runId,
      scenario: { id: scenario.id, title: scenario.title, summary: scenario.summary, source: scenario.source },
      difficulty: scenario.gameDay.difficulty,
      severity: severityOf(scenario),
      alert: scenario.gameDay.alert,
      ...(session ? { pagedAt: session.pagedAt } : {}),
      endedAt: Date.now(),
      outcome,
      ...(session?.recoveredAt !== undefined ? { recoveredAt: session.recoveredAt } : {}),
      ...(session?.gaveUpAt !== undefined ? { gaveUpAt: session.gaveUpAt } : {}),
      hints: session?.reveals ?? [],
      hintsTotal: hints.length,
      commands,
      cause: scenario.gameDay.cause,
      runbook: scenario.runbook.map((s) => ({ title: s.title, shows: s.shows })),
      reference,
      score: score({
        outcome,
        hintsAsked: session?.reveals.filter((h) => h.how === "asked").length ?? 0,
        ...(session?.recoveredAt !== undefined ? { recoverMs: session.recoveredAt - session.pagedAt } : {}),
        referenceMs: reference.ms,
      }),
      run: {
        outcome: j?.outcome ?? "interrupted",
        reason: j?.reason ?? "interrupted",
        ...(j ? { report: `../${j.scenario.id}-${j.runId}/report.html` } : {}),
      },
    };
    await mkdir(reportDir, { recursive: true });
    const html = path.join(reportDir, "debrief.html");
    await writeFile(html, debriefHtml(record));
    await writeFile(path.join(reportDir, "debrief.json"), JSON.stringify({ ...record, cause: record.cause.map(String) }, null, 2));
    return debriefText(record, path.relative(process.cwd(), html));
  };

  // Ctrl-C or q: the signal handling tears the run down (newest first), then this writes the debrief, last.
  const unregister = registerTeardown("write the game-day debrief", async () => {
    session?.stop();
    out(await finishGame(live.journal, true));
  });

  const manualRecovery = async (ctx: ScenarioContext): Promise<void | "runbook"> => {
    const j = live.journal;
    const cluster = j?.cluster?.name ?? ctx.cluster.name;
    await mkdir(reportDir, { recursive: true });
    await mkdir(privateDir, { recursive: true });
    await writeFile(commandLog, "");
    await writeFile(runningMarker({ dir: privateDir }), "");
    const kubeconfig = path.join(privateDir, "kubeconfig");
    await writeFile(kubeconfig, withNamespace(await readFile(ctx.cluster.kubeconfigPath, "utf8"), scenario.scope === "namespace" ? ctx.namespace : undefined), {
      mode: 0o600,
    });
    const nodes = gameNodes(cluster, j?.cluster?.nodes ?? []);
    session = new GameSession({
      hints,
      probes: healthProbes(scenario),
      commandLog,
      write: out,
      hintEveryMs,
      pollMs,
      onAbort: () => {
        unbind();
        process.kill(process.pid, "SIGINT");
      },
    });
    const helm = builtHelm(cacheDir);
    const s: GameState = {
      version: 1,
      runId,
      pid: process.pid,
      pagedAt: session.pagedAt,
      cluster,
      kubeconfig,
      ...(scenario.scope === "namespace" ? { namespace: ctx.namespace } : {}),
      nodes,
      commandLog,
      dir: privateDir,
      kubectl: await kubectlForPeople(cacheDir, o.version),
      ...(helm ? { helm } : {}),
    };
    mkdirSync(path.dirname(state), { recursive: true });
    writeFileSync(state, JSON.stringify(s, null, 2));
    out(
      "\n" +
        renderPage({
          severity: severityOf(scenario),
          alert: scenario.gameDay.alert,
          firedAt: new Date(session.pagedAt),
          cluster,
          nodes: nodes.length,
          kubeconfig,
          hintEveryMs,
          hintCost: HINT_COST,
        }),
    );
    const current = session;
    const unbind = bindKeys(process.stdin, (k) => current.key(k));
    let end: Awaited<ReturnType<GameSession["play"]>>;
    try {
      end = await current.play(ctx);
    } finally {
      unbind();
      current.stop();
    }
    if (end === "recovered") return;
    live.reveal = true;
    out(`the runbook (${scenario.runbook.length} step${scenario.runbook.length === 1 ? "" : "s"}):`);
    scenario.runbook.forEach((st, i) => {
      out(`  ${i + 1}. ${st.title}`);
      for (const l of st.shows.split("\n")) out(`      $ ${l}`);
    });
    return "runbook";
  };

  let journal: RunJournal;
  live.begin();
  // Helm on every game shell's PATH, whatever the scenario: built (silently) if this machine has not built it yet.
  await ensureHostTools(["helm"], cacheDir, silent).catch(() => undefined);
  try {
    [journal] = (await runScenarios([{ scenario }], {
      version: o.version,
      keep: false,
      reporters: ["json", "junit", "html"],
      gameDay: false,
      progress: silent,
      game: { live, manualRecovery, runId, namespace: `as-${runId}-gameday` },
    })) as [RunJournal];
  } finally {
    unregister();
  }
  out("\n" + (await finishGame(journal, false)));
  return journal.exitCode;
}

/** How the game ended, from the session (page, recovery, give-up) and the run's verdict. */
export function gameOutcome(
  s: Pick<GameSession, "recoveredAt" | "gaveUpAt" | "abortedAt"> | undefined,
  j: Pick<RunJournal, "outcome"> | undefined,
  interrupted: boolean,
): GameOutcome {
  if (!s) return interrupted ? "aborted" : "not-started";
  if (s.gaveUpAt !== undefined) return "gave-up";
  if (interrupted || s.abortedAt !== undefined) return "aborted";
  if (s.recoveredAt !== undefined && j?.outcome === "passed") return "recovered";
  if (s.recoveredAt !== undefined && j?.outcome === "data-lost") return "data-lost";
  return "not-recovered";
}

/**
 * The game's live reporter: neutral progress only (never the scenario, its fault, symptoms or runbook) until the
 * player gives up, when the runbook's steps are shown as they run.
 */
export type GameReporter = Reporter & {
  /** Says "preparing your cluster …" and keeps saying it is still at it: from before the node image and tools are found or built. */
  begin(): void;
  reveal: boolean;
  journal?: RunJournal;
};

export function gameReporter(write: (line: string) => void): GameReporter {
  let heartbeat: NodeJS.Timeout | undefined;
  let began = 0;
  const stopHeartbeat = () => {
    clearInterval(heartbeat);
    heartbeat = undefined;
  };
  const r: GameReporter = {
    name: "gameday",
    reveal: false,
    begin() {
      if (began) return;
      began = Date.now();
      write("preparing your cluster …");
      heartbeat = setInterval(() => write(`  … still preparing (${formatDuration(Date.now() - began)})`), 30_000);
      heartbeat.unref();
    },
    onRunBegin(j) {
      r.journal = j;
      r.begin();
    },
    onPhaseBegin(p) {
      if (p.name === "inject") {
        stopHeartbeat();
        write("something is about to go wrong…");
      } else if (p.name === "verify") write("verifying the recovery (health, and the data written before the incident) …");
      else if (p.name === "teardown") write("cleaning up the cluster …");
    },
    onPhaseEnd(p) {
      if (p.name === "steady-state" && p.status === "passed") write(`… ready (${formatDuration(Date.now() - began)})`);
      else if (p.name === "verify") write(p.status === "passed" ? "verified" : "verification failed (the debrief says why)");
      else if (p.name === "teardown") write("cleaned up");
      else if (p.status === "failed" && !["runbook", "teardown"].includes(p.name)) {
        stopHeartbeat();
        write(`the game could not go on: the ${p.name} phase failed (the debrief and the run's report say why)`);
      }
    },
    onStepBegin(s, p) {
      if (!r.reveal || p.name !== "runbook" || s.title.startsWith("manual recovery")) return;
      write(`  → ${s.title}`);
    },
    onStepEnd(s, p) {
      if (!r.reveal || p.name !== "runbook" || s.title.startsWith("manual recovery")) return;
      write(`  ${s.ok ? "✓" : "✗"} ${s.title} [${formatDuration(s.endedAt - s.startedAt)}]${s.error ? `: ${s.error}` : ""}`);
      if (s.output) for (const l of s.output.trim().split("\n").slice(0, 6)) write(`      ${l}`);
    },
    onRunEnd() {
      stopHeartbeat();
    },
  };
  return r;
}

/** pnpm gameday shell: bash with the game's cluster, helpers and recording (see harness/gameday/shell.ts). */
export function gamedayShell(cacheDir = defaultCacheDir()): number {
  const s = readGameState(cacheDir);
  mkdirSync(s.dir, { recursive: true });
  const nodeRcPath = path.join(s.dir, "node.rc");
  writeFileSync(nodeRcPath, nodeRc());
  const rc = path.join(s.dir, "shell.rc");
  writeFileSync(rc, shellRc(s, nodeRcPath));
  // Ctrl-C belongs to the shell and what runs in it, not to this process waiting for it.
  process.removeAllListeners("SIGINT");
  process.on("SIGINT", () => {});
  const r = spawnSync("bash", ["--rcfile", rc, "-i"], { stdio: "inherit" });
  return r.status ?? 1;
}
