import os from "node:os";

/**
 * Label names, defined once. Docker objects (containers, volumes, networks) carry the `aftershock.*` labels
 * the reaper and gc select on; Kubernetes objects a run creates on a cluster it did not make carry the
 * `aftershock.io/*` labels, so cleanup finds them by label and never by name guessing. The shell scripts
 * clusters/kind/docker-wrapper.sh and reaper.sh write and select the Docker labels too; keep them in step.
 */
export const LABELS = {
  /** Docker: the run (8 hex digits) that created the object. */
  run: "aftershock.run",
  /** Docker: present on everything this tool creates. */
  managed: "aftershock.managed",
  /** Docker: pid of the process that owns the run (the reaper removes the run's objects when it dies). */
  ownerPid: "aftershock.owner-pid",
  /** Docker: "true" on clusters kept with --keep or pnpm cluster create (left alone by gc). */
  keep: "aftershock.keep",
  /** Docker: "aftershock" on every image Aftershock builds (set by the Dockerfiles it writes; images built FROM one inherit it). */
  builtBy: "aftershock.built-by",
  /** Kubernetes: the run that owns a namespace (namespace-scoped scenarios, on any cluster). */
  k8sRun: "aftershock.io/run-id",
  /** Kubernetes: the scenario that runs in a namespace. */
  k8sScenario: "aftershock.io/scenario",
  /** Kubernetes: <host>.<pid> of the process that owns a run's namespace (pnpm gc --kubeconfig removes dead ones). */
  k8sOwner: "aftershock.io/owner",
  /** Kubernetes: present on everything a run creates. */
  k8sManaged: "aftershock.io/managed",
} as const;

/** kubeadm's control-plane role: the label on a control-plane Node and the key of its NoSchedule taint. */
export const CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane";

/** This host, as the owner label names it (label-safe). */
export function ownerHost(): string {
  return os
    .hostname()
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")
    .slice(0, 50);
}

/** The owner label value of this process's namespaces: <host>.<pid>. */
export const ownerLabel = (): string => `${ownerHost()}.${process.pid}`;
