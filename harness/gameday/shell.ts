import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse, stringify } from "yaml";
import { AftershockError } from "../../clusters/errors.js";
import { quote } from "../../clusters/exec.js";
import type { NodeCommandLine, NodeCommandMode, NodeHandle } from "../../clusters/contract.js";

/**
 * The player's side of a game day: the state file the game writes (how to reach the incident's cluster), and the
 * bash the game shell runs: KUBECONFIG set, kubectl on PATH, `nodes` and `node-shell <node>`, a prompt with the game
 * clock, and every command recorded to the game's command log (commands typed on a node come back to it too).
 */

export interface GameNode {
  /** The node's Kubernetes name (on kind, its container's too). */
  name: string;
  /** The name without the cluster's prefix: "control-plane", "worker2". */
  short: string;
  role: string;
  /**
   * How the player's shell reaches the node, from the node-shell capability (docker exec on kind, ssh on machines of
   * one's own), per mode; absent when the target offers no node shell (node-shell then says so).
   */
  commands?: Record<NodeCommandMode, NodeCommandLine>;
}

/** The node's command lines for the game state, from its handle in the node-shell capability (none without one). */
export function nodeCommands(handle: NodeHandle | undefined): GameNode["commands"] {
  if (!handle?.shellCommand) return undefined;
  return { tty: handle.shellCommand("tty"), stdin: handle.shellCommand("stdin"), none: handle.shellCommand("none") };
}

/** ~/.cache/aftershock/gameday/current.json: written by the game when it pages, removed when it ends. */
export interface GameState {
  version: 1;
  runId: string;
  /** The game's process: a state file whose process is gone is a game that ended without cleaning up. */
  pid: number;
  /** When the page went out (epoch ms): the game clock's zero. */
  pagedAt: number;
  cluster: string;
  /** The player's copy of the cluster's kubeconfig (the incident's namespace as its default, when it has one). */
  kubeconfig: string;
  namespace?: string;
  nodes: GameNode[];
  /** `<epoch ms>\t<command>` per line. */
  commandLog: string;
  /** The game's private files: rc files, shell history, the "running" marker. */
  dir: string;
  /** "kubectl" (on PATH) or the path of the one built with the node image. */
  kubectl: string;
  /** Helm built by this tool, when there is one (with its own homes), so every game's shell looks the same. */
  helm?: { bin: string; home: string };
}

export const gamedayDir = (cacheDir: string) => path.join(cacheDir, "gameday");
export const statePath = (cacheDir: string) => path.join(gamedayDir(cacheDir), "current.json");
/** Exists while the game runs; the shell's prompt says "game over" once it is gone. */
export const runningMarker = (s: Pick<GameState, "dir">) => path.join(s.dir, "running");

/** Where one game's files go: what it leaves behind (the report directory), what only it uses, and the state file. */
export interface GameFiles {
  /** <reports>/gameday-<run>: debrief.html, debrief.json, commands.log. */
  reportDir: string;
  commandLog: string;
  /** The game's private files (GameState.dir), removed when it ends. */
  dir: string;
  /** The state file the game shell joins (statePath). */
  state: string;
}

export function gameFiles(cacheDir: string, reportsDir: string, runId: string): GameFiles {
  const reportDir = path.join(reportsDir, `gameday-${runId}`);
  return { reportDir, commandLog: path.join(reportDir, "commands.log"), dir: path.join(gamedayDir(cacheDir), runId), state: statePath(cacheDir) };
}

/**
 * What the player gets when paged: an empty command log, the "running" marker, and a copy of the cluster's kubeconfig
 * (readable by its owner only, the incident's namespace as its default when given). Returns the copy's path.
 */
export async function writePlayerFiles(f: GameFiles, clusterKubeconfig: string, namespace: string | undefined, context?: string): Promise<string> {
  await mkdir(f.reportDir, { recursive: true });
  await mkdir(f.dir, { recursive: true });
  await writeFile(f.commandLog, "");
  await writeFile(runningMarker(f), "");
  const kubeconfig = path.join(f.dir, "kubeconfig");
  await writeFile(kubeconfig, withNamespace(withContext(await readFile(clusterKubeconfig, "utf8"), context), namespace), { mode: 0o600 });
  return kubeconfig;
}

