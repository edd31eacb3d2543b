import { describe, expect, it } from "vitest";
import { parseHistogram, windowQuantile, WAL_FSYNC } from "../../harness/kit/control-plane/etcd-metrics.js";

const scrape = (counts: number[], count: number) => {
  const les = ["0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512", "1.024", "2.048", "4.096", "8.192", "+Inf"];
  return [
    "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.",
    ...les.map((le, i) => `${WAL_FSYNC}_bucket{le="${le}"} ${counts[i] ?? count}`),
    `${WAL_FSYNC}_sum 0.44`,
    `${WAL_FSYNC}_count ${count}`,
  ].join("\n");
};

describe("etcd histogram windows", () => {
  it("parses cumulative buckets and the count", () => {
    const h = parseHistogram(scrape([400, 430, 436, 438], 438), WAL_FSYNC);
    expect(h.count).toBe(438);
    expect(h.buckets[0]).toEqual([0.001, 400]);
    expect(h.buckets.at(-1)).toEqual([Infinity, 438]);
  });

  it("takes the p99 of only what happened between two scrapes", () => {
    const before = parseHistogram(scrape([400, 430, 436, 438], 438), WAL_FSYNC);
    // 9 new fsyncs, all between 1s and 2s: the throttled disk.
    const after = parseHistogram(scrape([400, 430, 436, 438, 438, 438, 438, 438, 438, 438, 438, 447], 447), WAL_FSYNC);
    expect(windowQuantile(before, after)).toEqual({ seconds: 2.048, samples: 9 });
  });

  it("says so when nothing was written in the window", () => {
    const h = parseHistogram(scrape([1], 1), WAL_FSYNC);
    expect(windowQuantile(h, h)).toBeUndefined();
  });
});
