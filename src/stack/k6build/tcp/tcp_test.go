package tcp

import (
	"context"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"go.k6.io/k6/v2/js/modulestest"
	"go.k6.io/k6/v2/lib"
	"go.k6.io/k6/v2/lib/netext"
	"go.k6.io/k6/v2/lib/types"
	"go.k6.io/k6/v2/metrics"
)

type testVU struct {
	rt      *modulestest.Runtime
	samples chan metrics.SampleContainer
	cancel  context.CancelFunc
}

func newTestVU(t *testing.T) *testVU {
	t.Helper()
	rt := modulestest.NewRuntime(t)
	mi, ok := New().NewModuleInstance(rt.VU).(*moduleInstance)
	require.True(t, ok)
	require.NoError(t, rt.VU.Runtime().Set("tcp", mi.Exports().Default))

	ctx, cancel := context.WithCancel(context.Background())
	rt.VU.CtxField = ctx
	t.Cleanup(cancel)

	registry := rt.VU.InitEnvField.Registry
	samples := make(chan metrics.SampleContainer, 1_000_000)
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	rt.MoveToVUContext(&lib.State{
		Dialer: netext.NewDialer(net.Dialer{Timeout: 5 * time.Second},
			netext.NewResolver(net.LookupIP, 0, types.DNSfirst, types.DNSpreferIPv4)),
		Samples:        samples,
		Tags:           lib.NewVUStateTags(registry.RootTagSet().With("scenario", "unit")),
		BuiltinMetrics: rt.BuiltinMetrics,
		Logger:         logger,
	})
	return &testVU{rt: rt, samples: samples, cancel: cancel}
}

// drain returns every sample pushed so far.
func (v *testVU) drain() []metrics.Sample {
	var out []metrics.Sample
	for {
		select {
		case sc := <-v.samples:
			out = append(out, sc.GetSamples()...)
		default:
			return out
		}
	}
}

