// goproxy: the idiomatic Go TCP proxy, the "Go" peer of bench/proxy/compare.
//
// An accept loop, and per accepted connection a dial to the upstream and two goroutines
// that io.Copy one direction each. io.Copy from a *net.TCPConn to a *net.TCPConn goes
// through (*TCPConn).ReadFrom, which uses splice(2) on Linux, so the bytes never enter
// user space. When one direction reaches end of stream its destination is half-closed
// (CloseWrite), and the connection is closed once both directions have finished: the
// same semantics as parkway's pumps. Nothing else: no timeouts, no logging per
// connection, no balancing. The number of Ps is GOMAXPROCS (set by the harness).
//
//	goproxy -listen 127.0.0.1:PORT -upstream 127.0.0.1:PORT
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func pipe(dst, src *net.TCPConn, done chan<- struct{}) {
	// Errors end the copy; the other direction still finishes on its own (or fails when
	// the sockets are closed below).
	io.Copy(dst, src)
	dst.CloseWrite()
	done <- struct{}{}
}

func serve(client *net.TCPConn, upstream string) {
	defer client.Close()
	c, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{}, 2)
	go pipe(up, client, done)
	go pipe(client, up, done)
	<-done
	<-done
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "host:port to forward to")
	flag.Parse()
	if *upstream == "" {
		log.Fatal("goproxy: -upstream is required")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("goproxy: %v", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			// EMFILE and the like: Go's own net/http backs off the same way.
			log.Printf("goproxy: accept: %v", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go serve(c.(*net.TCPConn), *upstream)
	}
}
