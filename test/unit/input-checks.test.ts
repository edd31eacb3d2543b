import { describe, expect, it } from "vitest";
import { checkBuildableVersion } from "../../clusters/images/builder.js";
import { checkClusterName, checkImageReference, checkRegistryAddress } from "../../clusters/input-checks.js";
import { isKnownRelease, knownReleasesText, kubernetesRelease, LATEST_PATCH, SUPPORTED_MINORS } from "../../clusters/versions.js";

describe("input checks that need nothing but the text", () => {
  it("takes a registry as HOST[:PORT], port 1–65535, and refuses the rest in one line", () => {
    for (const ok of ["127.0.0.1:5000", "registry.example:5000", "localhost", "reg-1.internal:1", "host:65535"])
      expect(checkRegistryAddress(ok, "--insecure-registry")).toBe(ok);
    for (const bad of ["not a host", "http://x", "host:99999", "host:0", "host:", ":5000", "-host:5000", "a..b", "host:50/path", ""])
      expect(() => checkRegistryAddress(bad, "--insecure-registry")).toThrow(
        new RegExp(`^--insecure-registry must be HOST\\[:PORT\\] with a port from 1 to 65535, got "${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"$`),
      );
  });

  it("takes kind's cluster names: lower case, digits and dashes, at most 31", () => {
    for (const ok of ["as-0123abcd", "demo", "a", "x".repeat(31)]) expect(checkClusterName(ok)).toBe(ok);
    for (const bad of ["Bad_Name", "UPPER", "-lead", "has.dot", "", "x".repeat(32), "with space"])
      expect(() => checkClusterName(bad, "--name")).toThrow(/^--name ".*" must be lower-case letters, digits and dashes/);
  });

  it("takes image references docker pull takes and refuses typos", () => {
    for (const ok of [
      "kindest/node:v1.29.14",
      "aftershock.local/node:v1.37.2",
      "localhost:5000/team/app:1.0",
      "Registry.Example:5000/app",
      `busybox@sha256:${"a".repeat(64)}`,
      "nginx",
    ])
      expect(checkImageReference(ok, "--image")).toBe(ok);
    for (const bad of ["not an image", "https://kindest/node:v1", "Kindest/Node:v1", "node:", "node:bad tag", "node@sha256:xyz"])
      expect(() => checkImageReference(bad, "--image")).toThrow(/^--image must be an image reference such as kindest\/node:v1\.29\.14, got/);
  });

  it("knows which patch releases of each supported minor exist, and the builder refuses the others by name", () => {
    expect(Object.keys(LATEST_PATCH).map(Number)).toEqual([...SUPPORTED_MINORS]);
    for (const v of ["v1.29.0", "v1.29.15", "v1.37.2", "v1.27.16", "v1.38.0-beta.0"]) expect(isKnownRelease(kubernetesRelease(v))).toBe(true);
    for (const v of ["v1.29.16", "v1.29.999", "v1.37.3", "v1.31.0", "v1.38.0", "v1.38.1", "v1.38.0-beta.1", "v1.38.0-rc.0", "v1.37.0-rc.1"])
      expect(isKnownRelease(kubernetesRelease(v))).toBe(false);
    expect(knownReleasesText()).toBe(
      "v1.27.0–v1.27.16, v1.28.0–v1.28.15, v1.29.0–v1.29.15, v1.30.0–v1.30.14, v1.35.0–v1.35.4, v1.36.0–v1.36.3, v1.37.0–v1.37.2 and the pre-release v1.38.0-beta.0",
    );
    expect(() => checkBuildableVersion("v1.29.999")).toThrow(
      /^Kubernetes v1\.29\.999 is not a release the offline builder knows: it makes v1\.27\.0–v1\.27\.16, /,
    );
    expect(() => checkBuildableVersion("v1.29.15")).not.toThrow();
  });
});