func listen(t *testing.T, handle func(net.Conn)) (port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func echoServer(c net.Conn) {
	defer func() { _ = c.Close() }()
	_, _ = io.Copy(c, c)
}

func requireTagged(t *testing.T, samples []metrics.Sample) {
	t.Helper()
	for _, s := range samples {
		require.NotNil(t, s.Tags, "sample of %s without a TagSet", s.Metric.Name)
		v, _ := s.Tags.Get("scenario")
		require.Equal(t, "unit", v, "sample of %s lost the VU tags", s.Metric.Name)
	}
}

func TestEchoRoundTrip(t *testing.T) {
	t.Parallel()
	v := newTestVU(t)
	port := listen(t, echoServer)
	_, err := v.rt.RunOnEventLoop(`(async () => {
		const s = new tcp.Socket({ tags: { device: "d1" } });
		const chunks = [];
		let closes = 0;
		let done;
		const got = new Promise((r) => (done = r));
		s.on("data", (d) => { chunks.push(d); if (chunks.reduce((n, c) => n + c.length, 0) >= 4) done(); });
		s.on("close", () => closes++);
		await s.connect({ port: ` + port + `, host: "127.0.0.1" });
		if (!s.connected || s.ready_state !== "open") throw new Error("not open: " + s.ready_state);
		s.write(new Uint8Array([0, 255]));
		s.write("AAE=", { encoding: "base64", tags: { kind: "b64" } });
		await got;
		const all = [].concat(...chunks.map((c) => Array.from(c)));
		if (all.join(",") !== "0,255,0,1") throw new Error("echo mismatch: " + all);
		if (!(chunks[0] instanceof Uint8Array)) throw new Error("not a Uint8Array");
		s.destroy();
		s.destroy();
		await new Promise((r) => setTimeout(r, 10));
		if (closes !== 1) throw new Error("close fired " + closes + " times");
	})()`)
	require.NoError(t, err)
	samples := v.drain()
	requireTagged(t, samples)
	names := map[string]int{}
	for _, s := range samples {
		names[s.Metric.Name]++
		if s.Metric.Name == "tcp_connects" {
			d, _ := s.Tags.Get("device")
			require.Equal(t, "d1", d)
		}
	}
	require.Equal(t, 1, names["tcp_connects"])
	require.Equal(t, 2, names["tcp_writes"])
	require.Equal(t, 1, names["tcp_socket_duration"])
	require.Zero(t, names["tcp_errors"])
}

func TestPeerResetIsAnErrorNotACrash(t *testing.T) {
	t.Parallel()
	v := newTestVU(t)
	port := listen(t, func(c net.Conn) {
		buf := make([]byte, 16)
		_, _ = c.Read(buf)
		_ = c.(*net.TCPConn).SetLinger(0) // close with RST
		_ = c.Close()
	})
	_, err := v.rt.RunOnEventLoop(`(async () => {
		const s = new tcp.Socket();
		const events = [];
		let closed;
		const p = new Promise((r) => (closed = r));
		s.on("error", (e) => events.push("error:" + e.code));
		s.on("close", () => { events.push("close"); closed(); });
		await s.connect(` + port + `, "127.0.0.1");
		await s.write("hi");
		await p;
		if (events.join(" ") !== "error:ECONNRESET close") throw new Error("events: " + events.join(" "));
		if (s.ready_state !== "destroyed") throw new Error("state " + s.ready_state);
	})()`)
	require.NoError(t, err)
	samples := v.drain()
	requireTagged(t, samples)
	var resets int
	for _, s := range samples {
		if s.Metric.Name == "tcp_errors" {
			r, _ := s.Tags.Get("reason")
			require.Equal(t, "reset", r)
			resets++
		}
	}
	require.Equal(t, 1, resets)
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	v := newTestVU(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())
	_, err = v.rt.RunOnEventLoop(`(async () => {
		const s = new tcp.Socket();
		try { await s.connect(` + port + `, "127.0.0.1"); } catch (e) {
			if (e.code !== "ECONNREFUSED") throw new Error("code " + e.code + " " + e.message);
			if (s.ready_state !== "disconnected") throw new Error("state " + s.ready_state);
			return;
		}
		throw new Error("connect resolved");
	})()`)
	require.NoError(t, err)
	samples := v.drain()
	requireTagged(t, samples)
	require.Len(t, samples, 1)
	r, _ := samples[0].Tags.Get("reason")
	require.Equal(t, "connect", r)
}

// An open socket holds the iteration; cancelling the VU context must close it and end the loop.
func TestContextCancelReleasesTheIteration(t *testing.T) {
	t.Parallel()
	v := newTestVU(t)
	var mu sync.Mutex
	var serverConns []net.Conn
	closedByPeer := make(chan struct{}, 10)
	port := listen(t, func(c net.Conn) {
		mu.Lock()
		serverConns = append(serverConns, c)
		mu.Unlock()
		_, _ = io.Copy(io.Discard, c)
		closedByPeer <- struct{}{}
	})
	before := runtime.NumGoroutine()
	require.NoError(t, v.rt.VU.Runtime().Set("cancelSoon", func() {
		go func() { time.Sleep(100 * time.Millisecond); v.cancel() }()
	}))
	done := make(chan error, 1)
	go func() {
		_, err := v.rt.RunOnEventLoop(`(async () => {
			for (let i = 0; i < 3; i++) { const s = new tcp.Socket(); await s.connect(` + port + `, "127.0.0.1"); s.write("x"); }
			cancelSoon();
		})()`)
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the event loop did not finish after the VU context was cancelled")
	}
	for i := 0; i < 3; i++ {
		select {
		case <-closedByPeer:
		case <-time.After(5 * time.Second):
			t.Fatal("a socket was not closed after the VU context was cancelled")
		}
	}
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+1 }, 5*time.Second, 20*time.Millisecond,
		"goroutines leaked: %d before, %d after", before, runtime.NumGoroutine())
}

