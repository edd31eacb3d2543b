import { nodeShell, type NodeHandle } from "../../clusters/contract.js";
import { AftershockError } from "../../clusters/errors.js";
import { quote } from "../../clusters/exec.js";
import type { ScenarioContext } from "../model/context.js";
import { kubectlIn, kubectlLook } from "./workloads/workloads.js";

/**
 * A runbook step's command written once: what the step shows (--dry-run, reports, game days) and what it runs come
 * from the same template, so they cannot drift apart. `step("restart the kubelet", onControlPlane\`systemctl restart
 * kubelet\`)`. Each interpolated value is one argument (an array, several), shown quoted as zx's `$` shows it; the
 * text around them is split on spaces and may hold no shell syntax (no pipes, quotes, globs or redirections: nothing
 * runs through a shell). Where the step shows a summary of a longer script, write step(title, shows, run) instead.
 */
export interface Command {
  readonly shows: string;
  run(ctx: ScenarioContext): Promise<string>;
}

type Value = string | number | (string | number)[];

/** The command's words and how it reads; shell syntax in the written text is refused where the step is defined. */
function words(strings: TemplateStringsArray, values: Value[]): { argv: string[]; text: string } {
  const argv: string[] = [];
  /** The word being written: a value next to text (app=${name}) is part of the same word. */
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) argv.push(word);
    word = undefined;
  };
  let text = "";
  strings.forEach((part, i) => {
    if (/[|&;<>()$`"'*?\\]/.test(part))
      throw new AftershockError("E_BAD_INPUT", `a command step runs no shell: write step(title, shows, run) for "${part.trim()}"`);
    for (const c of part)
      if (/\s/.test(c)) end();
      else word = (word ?? "") + c;
    text += part;
    if (i < values.length) {
      const v = values[i]!;
      const vs = (Array.isArray(v) ? v : [v]).map(String);
      vs.forEach((x, j) => {
        if (j > 0) end();
        word = (word ?? "") + x;
      });
      text += vs.map(quote).join(" ");
    }
  });
  end();
  return { argv, text: text.trim() };
}

/** `kubectl …` in the run's namespace (the namespace is not shown, as the on-call has it set): a failure fails the step. */
export function kubectl(strings: TemplateStringsArray, ...values: Value[]): Command {
  const { argv, text } = words(strings, values);
  return { shows: `kubectl ${text}`, run: (ctx) => kubectlIn(ctx, ...argv) };
}

/** `kubectl …` for looking around: what it printed, a failure shown rather than thrown. */
kubectl.look = (strings: TemplateStringsArray, ...values: Value[]): Command => {
  const { argv, text } = words(strings, values);
  return { shows: `kubectl ${text}`, run: (ctx) => kubectlLook(ctx, ...argv) };
};

/** A command on a node (picked when the step runs): what it printed; a failure fails the step. */
export function onNode(pick: (ctx: ScenarioContext) => NodeHandle) {
  return (strings: TemplateStringsArray, ...values: Value[]): Command => {
    const { argv, text } = words(strings, values);
    return { shows: text, run: async (ctx) => (await pick(ctx).exec(argv)).stdout };
  };
}

/** A command on the first control-plane node. */
export const onControlPlane = onNode((ctx) => nodeShell(ctx.cluster).controlPlane());
