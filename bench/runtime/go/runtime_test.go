// Go twins of bench/runtime/runtime_bench.cpp, run side by side by bench/runtime/compare.
// Each benchmark does exactly what its C++ counterpart does, with the same number of Ps.
package runtimebench

import (
	"net"
	"os"
	"sort"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func withProcs(n int, f func()) {
	prev := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(prev)
	f()
}

// Two goroutines on one P yielding to each other: two switches per iteration.
func BenchmarkSwitch(b *testing.B) {
	withProcs(1, func() {
		var stop int32
		done := make(chan struct{})
		go func() {
			for atomic.LoadInt32(&stop) == 0 {
				runtime.Gosched()
			}
			close(done)
		}()
		runtime.Gosched()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			runtime.Gosched()
		}
		elapsed := time.Since(start)
		b.StopTimer()
		atomic.StoreInt32(&stop, 1)
		<-done
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(2*b.N), "ns/switch")
	})
}

func benchProcs(b *testing.B, f func(b *testing.B)) {
	for _, p := range []int{1, 2} {
		b.Run("procs="+strconv.Itoa(p), func(b *testing.B) { withProcs(p, func() { f(b) }) })
	}
}

// Spawn one goroutine and wait for it to finish, over and over.
func BenchmarkSpawnJoin(b *testing.B) {
	benchProcs(b, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { wg.Done() }()
			wg.Wait()
		}
	})
}

// Spawn 1000 goroutines, then wait for all.
func BenchmarkSpawnBatch(b *testing.B) {
	benchProcs(b, func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			var wg sync.WaitGroup
			wg.Add(1000)
			for j := 0; j < 1000; j++ {
				go func() { wg.Done() }()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(1000*b.N), "ns/goroutine")
	})
}

// A round trip through two unbuffered channels: two parks and two readies.
func BenchmarkChanPingPong(b *testing.B) {
	benchProcs(b, func(b *testing.B) {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		for i := 0; i < b.N; i++ {
			ping <- i
			<-pong
		}
		close(ping)
	})
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	fields := strings.Fields(string(data))
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// Resident memory per parked goroutine: RSS growth with 100,000 goroutines blocked on a
// channel, divided by their number.
func BenchmarkParkedGoroutineRSS(b *testing.B) {
	const n = 100000
	withProcs(2, func() {
		var per float64
		for i := 0; i < b.N; i++ {
			runtime.GC()
			before := rssBytes()
			release := make(chan struct{})
			var parked, done sync.WaitGroup
			parked.Add(n)
			done.Add(n)
			for j := 0; j < n; j++ {
				go func() {
					parked.Done()
					<-release
					done.Done()
				}()
			}
			parked.Wait()
			after := rssBytes()
			close(release)
			done.Wait()
			per = float64(after-before) / n
		}
		b.ReportMetric(per, "bytes/goroutine")
	})
}

// One byte back and forth over a loopback TCP connection between two goroutines, with
// Go's net package (TCP_NODELAY is Go's default). Round trips per second, p50 and p99.
func BenchmarkTcpPingPong(b *testing.B) {
	withProcs(2, func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1)
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
				if _, err := c.Write(buf); err != nil {
					break
				}
			}
			c.Close()
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		buf := []byte{1}
		rtt := make([]int64, 0, 1<<20)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			c.Write(buf)
			c.Read(buf)
			if len(rtt) < cap(rtt) {
				rtt = append(rtt, int64(time.Since(t0)))
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		c.Close()
		<-done
		sort.Slice(rtt, func(i, j int) bool { return rtt[i] < rtt[j] })
		pct := func(p float64) float64 {
			if len(rtt) == 0 {
				return 0
			}
			return float64(rtt[int(p*float64(len(rtt)-1))])
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "round_trips/s")
		b.ReportMetric(pct(0.50), "p50_ns")
		b.ReportMetric(pct(0.99), "p99_ns")
	})
}
