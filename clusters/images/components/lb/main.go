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
	pathRe     = regexp.MustCompile(`(?m)^\s*path:\s*(\S+)\s*$`)
	addressRe  = regexp.MustCompile(`(?m)^\s*address:\s*"?([^"\s]+)"?\s*$`)
	portRe     = regexp.MustCompile(`(?m)^\s*port_value:\s*(\d+)\s*$`)
	intervalRe = regexp.MustCompile(`(?m)^\s*interval:\s*(\d+)s\s*$`)
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

// setBackends reads the lb_endpoints of the CDS file: each endpoint is an address line followed by a port_value.
func (b *balancer) setBackends(cds string) {
	i := strings.Index(cds, "lb_endpoints:")
	if i < 0 {
		b.mu.Lock()
		b.backends = nil
		b.mu.Unlock()
		log.Printf("cds: no endpoints")
		return
	}
	if m := intervalRe.FindStringSubmatch(cds); m != nil {
		if s, _ := strconv.Atoi(m[1]); s > 0 {
			b.interval = time.Duration(s) * time.Second
		}
	}
	ends := cds[i:]
	addrs := addressRe.FindAllStringSubmatch(ends, -1)
	ports := portRe.FindAllStringSubmatch(ends, -1)
	var list []*backend
	b.mu.Lock()
	old := map[string]*backend{}
	for _, x := range b.backends {
		old[x.addr] = x
	}
	for k := 0; k < len(addrs) && k < len(ports); k++ {
		a := net.JoinHostPort(addrs[k][1], ports[k][1])
		if x, ok := old[a]; ok {
			list = append(list, x)
		} else {
			list = append(list, &backend{addr: a}) // unhealthy until its first check passes, as in envoy
		}
	}
	b.backends = list
	b.mu.Unlock()
	names := make([]string, len(list))
	for k, x := range list {
		names[k] = x.addr
	}
	log.Printf("cds: backends %s", strings.Join(names, ", "))
	go b.checkAll()
}

func (b *balancer) setListener(lds string) {
	m := portRe.FindStringSubmatch(lds)
	if m == nil {
		return
	}
	addr := net.JoinHostPort("0.0.0.0", m[1])
	if strings.Contains(lds, `"::"`) {
		addr = net.JoinHostPort("::", m[1])
	}
	if addr == b.listen {
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
