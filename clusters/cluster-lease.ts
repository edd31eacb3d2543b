import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { AftershockError, formatDuration } from "./errors.js";
import { apiErrorLine, apiStatus, type KubeApi } from "./kube.js";

/**
 * The lock one run holds on a cluster it did not create: a coordination.k8s.io Lease "aftershock-lock" in
 * kube-system whose holder is the run id, renewed while the run lasts and deleted at its teardown. Another run
 * finds it held and stops before any fault; a Lease left by a run that died is taken over once it has expired
 * (renewTime + leaseDurationSeconds in the past), as Kubernetes' own leader election does.
 */

export const LOCK_NAME = "aftershock-lock";
export const LOCK_NAMESPACE = "kube-system";
export const LOCK_SECONDS = 60;

/** What the decision needs of a Lease. */
export interface LeaseView {
  holder: string;
  /** ms since the epoch; undefined when the Lease was never renewed. */
  renewedAt: number | undefined;
  durationS: number;
}

export type LeaseVerdict = { take: "create" | "ours" | "expired" } | { heldBy: string; expiresInMs: number };

/** May `runId` take the lock: absent (create it), its own (renew), expired (take it over); else who holds it and for how long. */
export function leaseVerdict(current: LeaseView | undefined, runId: string, now: number): LeaseVerdict {
  if (!current) return { take: "create" };
  if (current.holder === runId) return { take: "ours" };
  const expiresAt = (current.renewedAt ?? 0) + current.durationS * 1000;
  if (!current.holder || expiresAt <= now) return { take: "expired" };
  return { heldBy: current.holder, expiresInMs: expiresAt - now };
}

export function leaseView(l: V1Lease): LeaseView {
  const renewed = l.spec?.renewTime ?? l.spec?.acquireTime;
  return {
    holder: l.spec?.holderIdentity ?? "",
    renewedAt: renewed ? new Date(renewed).getTime() : undefined,
    durationS: l.spec?.leaseDurationSeconds ?? LOCK_SECONDS,
  };
}

/** The Lease store the lock needs (the API in a run; a map in unit tests). */
export interface LeaseStore {
  read(): Promise<V1Lease | undefined>;
  create(l: V1Lease): Promise<V1Lease>;
  /** Fails with 409 when the Lease changed since it was read (its resourceVersion). */
  replace(l: V1Lease): Promise<V1Lease>;
  delete(): Promise<void>;
}

export function apiLeaseStore(api: KubeApi): LeaseStore {
  const base = { name: LOCK_NAME, namespace: LOCK_NAMESPACE };
  return {
    read: () =>
      api.coordination.readNamespacedLease(base).catch((e: unknown) => {
        if (apiStatus(e) === 404) return undefined;
        throw e;
      }),
    create: (body) => api.coordination.createNamespacedLease({ namespace: LOCK_NAMESPACE, body }),
    replace: (body) => api.coordination.replaceNamespacedLease({ ...base, body }),
    delete: async () => {
      await api.coordination.deleteNamespacedLease(base).catch((e: unknown) => {
        if (apiStatus(e) !== 404) throw e;
      });
    },
  };
}

export interface HeldLock {
  /** What the journal says: taken, or taken over from a run whose Lease had expired. */
  readonly how: string;
  /** Stops renewing and deletes the Lease if it is still this run's; harmless to repeat. */
  release(): Promise<void>;
}

/**
 * Takes the lock for `runId` or fails with E_PREFLIGHT naming the run that holds it; then renews it every third of
 * its duration until released. A renewal that finds the Lease taken by another run stops renewing (and says so
 * through `onLost`): the run cannot undo that, but it must not overwrite the other's lock.
 */
export async function takeLock(
  store: LeaseStore,
  runId: string,
  o: { now?: () => number; durationS?: number; onLost?: (why: string) => void; renew?: boolean } = {},
): Promise<HeldLock> {
  const now = o.now ?? Date.now;
  const durationS = o.durationS ?? LOCK_SECONDS;
  const current = await store.read().catch((e: unknown) => {
    throw new AftershockError("E_PREFLIGHT", `cannot read the lock Lease ${LOCK_NAMESPACE}/${LOCK_NAME}: ${apiErrorLine(e)}`);
  });
  const v = leaseVerdict(current ? leaseView(current) : undefined, runId, now());
  if ("heldBy" in v)
    throw new AftershockError(
      "E_PREFLIGHT",
      `another Aftershock run (${v.heldBy}) holds the cluster's lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}, expires in ${formatDuration(v.expiresInMs)} unless renewed)`,
    );
  // A Lease's times are MicroTime: the API refuses a plain Date's milliseconds ("parsing time … as
  // 2006-01-02T15:04:05.000000Z07:00", API 400; seen on the first real run of the SSH lane), V1MicroTime writes six digits.
  const stamp = () => new V1MicroTime(now());
  const body = (resourceVersion?: string, transitions = 0): V1Lease => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: LOCK_NAME,
      namespace: LOCK_NAMESPACE,
      labels: { "app.kubernetes.io/managed-by": "aftershock" },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    spec: { holderIdentity: runId, leaseDurationSeconds: durationS, acquireTime: stamp(), renewTime: stamp(), leaseTransitions: transitions },
  });
  try {
    if (v.take === "create") await store.create(body());
    else await store.replace(body(current!.metadata?.resourceVersion, (current!.spec?.leaseTransitions ?? 0) + (v.take === "expired" ? 1 : 0)));
  } catch (e) {
    // 409: another run created or took it between our read and our write.
    if (apiStatus(e) === 409)
      throw new AftershockError("E_PREFLIGHT", `another Aftershock run took the cluster's lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}) just now`);
    throw new AftershockError("E_PREFLIGHT", `cannot take the lock Lease ${LOCK_NAMESPACE}/${LOCK_NAME}: ${apiErrorLine(e)}`);
  }
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const renewOnce = async () => {
    const l = await store.read();
    if (!l || leaseView(l).holder !== runId) {
      clearInterval(timer);
      o.onLost?.(l ? `the lock is now held by ${leaseView(l).holder}` : "the lock Lease was deleted");
      return;
    }
    await store.replace({ ...l, spec: { ...l.spec, renewTime: stamp() } });
  };
  if (o.renew !== false) {
    timer = setInterval(() => void renewOnce().catch(() => undefined), (durationS * 1000) / 3);
    // The renewal must not keep the process alive on its own.
    timer.unref();
  }
  return {
    how: v.take === "expired" ? `taken over from ${leaseView(current!).holder}, whose Lease had expired` : v.take === "ours" ? "already this run's" : "taken",
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      const l = await store.read();
      if (l && leaseView(l).holder === runId) await store.delete();
    },
  };
}