// Reports what an open, idle socket costs (goroutines and heap), with 2000 sockets in one VU.
func TestManySocketsCost(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	v := newTestVU(t)
	port := listen(t, echoServer)
	const n = 2000
	var g0, g1 int
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	g0 = runtime.NumGoroutine()
	require.NoError(t, v.rt.VU.Runtime().Set("measure", func() {
		time.Sleep(200 * time.Millisecond) // let the writer goroutines exit
		runtime.GC()
		runtime.ReadMemStats(&m1)
		g1 = runtime.NumGoroutine()
	}))
	_, err := v.rt.RunOnEventLoop(`(async () => {
		const socks = [];
		let got = 0, done;
		const all = new Promise((r) => (done = r));
		await Promise.all(Array.from({ length: ` + strconv.Itoa(n) + ` }, async () => {
			const s = new tcp.Socket();
			s.on("data", (d) => { got += d.length; if (got === ` + strconv.Itoa(n) + `) done(); });
			await s.connect(` + port + `, "127.0.0.1");
			await s.write("x");
			socks.push(s);
		}));
		await all;
		measure();
		for (const s of socks) s.destroy();
	})()`)
	require.NoError(t, err)
	// the echo server runs in this process too: one goroutine per connection on its side
	perSocketG := float64(g1-g0-n) / n
	perSocketHeap := float64(m1.HeapAlloc-m0.HeapAlloc) / n
	perSocketStack := float64(m1.StackInuse-m0.StackInuse) / n
	t.Logf("per open socket: %.2f goroutines (client side); heap %.0f B and stacks %.0f B per socket, "+
		"both including the in-process echo server's side of the connection", perSocketG, perSocketHeap, perSocketStack)
	require.InDelta(t, 1.0, perSocketG, 0.05)
}

func TestLoopQueueOrderAndHold(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	held := 0
	var loop []func() error
	register := func() func(func() error) {
		mu.Lock()
		held++
		mu.Unlock()
		used := false
		return func(f func() error) {
			mu.Lock()
			defer mu.Unlock()
			require.False(t, used, "callback used twice")
			used = true
			held--
			loop = append(loop, f)
		}
	}
	runLoop := func() {
		for {
			mu.Lock()
			if len(loop) == 0 {
				mu.Unlock()
				return
			}
			f := loop[0]
			loop = loop[1:]
			mu.Unlock()
			require.NoError(t, f())
		}
	}
	q := newLoopQueue(register)
	var got []int
	for i := 0; i < 5; i++ {
		q.queue(func() error { got = append(got, i); return nil })
	}
	runLoop()
	require.Equal(t, []int{0, 1, 2, 3, 4}, got)
	require.Equal(t, 1, held, "an open queue holds exactly one callback")
	q.queue(func() error { got = append(got, 5); return nil })
	q.close()
	q.queue(func() error { got = append(got, 6); return nil }) // dropped
	runLoop()
	require.Equal(t, []int{0, 1, 2, 3, 4, 5}, got)
	require.Equal(t, 0, held, "a closed queue releases the loop")
	q.close()
	require.Equal(t, 0, held)
}

func TestEncodeString(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, enc, want string }{
		{"héllo", "", "h\xc3\xa9llo"},
		{"héllo", "utf-8", "h\xc3\xa9llo"},
		{"héllo", "ascii", "h\xe9llo"},
		{"00ff10", "hex", "\x00\xff\x10"},
		{"AP8Q", "base64", "\x00\xff\x10"},
		{"AP8", "base64", "\x00\xff"},
		{"_-8", "base64url", "\xff\xef"},
	}
	for _, c := range cases {
		got, err := encodeString(c.in, c.enc)
		require.NoError(t, err, c)
		require.Equal(t, c.want, string(got), c)
	}
	_, err := encodeString("zz", "hex")
	require.Error(t, err)
	_, err = encodeString("x", "utf16le")
	require.Error(t, err)
}
