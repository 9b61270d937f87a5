package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/grafana/sobek"

	"go.k6.io/k6/v2/lib"
	"go.k6.io/k6/v2/lib/netext"
	"go.k6.io/k6/v2/metrics"
)

const (
	readBufferSize = 4096
	// maxInflightChunks bounds how many received chunks may wait for the event loop per socket;
	// beyond that the reader stops reading and TCP flow control pushes back on the peer.
	maxInflightChunks = 16
)

var errSocketClosed = errors.New("socket closed")

// conn is one connection attempt of a socket: the dial, then (if it succeeds) the open
// connection until teardown. All fields set in newConn are read-only afterwards.
type conn struct {
	s        *socket
	ctx      context.Context // the VU iteration context the connection belongs to
	dialCtx  context.Context
	cancel   context.CancelFunc // cancels dialCtx
	stopWait func() bool        // unregisters the ctx.Done hook
	q        *loopQueue         // holds the VU iteration open while the connection lives

	samples chan<- metrics.SampleContainer
	m       *tcpMetrics
	builtin *metrics.BuiltinMetrics
	tags    *metrics.TagSet // never nil
	meta    map[string]string
	dialer  lib.DialContexter
	tlsConf *tls.Config

	credits chan struct{}
	done    chan struct{} // closed on teardown

	mu        sync.Mutex
	nc        net.Conn
	torn      bool
	openedAt  time.Time
	writeQ    []*writeJob
	writing   bool
	deadlined bool // a read deadline is set on nc
}

type writeJob struct {
	data []byte
	tags *metrics.TagSet
	done func(n int, err error) // settles the write() promise on the event loop
}

// newConn runs on the event loop.
func newConn(s *socket, opts connectOptions) *conn {
	vu := s.mi.vu
	state := vu.State()
	tam := state.Tags.GetCurrentValues()
	tags := tam.Tags
	if tags == nil {
		tags = s.mi.metrics.registry.RootTagSet()
	}
	if len(s.tags) > 0 {
		tags = tags.WithTagsFromMap(s.tags)
	}
	if len(opts.tags) > 0 {
		tags = tags.WithTagsFromMap(opts.tags)
	}
	ctx := vu.Context()
	var dialCtx context.Context
	var cancel context.CancelFunc
	if opts.timeout > 0 {
		dialCtx, cancel = context.WithTimeout(ctx, opts.timeout)
	} else {
		dialCtx, cancel = context.WithCancel(ctx)
	}
	c := &conn{
		s:       s,
		ctx:     ctx,
		dialCtx: dialCtx,
		cancel:  cancel,
		q:       newLoopQueue(vu.RegisterCallback),
		samples: state.Samples,
		m:       s.mi.metrics,
		builtin: state.BuiltinMetrics,
		tags:    tags,
		meta:    tam.Metadata,
		dialer:  state.Dialer,
		credits: make(chan struct{}, maxInflightChunks),
		done:    make(chan struct{}),
	}
	if opts.tls {
		if state.TLSConfig != nil {
			c.tlsConf = state.TLSConfig.Clone()
		} else {
			c.tlsConf = &tls.Config{} //nolint:gosec // k6's TLS options decide the minimum version
		}
		if c.tlsConf.ServerName == "" {
			c.tlsConf.ServerName = opts.host
		}
	}
	// When the iteration ends (scenario end, gracefulStop, an exception), close everything.
	c.stopWait = context.AfterFunc(ctx, func() { c.teardown(nil, "") })
	return c
}

// run dials and then becomes the connection's reader goroutine.
func (c *conn) run(opts connectOptions, resolve, reject func(any) error) {
	start := time.Now()
	nc, err := c.dial(opts)
	c.cancel()
	elapsed := time.Since(start)
	if err != nil {
		c.mu.Lock()
		torn := c.torn
		c.torn = true
		c.mu.Unlock()
		c.stopWait()
		if !torn {
			close(c.done)
			c.pushErr(connectErrorReason(err), time.Now())
		}
		c.q.queue(func() error { return c.s.onConnectFailed(c, err, reject) })
		c.q.close()
		return
	}

	c.mu.Lock()
	if c.torn { // destroyed or iteration ended while dialing
		c.mu.Unlock()
		c.stopWait()
		_ = nc.Close()
		c.q.queue(func() error { return c.s.onConnectFailed(c, errSocketClosed, reject) })
		c.q.close()
		return
	}
	c.nc = nc
	c.openedAt = time.Now()
	local, _ := nc.LocalAddr().(*net.TCPAddr)
	remote, _ := nc.RemoteAddr().(*net.TCPAddr)
	// Queued under mu, so a concurrent teardown queues its 'close' after this.
	c.q.queue(func() error { return c.s.onConnected(c, local, remote, resolve, reject) })
	c.mu.Unlock()

	now := time.Now()
	c.push(now,
		sample(c.m.connects, c.tags, 1),
		sample(c.m.connectDuration, c.tags, metrics.D(elapsed)))

	c.readLoop(nc)
}