/** The kubeconfig with `context` as its current one (a game on an existing cluster reached with --context); unchanged without one. */
export function withContext(kubeconfig: string, context: string | undefined): string {
  if (!context) return kubeconfig;
  const doc = parse(kubeconfig) as { "current-context"?: string; contexts?: { name: string }[] };
  if (!doc.contexts?.some((c) => c.name === context)) throw new AftershockError("E_CLUSTER", `the cluster's kubeconfig has no context ${context}`);
  if (doc["current-context"] === context) return kubeconfig;
  doc["current-context"] = context;
  return stringify(doc);
}

export function writeGameState(f: Pick<GameFiles, "state">, s: GameState): void {
  mkdirSync(path.dirname(f.state), { recursive: true });
  writeFileSync(f.state, JSON.stringify(s, null, 2));
}

/**
 * The game is over for the shells: the "running" marker goes, and the state file too if it is this run's (one left by
 * another game, or unreadable, stays). Synchronous, so it can run on process exit; harmless to repeat.
 */
export function forgetGame(f: Pick<GameFiles, "state" | "dir">, runId: string): void {
  for (const file of [f.state, runningMarker(f)]) {
    try {
      if (file !== f.state || (existsSync(f.state) && (JSON.parse(readFileSync(f.state, "utf8")) as GameState).runId === runId)) rmSync(file, { force: true });
    } catch {
      /* already gone */
    }
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The running game's state, or a one-line error when no game runs (no file, or its process is gone). */
export function readGameState(cacheDir: string, alive: (pid: number) => boolean = pidAlive): GameState {
  const file = statePath(cacheDir);
  const none = (why: string) => new AftershockError("E_BAD_INPUT", `no game day is running (${why})`, { hint: "start one with pnpm gameday" });
  if (!existsSync(file)) throw none(`no ${file}`);
  let s: GameState;
  try {
    s = JSON.parse(readFileSync(file, "utf8")) as GameState;
  } catch (e) {
    throw none(`${file} is not readable: ${(e as Error).message.split("\n")[0]}`);
  }
  if (s?.version !== 1 || typeof s.kubeconfig !== "string" || !Array.isArray(s.nodes)) throw none(`${file} is not a game's state`);
  if (!alive(s.pid)) throw none(`the game of run ${s.runId} (pid ${s.pid}) has ended`);
  return s;
}

/** The kubeconfig with `namespace` as its current context's default (what `kubectl config set-context --current --namespace` does). */
export function withNamespace(kubeconfig: string, namespace: string | undefined): string {
  if (!namespace) return kubeconfig;
  const doc = parse(kubeconfig) as { "current-context"?: string; contexts?: { name: string; context: Record<string, unknown> }[] };
  const ctx = doc.contexts?.find((c) => c.name === doc["current-context"]) ?? doc.contexts?.[0];
  if (!ctx) throw new AftershockError("E_CLUSTER", "the cluster's kubeconfig has no context");
  ctx.context = { ...ctx.context, namespace };
  return stringify(doc);
}

/** Where node-shell keeps its files inside a node. */
const NODE_DIR = "/var/log/aftershock-gameday";

/**
 * Removes node-shell's files (its rc file and the logs of what was typed, already copied to the game's command log)
 * from every node the game can reach, once the play has ended: a team's machine keeps nothing of the game. Returns
 * the nodes it could not clear, with why.
 */
export async function clearNodeShellFiles(nodes: readonly Pick<NodeHandle, "name" | "sh">[]): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      const r = await n.sh(`rm -rf ${NODE_DIR}`, { allowFailure: true, timeout: "30s" }).catch((e: unknown) => ({ exitCode: -1, stderr: String(e) }));
      if (r.exitCode !== 0) failed.push(`${n.name}: ${r.stderr.trim().split("\n").pop() || `exit ${r.exitCode}`}`);
    }),
  );
  return failed;
}

/**
 * The recorder both shells share: before each prompt, the last history entry, if it is new, goes to
 * $AFTERSHOCK_GAMEDAY_LOG as `<epoch ms>\t<prefix><command>`, timed when it started (a DEBUG trap notes the
 * first command after a prompt), so a node shell or a `kubectl get -w` is placed before what happened inside
 * it; and the game clock for the prompt.
 */
