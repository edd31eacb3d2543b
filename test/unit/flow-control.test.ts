import { describe, expect, it } from "vitest";
import { describeFlowControl, parseDumpRequests, parseMetrics, topClients } from "../../harness/kit/control-plane/flow-control.js";

const METRICS = `# HELP apiserver_flowcontrol_current_executing_requests [BETA] Number of requests in initial (for a WATCH) or any (for a non-WATCH) execution stage in the API Priority and Fairness subsystem
# TYPE apiserver_flowcontrol_current_executing_requests gauge
apiserver_flowcontrol_current_executing_requests{flow_schema="exempt",priority_level="exempt"} 1
apiserver_flowcontrol_current_executing_requests{flow_schema="service-accounts",priority_level="workload-low"} 87
apiserver_flowcontrol_current_executing_requests{flow_schema="kube-system-service-accounts",priority_level="workload-high"} 2
apiserver_flowcontrol_current_inqueue_requests{flow_schema="service-accounts",priority_level="workload-low"} 3
apiserver_flowcontrol_rejected_requests_total{flow_schema="report-exporter",priority_level="report-exporter",reason="concurrency-limit"} 41
apiserver_flowcontrol_rejected_requests_total{flow_schema="report-exporter",priority_level="report-exporter",reason="queue-full"} 1
apiserver_request_total{code="200",verb="LIST"} 12
`;

// As the API server's tabwriter pads it (apiserver v0.37.2 apf_controller_debug.go), two requests.
const DUMP = [
  "PriorityLevelName, FlowSchemaName,   QueueIndex, RequestIndexInQueue, FlowDistingsher,                                 ArriveTime,                     InitialSeats, FinalSeats, AdditionalLatency, StartTime,                      UserName,                                         Verb, APIPath,                               Namespace, Name, APIVersion, Resource,   SubResource",
  "workload-low,      service-accounts, 12,         -1,                  system:serviceaccount:flood-ns:report-exporter, 2026-12-02T23:01:02.123456Z, 1,            0,          0s,                2026-12-02T23:01:02.123457Z, system:serviceaccount:flood-ns:report-exporter, list, /api/v1/namespaces/flood-ns/configmaps, flood-ns,        ,     v1,         configmaps, ",
  "workload-low,      service-accounts, 40,         0,                   system:serviceaccount:flood-ns:aftershock-load, 2026-12-02T23:01:02.223456Z, 1,            0,          0s,                0001-01-01T00:00:00Z,        system:serviceaccount:flood-ns:aftershock-load, list, /api/v1/namespaces/flood-ns/pods,       flood-ns,        ,     v1,         pods,       ",
  "workload-low,      service-accounts, 12,         -1,                  system:serviceaccount:flood-ns:report-exporter, 2026-12-02T23:01:02.323456Z, 1,            0,          0s,                2026-12-02T23:01:02.323457Z, system:serviceaccount:flood-ns:report-exporter, list, /api/v1/namespaces/flood-ns/configmaps, flood-ns,        ,     v1,         configmaps, ",
  "",
].join("\n");

describe("API Priority and Fairness as an operator reads it", () => {
  it("sums the flow-control metrics by priority level and leaves other metrics out", () => {
    const samples = parseMetrics(METRICS, "apiserver_flowcontrol_");
    expect(samples).toHaveLength(6);
    expect(samples[1]).toEqual({
      name: "apiserver_flowcontrol_current_executing_requests",
      labels: { flow_schema: "service-accounts", priority_level: "workload-low" },
      value: 87,
    });
    const by = (name: string) => new Map(samples.filter((s) => s.name === name).map((s) => [s.labels.priority_level!, s.value]));
    expect(
      describeFlowControl({
        executing: by("apiserver_flowcontrol_current_executing_requests"),
        waiting: by("apiserver_flowcontrol_current_inqueue_requests"),
        rejected: new Map([["report-exporter", 42]]),
      }),
    ).toBe(
      "workload-low: 87 executing, 3 waiting, 0 rejected; workload-high: 2 executing, 0 waiting, 0 rejected; exempt: 1 executing, 0 waiting, 0 rejected; report-exporter: 0 executing, 0 waiting, 42 rejected",
    );
  });

  it("reads the held requests' users from the debug dump and names the client holding most", () => {
    const held = parseDumpRequests(DUMP);
    expect(held).toHaveLength(3);
    expect(held[1]).toEqual({
      priorityLevel: "workload-low",
      flowSchema: "service-accounts",
      user: "system:serviceaccount:flood-ns:aftershock-load",
      verb: "list",
      path: "/api/v1/namespaces/flood-ns/pods",
    });
    const top = topClients(held);
    expect(top.map((t) => [t.user, t.count])).toEqual([
      ["system:serviceaccount:flood-ns:report-exporter", 2],
      ["system:serviceaccount:flood-ns:aftershock-load", 1],
    ]);
    expect(top[0]!.line).toBe(
      "system:serviceaccount:flood-ns:report-exporter: 2 (list /api/v1/namespaces/flood-ns/configmaps; priority level workload-low, flow schema service-accounts)",
    );
  });

  it("reads an empty dump (only the header) as no requests", () => {
    expect(parseDumpRequests(DUMP.split("\n")[0]!)).toEqual([]);
    expect(parseDumpRequests("")).toEqual([]);
  });
});
