import { nodeShell, type NodeHandle } from "../../clusters/contract.js";
import { AftershockError, type Duration } from "../../clusters/errors.js";
import { quote, type RunOptions } from "../../clusters/exec.js";
import type { ScenarioContext } from "../model/context.js";
import { helm } from "./workloads/helm.js";
import { kubectlIn, kubectlLook } from "./workloads/workloads.js";

/**
 * A runbook step's command written once: what the step shows (--dry-run, reports, game days) and what it runs come
 * from the same template, so they cannot drift apart. `step("restart the kubelet", onControlPlane\`systemctl restart
 * kubelet\`)`. Each interpolated value is one argument (an array, several), shown quoted as zx's `$` shows it; a value
 * known only when the step runs is atRun("<pod>", (ctx) => …), shown as its placeholder. The text around them is split
 * on spaces and may hold no shell syntax (no pipes, quotes, globs or redirections: nothing runs through a shell), but
 * may end in a `# comment` for the reader, shown and not run. `.keep(fn)` keeps part of what the command printed as the
 * step's evidence. On nodes: onNode(pick)`…` (options: its own time limit, a failure shown rather than thrown),
 * onEachNode({ each, pick })`…` for the same command on each of several nodes. Where the step shows a summary of a
 * longer script, write step(title, shows, run) instead.
 */
export interface Command {
  readonly shows: string;
  run(ctx: ScenarioContext): Promise<string>;
  /** The same command, keeping fn(what it printed) as the step's evidence (a filter, a verdict, a table beside it). */
  keep(fn: (out: string, ctx: ScenarioContext) => string | Promise<string>): Command;
}

type Word = string | number;

/** A value the step learns when it runs (a pod's name, a selector): shown as `shows`, run as what `value` returns. */
export interface AtRun {
  readonly shows: string;
  value(ctx: ScenarioContext): Word | Word[] | Promise<Word | Word[]>;
}

/** A value known only when the step runs, shown as its placeholder: atRun("<pod>", (ctx) => podOf(ctx)). */
export const atRun = (shows: string, value: AtRun["value"]): AtRun => ({ shows, value });

type Value = Word | Word[] | AtRun;

const isAtRun = (v: Value): v is AtRun => typeof v === "object" && !Array.isArray(v);

/** Splits text and values into argv; values already resolved. */
function split(strings: readonly string[], values: (Word | Word[])[]): string[] {
  const argv: string[] = [];
  /** The word being written: a value next to text (app=${name}) is part of the same word. */
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) argv.push(word);
    word = undefined;
  };
  strings.forEach((part, i) => {
    for (const c of part)
      if (/\s/.test(c)) end();
      else word = (word ?? "") + c;
    if (i < values.length) {
      const v = values[i]!;
      (Array.isArray(v) ? v : [v]).map(String).forEach((x, j) => {
        if (j > 0) end();
        word = (word ?? "") + x;
      });
    }
  });
  end();
  return argv;
}

