import { AftershockError } from "./errors.js";

/**
 * Checks of what a user typed that need nothing but the text: the CLI runs them before the doctor, any build or
 * any Docker call, so a typo is one line and exit 2 with nothing created or changed. The code that uses the value
 * later runs the same check, so a caller that skipped the CLI is refused too.
 */

/**
 * A cluster name kind accepts and Aftershock can use: kind names node containers "<name>-control-plane" and a
 * Docker network after it, so lower-case letters, digits and dashes; at most 31 characters leaves the container
 * names (and the hostnames kubeadm derives from them) within the 63 of a DNS label.
 */
const CLUSTER_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

export function checkClusterName(name: string, what = "cluster name"): string {
  if (!CLUSTER_NAME.test(name))
    throw new AftershockError(
      "E_BAD_INPUT",
      `${what} "${name}" must be lower-case letters, digits and dashes, starting with a letter or digit (≤ 31 characters)`,
    );
  return name;
}

/** One DNS label: letters, digits and inner dashes (an IPv4 address is four of them). */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * A registry as containerd's hosts.toml and crane name it: HOST[:PORT], no scheme (the registry is reached over
 * plain HTTP either way), a port from 1 to 65535. Refused up front, a value such as "http://x" or "host:99999"
 * otherwise surfaced only after a cluster was created, when the nodes were told to trust it.
 */
export function checkRegistryAddress(value: string, flag: string): string {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(value);
  const host = m?.[1];
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  const hostOk = !!host && host.length <= 253 && host.split(".").every((l) => LABEL.test(l));
  if (!m || !hostOk || (port !== undefined && (port < 1 || port > 65535)))
    throw new AftershockError("E_BAD_INPUT", `${flag} must be HOST[:PORT] with a port from 1 to 65535, got "${value}"`, {
      hint: "e.g. 127.0.0.1:5000 or registry.example:5000, without http://",
    });
  return value;
}

/**
 * A Docker image reference as `docker pull` parses it: [REGISTRY[:PORT]/]path[:tag][@sha256:digest], the path in
 * lower case. Looser than Docker in small ways (it only has to catch typos such as a space, a scheme or an upper-case
 * name, which Docker would otherwise refuse after the doctor and the kind build).
 */
const IMAGE_REF =
  /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/i;

export function checkImageReference(ref: string, flag: string): string {
  // The registry part may have upper case (a host name); the repository path may not.
  const pathPart = ref.replace(/^[^/]*[.:][^/]*\//, "").replace(/[:@].*$/, "");
  if (!IMAGE_REF.test(ref) || pathPart !== pathPart.toLowerCase())
    throw new AftershockError("E_BAD_INPUT", `${flag} must be an image reference such as kindest/node:v1.29.14, got "${ref}"`);
  return ref;
}