function recorder(prefix: string): string {
  return `unset HISTTIMEFORMAT
HISTCONTROL=
HISTIGNORE=
__AS_PREFIX=${prefix}
__as_ms() {
  REPLY=\${EPOCHREALTIME:-}
  REPLY=\${REPLY//[.,]/}
  if ((\${#REPLY} >= 16)); then REPLY=\${REPLY:0:13}; else REPLY=$(date +%s%3N); fi
}
__as_preexec() {
  [[ -n \${__as_armed:-} && $BASH_COMMAND != __as_prompt* ]] || return 0
  __as_armed=
  __as_ms
  __as_started=$REPLY
}
trap __as_preexec DEBUG
__as_prompt() {
  local status=$? line n cmd now s
  line=$(builtin history 1)
  if [[ $line =~ ^[[:space:]]*([0-9]+)[*]?[[:space:]]+(.*)$ ]]; then
    n=\${BASH_REMATCH[1]}
    cmd=\${BASH_REMATCH[2]}
    if [[ -z \${__as_seen:-} ]]; then
      __as_seen=$n # the first prompt: what is in the history already was typed before this shell
    elif [[ $n != "$__as_seen" ]]; then
      __as_seen=$n
      if [[ -n \${__as_started:-} ]]; then now=$__as_started; else __as_ms; now=$REPLY; fi
      cmd=\${cmd//$'\\n'/ }
      cmd=\${cmd//$'\\t'/ }
      printf '%s\\t%s%s\\n' "$now" "$__AS_PREFIX" "$cmd" >>"$AFTERSHOCK_GAMEDAY_LOG"
    fi
  else
    __as_seen=\${__as_seen:-0}
  fi
  now=\${EPOCHSECONDS:-$(date +%s)}
  s=$((now - AFTERSHOCK_GAMEDAY_PAGED_AT))
  if [[ -n \${AFTERSHOCK_GAMEDAY_RUNNING:-} && ! -e $AFTERSHOCK_GAMEDAY_RUNNING ]]; then
    __as_clock="game over"
  else
    printf -v __as_clock '%02d:%02d' $((s / 60)) $((s % 60))
  fi
  __as_started=
  __as_armed=1
  return $status
}
PROMPT_COMMAND=__as_prompt
`;
}

/**
 * `__as_on_node <index> <tty|stdin|none> <argv...>`: runs argv on a node the way its capability says (each node's
 * command lines are in the state file): appended as arguments (docker exec), or joined into one line quoted for the
 * node's shell (ssh). A node without command lines cannot be reached from the game shell.
 */
export function onNodeFunction(nodes: readonly GameNode[]): string {
  const words = (xs: string[]) => xs.map(quote).join(" ");
  const cases = nodes.flatMap((n, i) =>
    n.commands
      ? (["tty", "stdin", "none"] as const).map((mode) => {
          const c = n.commands![mode];
          return `    ${i}:${mode}) ${words(c.argv)} ${c.words === "argv" ? '"$@"' : '"$(__as_line "$@")"'} ;;`;
        })
      : [],
  );
  return `__as_line() {
  local out="" w
  for w in "$@"; do
    printf -v w '%q' "$w"
    out+="\${out:+ }$w"
  done
  printf '%s' "$out"
}
__as_on_node() {
  local i=$1 mode=$2
  shift 2
  case "$i:$mode" in
${cases.join("\n")}${cases.length ? "\n" : ""}    *)
      echo "node-shell: this cluster's node \${__as_node_names[$i]} cannot be reached from here (no node shell)" >&2
      return 1
      ;;
  esac
}
`;
}