/** The command's words (when it runs) and how it reads; shell syntax in the written text is refused where the step is defined. */
function words(strings: TemplateStringsArray, values: Value[]): { argv: (ctx: ScenarioContext) => Promise<string[]>; text: string } {
  const parts = [...strings];
  // A trailing `# comment` (after a space) is for the reader: shown, not run.
  const last = parts.length - 1;
  const comment = /(\s+#.*)$/s.exec(parts[last]!);
  if (comment) parts[last] = parts[last]!.slice(0, comment.index);
  parts.forEach((part) => {
    if (/[|&;<>()$`"'*?\\]|(^|\s)#/.test(part))
      throw new AftershockError("E_BAD_INPUT", `a command step runs no shell: write step(title, shows, run) for "${part.trim()}"`);
  });
  let text = "";
  parts.forEach((part, i) => {
    text += part;
    if (i < values.length) {
      const v = values[i]!;
      text += isAtRun(v) ? v.shows : (Array.isArray(v) ? v : [v]).map(quote).join(" ");
    }
  });
  text = text.trim() + (comment?.[1] ?? "");
  return {
    argv: async (ctx) => split(parts, await Promise.all(values.map((v) => (isAtRun(v) ? v.value(ctx) : v)))),
    text,
  };
}

/** A Command from what it shows and how it runs. */
export function command(shows: string, run: (ctx: ScenarioContext) => Promise<string>): Command {
  return { shows, run, keep: (fn) => command(shows, async (ctx) => fn(await run(ctx), ctx)) };
}

/** Several commands as one step, run in turn: shown a line each, what each printed kept under a `# command` line. */
export function inTurn(...commands: Command[]): Command {
  return command(commands.map((c) => c.shows).join("\n"), async (ctx) => {
    const out: string[] = [];
    for (const c of commands) out.push(`# ${c.shows}\n${(await c.run(ctx)).trim()}`);
    return out.join("\n");
  });
}

/** Adds `note` to what a command shows, as its trailing comment (before the comment written, if any: `# note; …`). */
function noted(shows: string, note: string): string {
  const comment = /\s+#\s*([^\n]*)$/.exec(shows);
  return comment ? `${shows.slice(0, comment.index)}   # ${note}; ${comment[1]}` : `${shows}   # ${note}`;
}

/**
 * The same command for each of several values learnt when the step runs (the failing pods, say), one after another:
 * shown once, with the placeholder where the value goes and `# for each <each>` as its comment; what each printed
 * kept under a `# <value>` line, as inTurn does (none: nothing runs, nothing kept). The first failure fails the step
 * unless the command shows failures (kubectl.look). forEach({ shows: "<pod>", each: "failing pod", values: (ctx) =>
 * failing(ctx) }, (pod) => kubectl.look`logs ${pod} --previous`).
 */
export function forEach(
  item: { readonly shows: string; readonly each: string; values(ctx: ScenarioContext): Word[] | Promise<Word[]> },
  make: (value: AtRun) => Command,
): Command {
  // Each value reaches the command through a context of its own (the step's, with the value beside it), not through shared state.
  const key = Symbol(item.shows);
  const c = make(atRun(item.shows, (ctx) => (ctx as unknown as Record<symbol, Word>)[key]!));
  return command(noted(c.shows, `for each ${item.each}`), async (ctx) => {
    const out: string[] = [];
    for (const v of await item.values(ctx)) out.push(`# ${v}\n${(await c.run(Object.create(ctx, { [key]: { value: v } }) as ScenarioContext)).trim()}`);
    return out.join("\n");
  });
}

/** `kubectl …` in the run's namespace (the namespace is not shown, as the on-call has it set): a failure fails the step. */
export function kubectl(strings: TemplateStringsArray, ...values: Value[]): Command {
  const { argv, text } = words(strings, values);
  return command(`kubectl ${text}`, async (ctx) => kubectlIn(ctx, ...(await argv(ctx))));
}

/** `kubectl …` for looking around: what it printed, a failure shown rather than thrown. */
kubectl.look = (strings: TemplateStringsArray, ...values: Value[]): Command => {
  const { argv, text } = words(strings, values);
  return command(`kubectl ${text}`, async (ctx) => kubectlLook(ctx, ...(await argv(ctx))));
};

/** `helm …` on the run's namespace (helm() of workloads/helm.ts): what it printed; a failure fails the step. */
export function helmCommand(strings: TemplateStringsArray, ...values: Value[]): Command {
  const { argv, text } = words(strings, values);
  return command(`helm ${text}`, async (ctx) => helm(ctx, ...(await argv(ctx))));
}

/**
 * How a command runs on a node. `timeout`: its own time limit (the command is killed past it; without one, the node
 * handle's default). `allowFailure`: a failure is shown rather than thrown, what it printed on stdout and stderr
 * kept, as kubectl.look does (without it, what it printed on stdout; a failure fails the step).
 */
export interface OnNodeOptions {
  readonly timeout?: Duration;
  readonly allowFailure?: boolean;
}

/** The one place these options become the node handle's run options. */
async function runOnNode(node: NodeHandle, argv: string[], opts: OnNodeOptions): Promise<string> {
  const run: RunOptions = {};
  if (opts.timeout !== undefined) run.timeout = opts.timeout;
  if (opts.allowFailure) run.allowFailure = true;
  const r = await node.exec(argv, run);
  return opts.allowFailure ? `${r.stdout}${r.stderr}` : r.stdout;
}

/**
 * A command on a node (picked when the step runs): what it printed; a failure fails the step.
 * onNode(pick, { timeout: "3m" })`…` gives it its own time limit (OnNodeOptions).
 */
export function onNode(pick: (ctx: ScenarioContext) => NodeHandle, opts: OnNodeOptions = {}) {
  return (strings: TemplateStringsArray, ...values: Value[]): Command => {
    const { argv, text } = words(strings, values);
    return command(text, async (ctx) => runOnNode(pick(ctx), await argv(ctx), opts));
  };
}

/**
 * The same command on each of several nodes (picked when the step runs), one after another in their order: shown
 * once, with `# on each <each>` as its comment (before the comment written, if any: `# on each worker; …`); what
 * each printed kept under a `# <node>` line, as inTurn does. The first failure fails the step (the nodes after it
 * are not run on) unless opts.allowFailure; opts.timeout is each node's own limit. Values are worked out once, before
 * the first node. onEachNode({ each: "worker", pick: (ctx) => workers(ctx) })`systemctl restart kubelet`.
 */
export function onEachNode(opts: OnNodeOptions & { readonly each: string; pick(ctx: ScenarioContext): readonly NodeHandle[] }) {
  return (strings: TemplateStringsArray, ...values: Value[]): Command => {
    const { argv, text } = words(strings, values);
    return command(noted(text, `on each ${opts.each}`), async (ctx) => {
      const words = await argv(ctx);
      const out: string[] = [];
      for (const node of opts.pick(ctx)) out.push(`# ${node.name}\n${(await runOnNode(node, words, opts)).trim()}`);
      return out.join("\n");
    });
  };
}

/** A command on the first control-plane node. */
export const onControlPlane = onNode((ctx) => nodeShell(ctx.cluster).controlPlane());
