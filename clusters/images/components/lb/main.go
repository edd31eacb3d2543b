// Command envoy is Aftershock's load balancer in front of several control planes on kind ≥ v0.32.
//
// kind starts its load-balancer container as `envoy -c /home/envoy/envoy.yaml`, with a bootstrap file that points
// at two file-based xDS resources (CDS and LDS), and later replaces those files atomically with one TCP listener
// and one cluster of API servers. Envoy is not packaged by Debian and cannot be built here, so this program does
// what that configuration asks for, and nothing more: it listens where the LDS file says, forwards each TCP
// connection round robin to a backend of the CDS file, checks every backend with an HTTPS GET of /healthz (TLS
// not verified, like kind's config), and stops sending connections to one that failed twice in a row until it
// passes once. As in envoy, when fewer than half the backends are healthy ("panic mode") all of them are used.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// One key and its value on one line ([ \t], not \s: a key with its value on the next lines is a map).
	pathRe     = regexp.MustCompile(`(?m)^[ \t]*path:[ \t]*(\S+)[ \t]*$`)
	addressRe  = regexp.MustCompile(`(?m)^[ \t]*address:[ \t]*"?([^"\s]+)"?[ \t]*$`)
	portRe     = regexp.MustCompile(`(?m)^[ \t]*port_value:[ \t]*(\d+)[ \t]*$`)
	intervalRe = regexp.MustCompile(`(?m)^[ \t]*interval:[ \t]*(\d+)s[ \t]*$`)
)

type backend struct {
	addr    string
	healthy atomic.Bool
	fails   int
}

type balancer struct {
	mu       sync.Mutex
	backends []*backend
	next     uint64
	listen   string
	ln       net.Listener
	interval time.Duration
}

func main() {
	cfg := flag.String("c", "/home/envoy/envoy.yaml", "bootstrap configuration (envoy's -c)")
	flag.Parse()
	boot, err := os.ReadFile(*cfg)
	if err != nil {
		log.Fatalf("read bootstrap %s: %v", *cfg, err)
	}
	paths := pathRe.FindAllStringSubmatch(string(boot), -1)
	if len(paths) < 2 {
		log.Fatalf("bootstrap %s names no cds/lds paths", *cfg)
	}
	cds, lds := paths[0][1], paths[1][1]
	log.Printf("aftershock-lb: bootstrap %s, clusters from %s, listeners from %s", *cfg, cds, lds)
	b := &balancer{interval: 2 * time.Second}
	go b.healthLoop()
	var lastCDS, lastLDS string
	for {
		if c, err := os.ReadFile(cds); err == nil && string(c) != lastCDS {
			lastCDS = string(c)
			b.setBackends(string(c))
		}
		if l, err := os.ReadFile(lds); err == nil && string(l) != lastLDS {
			lastLDS = string(l)
			b.setListener(string(l))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// parseCDS reads the lb_endpoints of a CDS file (each endpoint an address line followed by a port_value) and the
// health check interval; no endpoints when the file has none (kind's initial "resources: []").
func parseCDS(cds string) (endpoints []string, interval time.Duration) {
	if m := intervalRe.FindStringSubmatch(cds); m != nil {
		if s, _ := strconv.Atoi(m[1]); s > 0 {
			interval = time.Duration(s) * time.Second
		}
	}
	i := strings.Index(cds, "lb_endpoints:")
	if i < 0 {
		return nil, interval
	}
	addrs := addressRe.FindAllStringSubmatch(cds[i:], -1)
	ports := portRe.FindAllStringSubmatch(cds[i:], -1)
	for k := 0; k < len(addrs) && k < len(ports); k++ {
		endpoints = append(endpoints, net.JoinHostPort(addrs[k][1], ports[k][1]))
	}
	return endpoints, interval
}

// parseLDS reads the listener's address from an LDS file; "" when it has none yet.
func parseLDS(lds string) string {
	m := portRe.FindStringSubmatch(lds)
	if m == nil {
		return ""
	}
	if strings.Contains(lds, `"::"`) {
		return net.JoinHostPort("::", m[1])
	}
	return net.JoinHostPort("0.0.0.0", m[1])
}

// setBackends takes the endpoints of a new CDS file, keeping the health of those it already had.
func (b *balancer) setBackends(cds string) {
	endpoints, interval := parseCDS(cds)
	if interval > 0 {
		b.interval = interval
	}
	b.mu.Lock()
	old := map[string]*backend{}
	for _, x := range b.backends {
		old[x.addr] = x
	}
	var list []*backend
	for _, a := range endpoints {
		if x, ok := old[a]; ok {
			list = append(list, x)
		} else {
			list = append(list, &backend{addr: a}) // unhealthy until its first check passes, as in envoy
		}
	}
	b.backends = list
	b.mu.Unlock()
	log.Printf("cds: backends %s", strings.Join(endpoints, ", "))
	go b.checkAll()
}

func (b *balancer) setListener(lds string) {
	addr := parseLDS(lds)
	if addr == "" || addr == b.listen {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Printf("lds: listen %s: %v", addr, err)
		return
	}
	if b.ln != nil {
		b.ln.Close()
	}
	b.ln, b.listen = ln, addr
	log.Printf("lds: listening on %s", addr)
	go b.serve(ln)
}

func (b *balancer) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go b.forward(c)
	}
}

// pick returns the next backend round robin among the healthy ones, or among all when fewer than half are healthy.
func (b *balancer) pick() *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	var healthy []*backend
	for _, x := range b.backends {
		if x.healthy.Load() {
			healthy = append(healthy, x)
		}
	}
	pool := healthy
	if len(b.backends) > 0 && 2*len(healthy) < len(b.backends) {
		pool = b.backends
	}
	if len(pool) == 0 {
		return nil
	}
	b.next++
	return pool[b.next%uint64(len(pool))]
}

func (b *balancer) forward(c net.Conn) {
	defer c.Close()
	x := b.pick()
	if x == nil {
		return
	}
	up, err := net.DialTimeout("tcp", x.addr, 250*time.Millisecond)
	if err != nil {
		log.Printf("connect %s: %v", x.addr, err)
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if t, ok := dst.(*net.TCPConn); ok {
			t.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

var client = &http.Client{
	Timeout:   3 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
}

func (b *balancer) healthLoop() {
	for {
		time.Sleep(b.interval)
		b.checkAll()
	}
}

func (b *balancer) checkAll() {
	b.mu.Lock()
	list := append([]*backend(nil), b.backends...)
	b.mu.Unlock()
	for _, x := range list {
		go b.check(x)
	}
}

func (b *balancer) check(x *backend) {
	ok := false
	r, err := client.Get(fmt.Sprintf("https://%s/healthz", x.addr))
	if err == nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		ok = r.StatusCode == http.StatusOK
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	was := x.healthy.Load()
	if ok {
		x.fails = 0
		x.healthy.Store(true)
	} else {
		x.fails++
		if x.fails >= 2 {
			x.healthy.Store(false)
		}
	}
	if now := x.healthy.Load(); now != was {
		state := "unhealthy"
		if now {
			state = "healthy"
		}
		log.Printf("health: %s is %s", x.addr, state)
	}
}