/** The rc file of `pnpm gameday shell` (bash --rcfile): everything the player needs, and the recording. */
export function shellRc(s: GameState, nodeRcPath: string): string {
  const arr = (xs: string[]) => `(${xs.map(quote).join(" ")})`;
  const pathDirs = [...(path.isAbsolute(s.kubectl) ? [path.dirname(s.kubectl)] : []), ...(s.helm ? [path.dirname(s.helm.bin)] : [])];
  return `# Aftershock game day shell, run ${s.runId} (written by pnpm gameday shell)
if [[ -f ~/.bashrc ]]; then source ~/.bashrc; fi
export KUBECONFIG=${quote(s.kubeconfig)}
export AFTERSHOCK_GAMEDAY_LOG=${quote(s.commandLog)}
export AFTERSHOCK_GAMEDAY_PAGED_AT=${Math.floor(s.pagedAt / 1000)}
export AFTERSHOCK_GAMEDAY_RUNNING=${quote(runningMarker(s))}
${pathDirs.length ? `export PATH=${pathDirs.map(quote).join(":")}:"$PATH"\n` : ""}${
    s.helm
      ? `export HELM_CONFIG_HOME=${quote(path.join(s.helm.home, "config"))} HELM_CACHE_HOME=${quote(path.join(s.helm.home, "cache"))} HELM_DATA_HOME=${quote(path.join(s.helm.home, "data"))}\n`
      : ""
  }HISTFILE=${quote(path.join(s.dir, "bash_history"))}
__as_node_names=${arr(s.nodes.map((n) => n.name))}
__as_node_short=${arr(s.nodes.map((n) => n.short))}
__as_node_roles=${arr(s.nodes.map((n) => n.role))}
__AS_NODE_RC=${quote(nodeRcPath)}

# The cluster's machines.
nodes() {
  local i
  for i in "\${!__as_node_names[@]}"; do printf '%-16s %-14s %s\\n' "\${__as_node_short[$i]}" "\${__as_node_roles[$i]}" "\${__as_node_names[$i]}"; done
}

${onNodeFunction(s.nodes)}
# A root shell on a node (docker exec -it on kind, ssh -t on machines of one's own); what you type there is recorded too.
node-shell() {
  local want=\${1:-} i idx="" name="" short="" session d=${NODE_DIR}
  if [[ -z $want ]]; then
    echo "usage: node-shell <node>   (nodes: \${__as_node_short[*]})" >&2
    return 2
  fi
  for i in "\${!__as_node_names[@]}"; do
    if [[ $want == "\${__as_node_names[$i]}" || $want == "\${__as_node_short[$i]}" ]]; then
      idx=$i
      name=\${__as_node_names[$i]}
      short=\${__as_node_short[$i]}
    fi
  done
  if [[ -z $name ]]; then
    echo "node-shell: no node \\"$want\\" (nodes: \${__as_node_short[*]})" >&2
    return 2
  fi
  if ! __as_on_node "$idx" stdin sh -c "mkdir -p $d && cat >$d/rc" <"$__AS_NODE_RC" 2>/dev/null; then
    echo "node-shell: cannot reach $name (is the machine still there?)" >&2
    return 1
  fi
  session="$$-$RANDOM"
  # What is typed on the node comes back to this host's log while the node's shell lives.
  (__as_on_node "$idx" none bash -c "for i in \\$(seq 1 150); do [[ -s $d/$session.pid ]] && break; sleep 0.2; done; touch $d/$session.log; exec tail -n +1 -F --pid=\\$(cat $d/$session.pid) $d/$session.log" >>"$AFTERSHOCK_GAMEDAY_LOG" 2>/dev/null &)
  __as_on_node "$idx" tty env AS_NODE="$short" AS_LOG="$d/$session.log" AS_PIDFILE="$d/$session.pid" \\
    AFTERSHOCK_GAMEDAY_PAGED_AT="$AFTERSHOCK_GAMEDAY_PAGED_AT" bash --rcfile "$d/rc" -i
}

${recorder('""')}PS1='[gameday \${__as_clock}] \\w \\$ '
echo "Game day shell (run ${s.runId}): kubectl reaches the cluster${s.namespace ? ` (namespace ${s.namespace} by default)` : ""}; nodes lists its machines; node-shell <node> opens a root shell on one."
echo "Every command you type here, and on the nodes, is recorded for the debrief."
`;
}

/** The rc file node-shell copies into a node: the same recorder, writing to a log that node-shell streams back. */
export function nodeRc(): string {
  return `# Aftershock game day shell on a node (written by pnpm gameday shell)
if [[ -f /etc/bash.bashrc ]]; then source /etc/bash.bashrc; fi
if [[ -f ~/.bashrc ]]; then source ~/.bashrc; fi
echo $$ >"$AS_PIDFILE"
# The shell's history file beside its log, in node-shell's own directory, which the game removes: the machine's
# root keeps no ~/.bash_history of the game.
HISTFILE=\${AS_LOG%.log}.history
if [[ -f /etc/kubernetes/admin.conf ]]; then export KUBECONFIG=/etc/kubernetes/admin.conf; fi
export AFTERSHOCK_GAMEDAY_LOG=$AS_LOG
${recorder('"[node $AS_NODE] "')}PS1='[gameday \${__as_clock}] \\u@$AS_NODE:\\w\\$ '
`;
}