func (c *conn) dial(opts connectOptions) (net.Conn, error) {
	nc, err := c.dialer.DialContext(c.dialCtx, "tcp", net.JoinHostPort(opts.host, opts.port))
	if err != nil {
		return nil, err
	}
	// k6's dialer wraps the conn to count bytes for data_sent/data_received, which it only emits
	// at the end of an iteration. Sockets live for a whole session, so this module emits those
	// metrics itself as bytes flow, from the unwrapped conn (no double counting).
	if w, ok := nc.(*netext.Conn); ok {
		nc = w.Conn
	}
	if c.tlsConf != nil {
		tc := tls.Client(nc, c.tlsConf)
		if err := tc.HandshakeContext(c.dialCtx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	return nc, nil
}

func (c *conn) readLoop(nc net.Conn) {
	buf := make([]byte, readBufferSize)
	for {
		c.refreshDeadline(nc)
		n, err := nc.Read(buf)
		if n > 0 {
			data := make([]byte, n)
			copy(data, buf[:n])
			now := time.Now()
			c.push(now,
				sample(c.m.reads, c.tags, 1),
				sample(c.builtin.DataReceived, c.tags, float64(n)))
			select {
			case c.credits <- struct{}{}:
			case <-c.done:
				return
			}
			c.q.queue(func() error {
				<-c.credits
				return c.s.onData(c, data)
			})
		}
		if err == nil {
			continue
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if c.isTorn() {
				return
			}
			c.push(time.Now(), sample(c.m.timeouts, c.tags, 1))
			c.q.queue(func() error { return c.s.onTimeout(c) })
			// the expired deadline stays set: refreshDeadline re-arms or clears it
		case errors.Is(err, io.EOF):
			c.teardown(nil, "")
			return
		default:
			c.teardown(err, readErrorReason(err))
			return
		}
	}
}

func (c *conn) refreshDeadline(nc net.Conn) {
	d := time.Duration(c.s.timeout.Load())
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		_ = nc.SetReadDeadline(time.Now().Add(d))
		c.deadlined = true
	} else if c.deadlined {
		_ = nc.SetReadDeadline(time.Time{})
		c.deadlined = false
	}
}

// applyTimeout re-arms the read deadline right away after setTimeout(); runs on the event loop.
func (c *conn) applyTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc == nil || c.torn {
		return
	}
	if d > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(d))
		c.deadlined = true
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
		c.deadlined = false
	}
}

func (c *conn) isTorn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.torn
}

// teardown closes the connection once; err != nil is reported as 'error' + tcp_errors{reason}.
// Safe from any goroutine.
func (c *conn) teardown(err error, reason string) {
	c.mu.Lock()
	if c.torn {
		c.mu.Unlock()
		return
	}
	c.torn = true
	nc := c.nc
	pending := c.writeQ
	c.writeQ = nil
	c.mu.Unlock()

	c.cancel()
	close(c.done)
	if nc == nil {
		return // still dialing: run() sees torn and finishes the attempt
	}
	c.stopWait()
	_ = nc.Close()
	for _, j := range pending {
		j.done(0, errSocketClosed)
	}
	now := time.Now()
	if err != nil {
		c.pushErr(reason, now)
	}
	c.push(now, sample(c.m.socketDuration, c.tags, metrics.D(now.Sub(c.openedAt))))
	c.q.queue(func() error { return c.s.onClosed(c, err) })
	c.q.close()
}

func (c *conn) enqueueWrite(j *writeJob) {
	c.mu.Lock()
	if c.torn || c.nc == nil {
		c.mu.Unlock()
		j.done(0, errSocketClosed)
		return
	}
	c.writeQ = append(c.writeQ, j)
	if c.writing {
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	go c.writeLoop()
}

// writeLoop writes queued jobs in order and exits when the queue is empty.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if len(c.writeQ) == 0 {
			c.writing = false
			c.writeQ = nil
			c.mu.Unlock()
			return
		}
		j := c.writeQ[0]
		c.writeQ[0] = nil
		c.writeQ = c.writeQ[1:]
		nc := c.nc
		c.mu.Unlock()

		n, err := nc.Write(j.data)
		now := time.Now()
		c.push(now,
			sample(c.m.writes, j.tags, 1),
			sample(c.builtin.DataSent, j.tags, float64(n)))
		if err != nil {
			if c.isTorn() {
				err = errSocketClosed
			} else {
				c.pushErrTags(j.tags, "write", now)
			}
		}
		j.done(n, err)
	}
}

