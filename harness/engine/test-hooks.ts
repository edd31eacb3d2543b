import { setTimeout as sleep } from "node:timers/promises";
import { AftershockError, formatDuration } from "../../clusters/errors.js";
import type { Scenario } from "../model/scenario.js";

/**
 * TEST SWITCHES. The one place where an environment variable changes what a run does, so that a test can make
 * the product misbehave on purpose; nothing else in the run's path reads them, and none is meant for real use.
 *
 *   AFTERSHOCK_TEST_RUNBOOK_DELAY_MS=N   every runbook step waits N ms before it runs (inside its own budget),
 *                                        so time to recover grows by N per step and `pnpm suite --gate` can be
 *                                        shown to fire on a regression. The step's output says it was delayed.
 *   AFTERSHOCK_TEST_STOP_BEFORE_CONFORMANCE=kube-controller-manager|kube-scheduler
 *                                        with --conformance, after verification passed: that control-plane
 *                                        component's static pod manifest is parked on every control plane (moved to
 *                                        /etc/kubernetes/), so that the cluster is left broken on purpose and the
 *                                        conformance specs must fail. Needs the nodes' shell (kind). The run's
 *                                        evidence says so.
 *   AFTERSHOCK_TEST_DEADMAN_SECONDS=N    a fault's deadman switch (fault.deadman, armed on machines reached over
 *                                        ssh) undoes it N seconds after it was armed instead of after the run's
 *                                        whole budget plus 5 minutes, so a test that cuts the run's ssh
 *                                        connections mid-fault sees the node heal itself in minutes.
 */
export const RUNBOOK_DELAY_ENV = "AFTERSHOCK_TEST_RUNBOOK_DELAY_MS";
export const STOP_BEFORE_CONFORMANCE_ENV = "AFTERSHOCK_TEST_STOP_BEFORE_CONFORMANCE";
export const DEADMAN_SECONDS_ENV = "AFTERSHOCK_TEST_DEADMAN_SECONDS";
const STOPPABLE = ["kube-controller-manager", "kube-scheduler"] as const;

/** The control-plane component the switch stops before conformance (undefined when unset); anything else is bad input. */
export function stopBeforeConformance(env: NodeJS.ProcessEnv = process.env): (typeof STOPPABLE)[number] | undefined {
  const v = env[STOP_BEFORE_CONFORMANCE_ENV];
  if (v === undefined || v === "") return undefined;
  if (!(STOPPABLE as readonly string[]).includes(v))
    throw new AftershockError("E_BAD_INPUT", `${STOP_BEFORE_CONFORMANCE_ENV} must be ${STOPPABLE.join(" or ")}, got "${v}"`, {
      hint: "it is a test switch; unset it for real runs",
    });
  return v as (typeof STOPPABLE)[number];
}

/** The runbook delay the switch asks for (0 when unset); anything but a whole number of ms up to an hour is bad input. */
export function runbookDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env[RUNBOOK_DELAY_ENV];
  if (v === undefined || v === "") return 0;
  if (!/^\d+$/.test(v) || Number(v) > 3_600_000)
    throw new AftershockError("E_BAD_INPUT", `${RUNBOOK_DELAY_ENV} must be a whole number of ms from 0 to 3600000, got "${v}"`, {
      hint: "it is a test switch; unset it for real runs",
    });
  return Number(v);
}

/** The deadman delay the switch asks for (undefined when unset); anything but a whole number of seconds from 1 to a day is bad input. */
export function deadmanSecondsSwitch(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[DEADMAN_SECONDS_ENV];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 86_400)
    throw new AftershockError("E_BAD_INPUT", `${DEADMAN_SECONDS_ENV} must be a whole number of seconds from 1 to 86400, got "${v}"`, {
      hint: "it is a test switch; unset it for real runs",
    });
  return Number(v);
}

/** The scenario with the test switches applied (itself, unchanged, when none is set). */
export function withTestHooks(s: Scenario, env: NodeJS.ProcessEnv = process.env): Scenario {
  const seconds = deadmanSecondsSwitch(env);
  const withDeadman = seconds !== undefined && s.fault.deadman ? { ...s, fault: { ...s.fault, deadman: { ...s.fault.deadman, seconds } } } : s;
  const delay = runbookDelayMs(env);
  if (!delay) return withDeadman;
  const note = `test switch ${RUNBOOK_DELAY_ENV}: delayed ${formatDuration(delay)} first`;
  return {
    ...withDeadman,
    runbook: s.runbook.map((step) => ({
      ...step,
      run: async (ctx) => {
        await sleep(delay);
        const out = await step.run(ctx);
        return out ? `${note}\n${out}` : note;
      },
    })),
  };
}
