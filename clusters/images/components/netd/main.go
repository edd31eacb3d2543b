// aftershock-netd is the pod network for Aftershock clusters: every node gets a CNI config for its own
// podCIDR (ptp + host-local + portmap, plugins that ship with the node image), a route to every other
// node's podCIDR through that node's address, and masquerading for pod traffic leaving the pod network.
// It runs as a host-network DaemonSet and needs nothing but the Node objects.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	cniConfPath = "/etc/cni/net.d/10-aftershock.conflist"
	resync      = 10 * time.Second
)

func main() {
	nodeName := os.Getenv("NODE_NAME")
	podSubnet := os.Getenv("POD_SUBNET")
	if nodeName == "" || podSubnet == "" {
		log.Fatal("NODE_NAME and POD_SUBNET must be set")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatalf("in-cluster config: %v", err)
	}
	// Until kube-proxy has programmed the Service VIP, talk to the API server directly.
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		cfg.Host = "https://" + ep
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ensureMasquerade(podSubnet)
	for {
		if err := reconcile(client, nodeName); err != nil {
			log.Printf("reconcile: %v", err)
		}
		time.Sleep(resync)
	}
}

func reconcile(client kubernetes.Interface, self string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		cidr := n.Spec.PodCIDR
		if cidr == "" {
			continue
		}
		if n.Name == self {
			if err := writeCNIConfig(cidr); err != nil {
				return err
			}
			continue
		}
		ip := internalIPv4(n)
		if ip == "" {
			continue
		}
		if out, err := exec.Command("ip", "route", "replace", cidr, "via", ip).CombinedOutput(); err != nil {
			log.Printf("route %s via %s (%s): %v: %s", cidr, ip, n.Name, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func internalIPv4(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && !strings.Contains(a.Address, ":") {
			return a.Address
		}
	}
	return ""
}

func writeCNIConfig(podCIDR string) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "aftershock",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]any{"subnet": podCIDR}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(cniConfPath); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(cniConfPath), ".10-aftershock.conflist.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, cniConfPath); err != nil {
		return err
	}
	log.Printf("wrote %s for podCIDR %s", cniConfPath, podCIDR)
	return nil
}

// ensureMasquerade NATs traffic from pods to anything outside the pod network.
func ensureMasquerade(podSubnet string) {
	rule := []string{"POSTROUTING", "-s", podSubnet, "!", "-d", podSubnet,
		"-m", "comment", "--comment", "aftershock-netd: pod traffic leaving the pod network", "-j", "MASQUERADE"}
	if exec.Command("iptables", append([]string{"-t", "nat", "-C"}, rule...)...).Run() == nil {
		return
	}
	add := append([]string{"-t", "nat", "-A"}, rule...)
	if out, err := exec.Command("iptables", add...).CombinedOutput(); err != nil {
		log.Fatalf("iptables %v: %v: %s", add, err, out)
	}
	log.Printf("masquerading %s", podSubnet)
}
