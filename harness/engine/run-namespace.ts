import { AftershockError, formatDuration, type Duration } from "../../clusters/errors.js";
import { apiErrorLine, apiStatus, type KubeApi } from "../../clusters/kube.js";
import { LABELS, ownerLabel } from "../../clusters/labels.js";
import { pollUntil, realClock, type Clock } from "../../clusters/wait.js";

/** The run's own namespace (scenarios with scope "namespace", and a shared cluster's runs): made before setup, deleted in teardown. */

/** Creates the run's namespace, labelled with the run and the scenario. */
export async function createRunNamespace(api: KubeApi, name: string, runId: string, scenario: string): Promise<void> {
  const labels = { [LABELS.k8sRun]: runId, [LABELS.k8sScenario]: scenario, [LABELS.k8sManaged]: "true", [LABELS.k8sOwner]: ownerLabel() };
  await api.core.createNamespace({ body: { metadata: { name, labels } } });
}

/**
 * Deletes the run's namespace and waits until it is gone (its finalizers remove what is in it). Only a
 * namespace labelled with this run is deleted. An API that answers with an error other than 404 (a restarted or
 * newly joined API server behind the load balancer, etcd electing a leader: right after a control-plane recovery)
 * is asked again until the budget ends, the read and the delete as much as the wait; the error names what was
 * last seen.
 */
export async function deleteRunNamespace(
  api: KubeApi,
  name: string,
  runId: string,
  budget: Duration = "3m",
  opts: { clock?: Clock; interval?: Duration } = {},
): Promise<string> {
  const clock = opts.clock ?? realClock;
  const t0 = clock.now();
  let seenAtAll = false;
  let deleteSent = false;
  const seen = await pollUntil(
    `namespace ${name} gone`,
    budget,
    opts.interval ?? "1s",
    async () => {
      let ns;
      try {
        ns = await api.core.readNamespace({ name });
      } catch (e) {
        if (apiStatus(e) === 404) return { ok: true, seen: seenAtAll ? "gone" : "already gone" };
        return { ok: false, seen: `reading it: ${apiErrorLine(e)}` };
      }
      seenAtAll = true;
      if (ns.metadata?.labels?.[LABELS.k8sRun] !== runId) {
        throw new AftershockError("E_UNSAFE_TARGET", `namespace ${name} is not labelled ${LABELS.k8sRun}=${runId}; left alone`);
      }
      if (!deleteSent && !ns.metadata?.deletionTimestamp) {
        try {
          await api.core.deleteNamespace({ name, propagationPolicy: "Foreground" });
          deleteSent = true;
        } catch (e) {
          if (apiStatus(e) === 404) return { ok: true, seen: "gone" };
          return { ok: false, seen: `deleting it: ${apiErrorLine(e)}` };
        }
      }
      return {
        ok: false,
        seen: `${ns.status?.phase ?? "?"}${ns.status?.conditions?.length ? `: ${ns.status.conditions.map((c) => c.message).join("; ")}` : ""}`,
      };
    },
    { clock },
  );
  return seen === "already gone" ? `namespace ${name} already gone` : `namespace ${name} deleted in ${formatDuration(clock.now() - t0)}`;
}
