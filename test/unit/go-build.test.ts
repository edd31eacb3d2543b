import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { moduleRefused, recipeKey, tidyLeftGap, type GoComponent } from "../../clusters/images/go-build.js";

describe("moduleRefused: a module the Go module proxy will not serve, in one line", () => {
  // go build's stderr for k8s.io/kubernetes v1.38.0-beta.0 on this project's machines, 2026-12-07.
  const seen =
    "go: downloading sigs.k8s.io/iptables-wrappers v1.0.0\n" +
    "/root/go/pkg/mod/k8s.io/kubernetes@v1.38.0-beta.0/pkg/kubelet/kubelet_network_linux.go:26:2: sigs.k8s.io/iptables-wrappers@v1.0.0: " +
    "reading https://proxy.golang.org/sigs.k8s.io/iptables-wrappers/@v/v1.0.0.zip: 403 Forbidden\n" +
    "\tserver response: This module version is not available.\n";

  it("names the module, its version and the proxy's answer", () => {
    expect(moduleRefused(seen)).toEqual({ module: "sigs.k8s.io/iptables-wrappers", version: "v1.0.0", answer: "403 Forbidden" });
  });

  it("reads a refused version list and a refused go.mod too", () => {
    expect(moduleRefused("go: module example.com/a/b: reading https://proxy.golang.org/example.com/a/b/@v/list: 404 Not Found\n")).toEqual({
      module: "example.com/a/b",
      version: "(any version)",
      answer: "404 Not Found",
    });
    expect(moduleRefused("reading https://proxy.golang.org/example.com/x/@v/v0.1.0.mod: 410 Gone")?.version).toBe("v0.1.0");
  });

  it("says nothing of a build that failed for another reason", () => {
    expect(moduleRefused("pkg/x.go:1:2: undefined: foo\n")).toBeUndefined();
    expect(moduleRefused("reading https://proxy.golang.org/example.com/x/@v/v0.1.0.zip: dial tcp: i/o timeout")).toBeUndefined();
  });
});

describe("tidyLeftGap: a wrapper go.mod that tidy -e left short of a module", () => {
  // go build's stderr for traefik v3.6.12 on this project's machine, 2026-12-07, after a tidy -e under load wrote 236
  // of the go.mod's 374 lines.
  const seen =
    "/root/go/pkg/mod/github.com/go-acme/lego/v4@v4.33.0/providers/dns/gcloud/googlecloud.go:14:2: ambiguous import: found package " +
    "cloud.google.com/go/compute/metadata in multiple modules:\n" +
    "\tcloud.google.com/go v0.26.0 (/root/go/pkg/mod/cloud.google.com/go@v0.26.0/compute/metadata)\n" +
    "\tcloud.google.com/go/compute/metadata v0.9.0 (/root/go/pkg/mod/cloud.google.com/go/compute/metadata@v0.9.0)";

  it("names what go build found missing or ambiguous", () => {
    expect(tidyLeftGap(seen)).toBe("ambiguous import: found package cloud.google.com/go/compute/metadata in multiple modules");
    expect(tidyLeftGap("x.go:3:2: no required module provides package example.com/a/b; to add it:\n")).toBe(
      "no required module provides package example.com/a/b",
    );
  });

  it("is not a gap when the build failed for another reason, or the proxy refused a module (tidying again cannot help)", () => {
    expect(tidyLeftGap("pkg/x.go:1:2: undefined: foo\n")).toBeUndefined();
    expect(tidyLeftGap("x.go:1:2: no required module provides package a.b/c\nreading https://proxy.golang.org/a.b/c/@v/list: 403 Forbidden\n")).toBeUndefined();
  });
});

describe("recipeKey: what a component builds, never how long it may take", () => {
  const c: GoComponent = {
    name: "helm",
    version: "v3.22.0",
    requires: [{ module: "helm.sh/helm/v3", version: "v3.22.0" }],
    outputs: [{ pkg: "helm.sh/helm/v3/cmd/helm", bin: "helm" }],
    budget: "8m",
  };

  it("is the key the component had when its budget was budgetMs, a number (so what was built then is found, not built again)", () => {
    const before = { name: c.name, version: c.version, requires: c.requires, outputs: c.outputs, budgetMs: 0 };
    expect(recipeKey(c)).toBe(createHash("sha256").update(JSON.stringify(before)).digest("hex").slice(0, 12));
  });

  it("does not change with the budget, and changes with what is built", () => {
    expect(recipeKey({ ...c, budget: "30m" })).toBe(recipeKey(c));
    expect(recipeKey({ ...c, ldflags: "-X a=b" })).not.toBe(recipeKey(c));
  });
});
