package main

import (
	"testing"
	"time"
)

// The shape of the files kind ≥ v0.32 writes for envoy (pkg/cluster/internal/loadbalancer), abridged.
const cds = `
resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: kube_apiservers
  connect_timeout: 0.25s
  type: STRICT_DNS
  health_checks:
  - timeout: 3s
    interval: 2s
    unhealthy_threshold: 2
    http_health_check:
      path: /healthz
  load_assignment:
    cluster_name: kube_apiservers
    endpoints:
    - lb_endpoints:
      - endpoint:
          address:
            socket_address:
              address: c-control-plane
              port_value: 6443
      - endpoint:
          address:
            socket_address:
              address: c-control-plane2
              port_value: 6443
`

const lds = `
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_apiserver
  address:
    socket_address:
      address: "0.0.0.0"
      port_value: 6443
`

func TestParseCDS(t *testing.T) {
	got, interval := parseCDS(cds)
	if len(got) != 2 || got[0] != "c-control-plane:6443" || got[1] != "c-control-plane2:6443" {
		t.Fatalf("endpoints %v", got)
	}
	if interval != 2*time.Second {
		t.Fatalf("interval %v", interval)
	}
	if e, _ := parseCDS("resources: []"); len(e) != 0 {
		t.Fatalf("empty CDS gave %v", e)
	}
}

func TestParseLDS(t *testing.T) {
	if got := parseLDS(lds); got != "0.0.0.0:6443" {
		t.Fatalf("listener %q", got)
	}
	if got := parseLDS("resources: []"); got != "" {
		t.Fatalf("empty LDS gave %q", got)
	}
}

func TestPickSkipsUnhealthyUnlessMostAreDown(t *testing.T) {
	b := &balancer{}
	for _, a := range []string{"a:1", "b:1", "c:1"} {
		b.backends = append(b.backends, &backend{addr: a})
	}
	b.backends[0].healthy.Store(true)
	b.backends[1].healthy.Store(true)
	for i := 0; i < 6; i++ {
		if x := b.pick(); x.addr == "c:1" {
			t.Fatalf("picked the unhealthy backend")
		}
	}
	// One of three healthy: under the 50% panic threshold every backend is used, as in envoy.
	b.backends[1].healthy.Store(false)
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		seen[b.pick().addr] = true
	}
	if len(seen) != 3 {
		t.Fatalf("panic mode used %v", seen)
	}
}
