import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AftershockError, formatDuration } from "../../clusters/errors.js";
import { defaultCacheDir } from "../../clusters/images/builder.js";
import { ensureHostTools, helmHome } from "../../clusters/images/host-tools.js";
import { kubectlForPeople } from "../../clusters/kind/provider.js";
import type { Progress, StepHandle } from "../../clusters/progress.js";
import { registerTeardown } from "../../clusters/teardown.js";
import { historyDir, readHistory } from "../reports/history.js";
import { loadAll } from "../engine/registry.js";
import type { Reporter } from "../engine/reporter.js";
import type { RunJournal } from "../engine/journal.js";
import { healthProbes } from "../model/scenario.js";
import type { NodeShell } from "../../clusters/contract.js";
import type { ScenarioContext } from "../model/context.js";
import { gameDayHints, renderPage, runbookSteps, severityOf } from "../gameday/alert.js";
import { readCommandLog } from "../gameday/commands.js";
import { debriefText, gameRecord, writeDebrief } from "../gameday/debrief.js";
import { drawScenario, type DrawFilter, type GameDayScenario } from "../gameday/draw.js";
import { HINT_COST, referenceTime, type GameOutcome } from "../gameday/score.js";
import { bindKeys, gamePace, GameSession, type GamePace, type SessionEnd } from "../gameday/session.js";
import {
  clearNodeShellFiles,
  forgetGame,
  gameFiles,
  nodeCommands,
  nodeRc,
  readGameState,
  shellRc,
  writeGameState,
  writePlayerFiles,
  type GameFiles,
  type GameNode,
  type GameState,
} from "../gameday/shell.js";
import { describeTarget, existingClusters, type ExistingTarget } from "../../clusters/existing.js";
import type { Scenario } from "../model/scenario.js";
import { candidates } from "../gameday/draw.js";
import { leftOutText, REPORTS_DIR, runScenarios, servedScenarios } from "./scenario-command.js";

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
  /** --kubeconfig … --existing-cluster [--nodes …]: the game on a cluster this tool did not create (its machines over ssh). */
  existing?: ExistingTarget;
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
  const drawn = drawScenario(drawable(await loadAll(), o), o, o.seed);
  // The pace's environment (AFTERSHOCK_GAMEDAY_HINT_EVERY, _POLL) is read now, not after the draw was announced.
  gamePace(process.env);
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

/**
 * What a game may draw from: every scenario, or, on an existing cluster, those it can serve (its capabilities, and
 * cluster-wide incidents only with --allow-cluster-faults). When the filter matches game-day scenarios and the cluster
 * serves none of them, a one-line E_CAPABILITY says why each is left out (it would otherwise read as "no such tag").
 */
