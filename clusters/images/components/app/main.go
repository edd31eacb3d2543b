// app: the workload image of the workload scenarios (aftershock.local/app). An HTTP server with the
// start-up behaviours real services have, set through the environment:
//
//	PORT             port to listen on (default 8080)
//	STARTUP_SECONDS  seconds of start-up work before the port opens (a slow-starting service)
//	CONFIG_FILE      a file the service must read at start; if it cannot, it exits 1 with the error
//
// It answers / with its hostname and the path, and /healthz with "ok" once started.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	host, _ := os.Hostname()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if f := os.Getenv("CONFIG_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatalf("fatal: cannot load configuration: %v", err)
		}
		log.Printf("loaded %d bytes of configuration from %s", len(b), f)
	}
	if s, _ := strconv.Atoi(os.Getenv("STARTUP_SECONDS")); s > 0 {
		log.Printf("starting: warming caches for %ds before opening :%s", s, port)
		time.Sleep(time.Duration(s) * time.Second)
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app on %s: %s\n", host, r.URL.Path)
	})
	log.Printf("listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
