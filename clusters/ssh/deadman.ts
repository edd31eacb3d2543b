import type { NodeHandle } from "../contract.js";
import { AftershockError } from "../errors.js";
import { quote } from "../exec.js";

/**
 * A deadman switch on a node: before a fault goes in on a machine of someone's own cluster, a timer on that
 * machine is armed to undo it after N seconds. If this process dies, the network to the node is cut, or the run
 * hangs, the node still heals itself; a run that ends normally disarms it (after its rollback, or once the runbook
 * has repaired what the fault broke). The timer is systemd's (systemd-run --on-active), or, without systemd, a
 * detached `sleep N` in a session of its own with a pid file. Either way an "armed" file is the switch: the undo
 * runs only while it exists, so a disarm that removes it wins even against a timer it failed to stop.
 */

export interface DeadmanSpec {
  runId: string;
  /** Short, kebab-case: which fault's undo (one run may arm several, one per node). */
  tag: string;
  seconds: number;
  /** The node script that undoes the fault (sh; run as root). */
  undo: string;
  /** "auto": systemd-run where systemd runs the machine, else the sleep; the others force one (tests). */
  mode?: "auto" | "systemd" | "sleep";
  /** Where the switch keeps its files on the node (DEADMAN_DIR); tests that arm one on this host give a temp dir. */
  dir?: string;
}

export const DEADMAN_DIR = "/var/lib/aftershock/deadman";

/** The unit (and file) name: aftershock-deadman-<run>-<tag>, only characters systemd and a file name both take. */
export function deadmanUnit(spec: Pick<DeadmanSpec, "runId" | "tag">): string {
  const name = `aftershock-deadman-${spec.runId}-${spec.tag}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  if (name.length > 200) throw new AftershockError("E_BAD_INPUT", `deadman name too long: ${name.slice(0, 60)}…`);
  return name;
}

const files = (unit: string, dir = DEADMAN_DIR) => ({
  script: `${dir}/${unit}.sh`,
  armed: `${dir}/${unit}.armed`,
  pid: `${dir}/${unit}.pid`,
  log: `${dir}/${unit}.log`,
});

/**
 * The script that arms the switch (run as root on the node). It prints "armed systemd <unit>" or "armed sleep <pid>".
 * The undo is written to a file first, so what the timer runs can be read on the node (`cat` it) while it waits.
 */
export function armScript(spec: DeadmanSpec): string {
  if (!Number.isInteger(spec.seconds) || spec.seconds < 1)
    throw new AftershockError("E_BAD_INPUT", `deadman seconds must be a whole number ≥ 1, got ${spec.seconds}`);
  if (spec.undo.includes("AFTERSHOCK_DEADMAN_EOF")) throw new AftershockError("E_BAD_INPUT", "a deadman's undo script must not contain AFTERSHOCK_DEADMAN_EOF");
  const unit = deadmanUnit(spec);
  const f = files(unit, spec.dir);
  // The undo runs once: it removes the armed file first, so a second timer (or a retry) finds nothing to do.
  const wrapper = `#!/bin/sh
# Aftershock deadman of run ${spec.runId}: undoes the fault "${spec.tag}" unless disarmed.
[ -e ${f.armed} ] || exit 0
rm -f ${f.armed}
echo "deadman fired at $(date -u +%FT%TZ)" >>${f.log}
(
${spec.undo}
) >>${f.log} 2>&1
`;
  const mode = spec.mode ?? "auto";
  const systemd = `systemd-run --quiet --unit=${unit} --on-active=${spec.seconds}s --timer-property=AccuracySec=1s /bin/sh ${f.script} && echo "armed systemd ${unit}"`;
  // setsid + nohup + no inherited descriptors: the sleep outlives the ssh session that started it, and a cut connection.
  const sleep = `setsid nohup sh -c ${quote(`sleep ${spec.seconds}; exec /bin/sh ${f.script}`)} </dev/null >/dev/null 2>&1 &
echo $! >${f.pid}
echo "armed sleep $(cat ${f.pid})"`;
  const choose =
    mode === "systemd"
      ? systemd
      : mode === "sleep"
        ? sleep
        : `if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
${systemd}
else
${sleep}
fi`;
  return `set -eu
mkdir -p ${spec.dir ?? DEADMAN_DIR}
cat >${f.script} <<'AFTERSHOCK_DEADMAN_EOF'
${wrapper}AFTERSHOCK_DEADMAN_EOF
chmod 700 ${f.script}
touch ${f.armed}
${choose}
`;
}

/** The script that disarms it (harmless to repeat, and when it already fired): the switch off, then the timer stopped. */
export function disarmScript(spec: Pick<DeadmanSpec, "runId" | "tag" | "dir">): string {
  const unit = deadmanUnit(spec);
  const f = files(unit, spec.dir);
  return `rm -f ${f.armed}
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop ${unit}.timer ${unit}.service >/dev/null 2>&1 || true
  systemctl reset-failed ${unit}.timer ${unit}.service >/dev/null 2>&1 || true
fi
if [ -s ${f.pid} ]; then kill "$(cat ${f.pid})" 2>/dev/null || true; fi
rm -f ${f.pid} ${f.script}
echo disarmed ${unit}
`;
}

/** An armed switch: how it was armed (for the journal) and how to disarm it. */
export interface Deadman {
  readonly node: string;
  readonly unit: string;
  /** "systemd <unit>" or "sleep <pid>". */
  readonly how: string;
  readonly seconds: number;
  disarm(): Promise<void>;
}

/** Arms a deadman on `node` through its shell (any NodeHandle: the ssh one on machines of one's own). */
export async function armDeadman(node: NodeHandle, spec: DeadmanSpec): Promise<Deadman> {
  const r = await node.sh(armScript(spec), { timeout: "30s" });
  const how = /armed (.+)$/m.exec(r.stdout)?.[1] ?? "unknown";
  return {
    node: node.name,
    unit: deadmanUnit(spec),
    how,
    seconds: spec.seconds,
    disarm: async () => {
      await node.sh(disarmScript(spec), { timeout: "30s" });
    },
  };
}

/**
 * How long a deadman waits: the run's budgets from the fault to the end of verification (symptoms, every runbook
 * step, verification), plus a margin; never less than `floorS`. Past that, the run has ended one way or another.
 */
export function deadmanSeconds(b: { symptomsMs: number; runbookMs: number[]; verifyMs: number }, marginS = 300, floorS = 120): number {
  const total = (b.symptomsMs + b.runbookMs.reduce((a, x) => a + x, 0) + b.verifyMs) / 1000 + marginS;
  return Math.max(floorS, Math.ceil(total));
}