type sampleSpec struct {
	m    *metrics.Metric
	tags *metrics.TagSet
	v    float64
}

func sample(m *metrics.Metric, tags *metrics.TagSet, v float64) sampleSpec {
	return sampleSpec{m: m, tags: tags, v: v}
}

// push sends samples; every sample carries a non-nil TagSet (c.tags is never nil).
func (c *conn) push(t time.Time, specs ...sampleSpec) {
	if len(specs) == 0 || c.ctx.Err() != nil {
		return
	}
	samples := make([]metrics.Sample, 0, len(specs))
	for _, sp := range specs {
		tags := sp.tags
		if tags == nil {
			tags = c.tags
		}
		samples = append(samples, metrics.Sample{
			TimeSeries: metrics.TimeSeries{Metric: sp.m, Tags: tags},
			Time:       t,
			Metadata:   c.meta,
			Value:      sp.v,
		})
	}
	metrics.PushIfNotDone(c.ctx, c.samples, metrics.ConnectedSamples{Samples: samples, Tags: c.tags, Time: t})
}

func (c *conn) pushErr(reason string, t time.Time) { c.pushErrTags(c.tags, reason, t) }

func (c *conn) pushErrTags(tags *metrics.TagSet, reason string, t time.Time) {
	c.push(t, sample(c.m.errors, tags.With("reason", reason), 1))
}

// --- event-loop side ---

func (s *socket) onConnected(c *conn, local, remote *net.TCPAddr, resolve, reject func(any) error) error {
	if s.c != c || s.state != stateOpening {
		// destroy() won the race; its teardown queued onClosed right after this task
		_ = reject(s.jsError(errSocketClosed))
		return nil
	}
	s.state = stateOpen
	if local != nil {
		s.localIP, s.localPort = local.IP.String(), local.Port
	}
	if remote != nil {
		s.remoteIP, s.remotePort = remote.IP.String(), remote.Port
	}
	if err := s.fire(evConnect); err != nil {
		_ = reject(err)
		return err
	}
	_ = resolve(sobek.Undefined())
	return nil
}

func (s *socket) onConnectFailed(c *conn, err error, reject func(any) error) error {
	jsErr := s.jsError(err)
	if s.c == c && s.state == stateOpening {
		s.state = stateDisconnected // connect() may be retried
		// 'error' first: calling reject runs the script's continuation right away
		ferr := s.fire(evError, jsErr)
		_ = reject(jsErr)
		return ferr
	}
	// destroyed while connecting
	ferr := s.fireClose()
	_ = reject(jsErr)
	return ferr
}

func (s *socket) onData(c *conn, data []byte) error {
	if s.c != c || s.state != stateOpen {
		return nil
	}
	s.bytesRead += int64(len(data))
	if s.listeners[evData] == nil {
		return nil
	}
	rt := s.mi.vu.Runtime()
	arr, err := rt.New(s.mi.uint8Array, rt.ToValue(rt.NewArrayBuffer(data)))
	if err != nil {
		return err
	}
	return s.fire(evData, arr)
}

func (s *socket) onTimeout(c *conn) error {
	if s.c != c || s.state != stateOpen {
		return nil
	}
	return s.fire(evTimeout)
}

func (s *socket) onClosed(c *conn, err error) error {
	if s.c == c {
		s.state = stateDestroyed
	}
	if err != nil {
		if e := s.fire(evError, s.jsError(err)); e != nil {
			return e
		}
	}
	return s.fireClose()
}

// --- error classification ---

func connectErrorReason(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timeout"
	}
	return "connect"
}

func readErrorReason(err error) string {
	if errors.Is(err, syscall.ECONNRESET) {
		return "reset"
	}
	return "read"
}

func errorCode(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET"
	case errors.Is(err, syscall.EPIPE):
		return "EPIPE"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "ETIMEDOUT"
	case errors.Is(err, errSocketClosed), errors.Is(err, errNotOpen):
		return "ERR_SOCKET_CLOSED"
	case errors.As(err, &errno):
		return "ERRNO_" + strconv.Itoa(int(errno))
	}
	return ""
}