export function drawable(all: Scenario[], o: Pick<GamedayOptions, "existing" | "tag" | "difficulty">): Scenario[] {
  if (!o.existing) return all;
  const { served, left } = servedScenarios(all, existingClusters(o.existing, silent));
  const asked = candidates(all, o);
  if (asked.length && !candidates(served, o).length) {
    const ids = new Set(asked.map((s) => s.id));
    throw new AftershockError(
      "E_CAPABILITY",
      `none of the ${asked.length} game-day scenario${asked.length === 1 ? "" : "s"} asked for can run on ${describeTarget(o.existing)}: ${leftOutText(left.filter((l) => ids.has(l.id)))}`,
      {
        hint: o.existing.allowClusterFaults
          ? "give --nodes inventory.yaml for the machines, --registry for images and load"
          : "incidents of the whole cluster need --nodes inventory.yaml and --allow-cluster-faults CONTEXT",
      },
    );
  }
  return served;
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

/** The run's nodes, from the journal, each with how the player's shell reaches it (from the target's node shell). */
export function gameNodes(cluster: string, names: string[], shell?: NodeShell): GameNode[] {
  return names.map((name) => {
    const handle = shell?.nodes.find((n) => n.name === name);
    const commands = nodeCommands(handle);
    return {
      name,
      short: name.startsWith(`${cluster}-`) ? name.slice(cluster.length + 1) : name,
      role: handle?.role ?? (/control-plane/.test(name) ? "control-plane" : "worker"),
      ...(commands ? { commands } : {}),
    };
  });
}

export async function gamedayCommand(o: GamedayOptions, stdinIsTTY = !!process.stdin.isTTY): Promise<number> {
  const cacheDir = defaultCacheDir();
  // The draw: one incident matching the filter, never named.
  const { scenario, of } = await prepareGame(o, stdinIsTTY, cacheDir);
  const game = new GameDay(scenario, cacheDir, o.version, o.existing);
  out(drawAnnouncement(of, o.seed, game.runId));
  // The cluster prepared and broken quietly, then the page and the play (clock, hints, commands, recovery polled),
  // the runbook if the player gives up, verification and teardown: one run of the scenario, the game as its recovery.
  const journal = await game.run();
  // The debrief: the scenario revealed, the player's timeline beside the runbook, the score.
  out("\n" + (await game.debrief(journal, false)));
  return journal.exitCode;
}

/** The game's first line: how many incidents the draw chose from, and the run (never which incident). */
export function drawAnnouncement(of: number, seed: number | undefined, runId: string): string {
  return `gameday: one of ${of} incident${of === 1 ? "" : "s"} was drawn${seed !== undefined ? ` (seed ${seed})` : ""}; run ${runId}. You will be paged when it happens.`;
}

/**
 * One game day, from the drawn scenario to the debrief. run() hands the scenario to the runner, which prepares the
 * cluster and breaks it quietly, then calls recover() in place of the runbook: the player is paged and plays (clock,
 * commands, hints, recovery polled); on giving up the runbook runs in view. debrief() ends the game, however it ended.
 */
class GameDay {
  readonly runId = randomBytes(4).toString("hex");
  private readonly hints: string[];
  private readonly pace: GamePace;
  private readonly files: GameFiles;
  private readonly live = gameReporter(out);
  /** From the page on. */
  private session: GameSession | undefined;
  private unbindKeys: (() => void) | undefined;

  constructor(
    private readonly scenario: GameDayScenario,
    private readonly cacheDir: string,
    private readonly version: string,
    private readonly existing?: ExistingTarget,
  ) {
    this.hints = gameDayHints(scenario);
    this.pace = gamePace(process.env);
    this.files = gameFiles(cacheDir, REPORTS_DIR, this.runId);
  }

  /** The scenario's run, with the game as its live reporter and its manual recovery. */
  async run(): Promise<RunJournal> {
    // Whatever ends the game (the end of the run, Ctrl-C, q), the state file goes: a shell must not reach a deleted cluster.
    process.on("exit", () => this.forget());
    // Ctrl-C or q: the signal handling tears the run down (newest first), then this writes the debrief, last.
    const unregister = registerTeardown("write the game-day debrief", async () => {
      this.session?.stop();
      out(await this.debrief(this.live.journal, true));
    });
    this.live.begin();
    // Helm on every game shell's PATH, whatever the scenario: built (silently) if this machine has not built it yet.
    await ensureHostTools(["helm"], this.cacheDir, silent).catch(() => undefined);
    try {
      const [journal] = (await runScenarios([{ scenario: this.scenario }], {
        version: this.version,
        keep: false,
        reporters: ["json", "junit", "html"],
        gameDay: false,
        progress: silent,
        ...(this.existing ? { existing: this.existing } : {}),
        game: {
          live: this.live,
          manualRecovery: (ctx, machines) => this.recover(ctx, machines.shell),
          runId: this.runId,
          namespace: `as-${this.runId}-gameday`,
        },
      })) as [RunJournal];
      return journal;
    } finally {
      unregister();
    }
  }

  /** The runner's manual recovery: page, play; recovered, the run verifies; given up, the runbook runs, shown step by step. */
  private async recover(ctx: ScenarioContext, shell: NodeShell | undefined): Promise<void | "runbook"> {
    const session = await this.page(ctx, shell);
    const ended = await this.play(session, ctx);
    const left = shell ? await clearNodeShellFiles(shell.nodes) : [];
    if (left.length) ctx.evidence("gameday", `node-shell's files could not be removed: ${left.join("; ")}`);
    if (ended === "recovered") return;
    this.live.reveal = true;
    for (const line of runbookSteps(this.scenario.runbook)) out(line);
    return "runbook";
  }

  /** The player's files, the session (the game clock starts), the state file `pnpm gameday shell` joins, then the page. */
  private async page(ctx: ScenarioContext, shell: NodeShell | undefined): Promise<GameSession> {
    const j = this.live.journal;
    const cluster = j?.cluster?.name ?? ctx.cluster.name;
    const namespaced = this.scenario.scope === "namespace";
    const kubeconfig = await writePlayerFiles(this.files, ctx.cluster.kubeconfigPath, namespaced ? ctx.namespace : undefined, ctx.cluster.kubeContext);
    const nodes = gameNodes(cluster, j?.cluster?.nodes ?? [], shell);
    const session = (this.session = new GameSession({
      hints: this.hints,
      probes: healthProbes(this.scenario),
      commandLog: this.files.commandLog,
      write: out,
      hintEveryMs: this.pace.hintEveryMs,
      pollMs: this.pace.pollMs,
      onAbort: () => {
        this.unbindKeys?.();
        process.kill(process.pid, "SIGINT");
      },
    }));
    const helm = builtHelm(this.cacheDir);
    writeGameState(this.files, {
      version: 1,
      runId: this.runId,
      pid: process.pid,
      pagedAt: session.pagedAt,
      cluster,
      kubeconfig,
      ...(namespaced ? { namespace: ctx.namespace } : {}),
      nodes,
      commandLog: this.files.commandLog,
      dir: this.files.dir,
      kubectl: await kubectlForPeople(this.cacheDir, this.version),
      ...(helm ? { helm } : {}),
    });
    out(
      "\n" +
        renderPage({
          severity: severityOf(this.scenario),
          alert: this.scenario.gameDay.alert,
          firedAt: new Date(session.pagedAt),
          cluster,
          nodes: nodes.length,
          kubeconfig,
          hintEveryMs: this.pace.hintEveryMs,
          hintCost: HINT_COST,
        }),
    );
    return session;
  }

  /** The terminal's keys go to the session until it ends: recovered, or given up (q and Ctrl-C abort through the signal handling). */
  private async play(session: GameSession, ctx: ScenarioContext): Promise<SessionEnd> {
    const unbind = (this.unbindKeys = bindKeys(process.stdin, (k) => session.key(k)));
    try {
      return await session.play(ctx);
    } finally {
      unbind();
      session.stop();
    }
  }

  /** Ends the game for the shells, then writes debrief.html and debrief.json; returns the console's summary (`debrief: <path>` first). */
  async debrief(j: RunJournal | undefined, interrupted: boolean): Promise<string> {
    this.forget();
    // The player's kubeconfig and rc files: the cluster is gone (a shell still open says "game over" in its prompt).
    rmSync(this.files.dir, { recursive: true, force: true });
    const commands = await readCommandLog(this.files.commandLog);
    const outcome = gameOutcome(this.session, j, interrupted);
    const reference = referenceTime(await readHistory(historyDir()), this.scenario, this.scenario.gameDay.difficulty);
    const record = gameRecord({
      runId: this.runId,
      scenario: this.scenario,
      session: this.session,
      journal: j,
      outcome,
      commands,
      reference,
      endedAt: Date.now(),
    });
    const html = await writeDebrief(this.files.reportDir, record);
    return debriefText(record, path.relative(process.cwd(), html));
  }

  private forget(): void {
    forgetGame(this.files, this.runId);
  }
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
