package tcp

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/grafana/sobek"

	"go.k6.io/k6/v2/js/common"
)

type socketState uint8

const (
	stateDisconnected socketState = iota
	stateOpening
	stateOpen
	stateDestroyed
)

func (st socketState) String() string {
	switch st {
	case stateOpening:
		return "opening"
	case stateOpen:
		return "open"
	case stateDestroyed:
		return "destroyed"
	default:
		return "disconnected"
	}
}

const (
	evConnect = iota
	evData
	evClose
	evError
	evTimeout
	numEvents
)

var eventNames = map[string]int{
	"connect": evConnect,
	"data":    evData,
	"close":   evClose,
	"error":   evError,
	"timeout": evTimeout,
}

// socket is the Go side of one JS Socket object.
type socket struct {
	mi   *moduleInstance
	obj  *sobek.Object
	tags map[string]string // from the constructor options

	timeout atomic.Int64 // idle read timeout in ns, 0 = none; read by the reader goroutine

	// Fields below are only touched on the event loop.
	state      socketState
	listeners  [numEvents]sobek.Callable
	closeFired bool
	c          *conn // current (or last) connection attempt

	localIP, remoteIP     string
	localPort, remotePort int
	bytesRead             int64
	bytesWritten          int64
}

var errNotOpen = errors.New("socket is not open")

// defineClass builds the Socket constructor and its prototype once per VU; per-socket
// objects only carry a hidden reference to their Go state.
func (mi *moduleInstance) defineClass() {
	rt := mi.vu.Runtime()
	ctor := rt.ToValue(func(call sobek.ConstructorCall) *sobek.Object {
		s := &socket{mi: mi, obj: call.This}
		if opts := call.Argument(0); !common.IsNullish(opts) {
			tags, err := exportTags(rt, opts.ToObject(rt).Get("tags"))
			if err != nil {
				common.Throw(rt, err)
			}
			s.tags = tags
		}
		if err := call.This.DefineDataPropertySymbol(
			mi.goSym, rt.ToValue(s), sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_FALSE); err != nil {
			common.Throw(rt, err)
		}
		return nil
	}).(*sobek.Object)
	proto := ctor.Get("prototype").ToObject(rt)
	mi.ctor, mi.proto = ctor, proto

	method := func(name string, fn func(s *socket, call sobek.FunctionCall) sobek.Value) {
		must(rt, proto.DefineDataProperty(name, rt.ToValue(func(call sobek.FunctionCall) sobek.Value {
			return fn(mi.self(call.This), call)
		}), sobek.FLAG_TRUE, sobek.FLAG_TRUE, sobek.FLAG_FALSE))
	}
	getter := func(name string, fn func(s *socket) sobek.Value) {
		must(rt, proto.DefineAccessorProperty(name, rt.ToValue(func(call sobek.FunctionCall) sobek.Value {
			return fn(mi.self(call.This))
		}), nil, sobek.FLAG_TRUE, sobek.FLAG_TRUE))
	}

	method("connect", (*socket).jsConnect)
	method("write", (*socket).jsWrite)
	method("destroy", func(s *socket, _ sobek.FunctionCall) sobek.Value { s.destroy(); return sobek.Undefined() })
	method("setTimeout", (*socket).jsSetTimeout)
	method("on", (*socket).jsOn)

	str := func(v string) sobek.Value {
		if v == "" {
			return sobek.Undefined()
		}
		return rt.ToValue(v)
	}
	port := func(p int) sobek.Value {
		if p == 0 {
			return sobek.Undefined()
		}
		return rt.ToValue(p)
	}
	getter("ready_state", func(s *socket) sobek.Value { return rt.ToValue(s.state.String()) })
	getter("connected", func(s *socket) sobek.Value { return rt.ToValue(s.state == stateOpen) })
	getter("local_ip", func(s *socket) sobek.Value { return str(s.localIP) })
	getter("local_port", func(s *socket) sobek.Value { return port(s.localPort) })
	getter("remote_ip", func(s *socket) sobek.Value { return str(s.remoteIP) })
	getter("remote_port", func(s *socket) sobek.Value { return port(s.remotePort) })
	getter("bytes_read", func(s *socket) sobek.Value { return rt.ToValue(s.bytesRead) })
	getter("bytes_written", func(s *socket) sobek.Value { return rt.ToValue(s.bytesWritten) })
}

// self returns the Go socket behind a JS `this`, or throws a TypeError.
func (mi *moduleInstance) self(this sobek.Value) *socket {
	rt := mi.vu.Runtime()
	if o, ok := this.(*sobek.Object); ok {
		if v := o.GetSymbol(mi.goSym); v != nil {
			if s, ok := v.Export().(*socket); ok {
				return s
			}
		}
	}
	panic(rt.NewTypeError("not a tcp.Socket"))
}

func must(rt *sobek.Runtime, err error) {
	if err != nil {
		common.Throw(rt, err)
	}
}

func exportTags(rt *sobek.Runtime, v sobek.Value) (map[string]string, error) {
	if common.IsNullish(v) {
		return nil, nil
	}
	obj := v.ToObject(rt)
	keys := obj.Keys()
	if len(keys) == 0 {
		return nil, nil
	}
	tags := make(map[string]string, len(keys))
	for _, k := range keys {
		val := obj.Get(k)
		if common.IsNullish(val) {
			continue
		}
		if _, isObj := val.(*sobek.Object); isObj {
			return nil, fmt.Errorf("tag %q must be a string, number or boolean", k)
		}
		tags[k] = val.String()
	}
	return tags, nil
}

// connectOptions is the parsed argument of connect().
type connectOptions struct {
	host    string
	port    string
	tls     bool
	tags    map[string]string
	timeout time.Duration
}

func parseConnectArgs(rt *sobek.Runtime, call sobek.FunctionCall) (connectOptions, error) {
	opts := connectOptions{host: "localhost"}
	first := call.Argument(0)
	if common.IsNullish(first) {
		return opts, errors.New("connect() needs a port or an options object")
	}
	var portVal sobek.Value
	if o, ok := first.(*sobek.Object); ok && o.ClassName() == "Object" {
		portVal = o.Get("port")
		if h := o.Get("host"); !common.IsNullish(h) {
			opts.host = h.String()
		}
		if t := o.Get("tls"); !common.IsNullish(t) {
			opts.tls = t.ToBoolean()
		}
		if t := o.Get("timeout"); !common.IsNullish(t) {
			ms := t.ToFloat()
			if ms < 0 || ms != ms { //nolint:gocritic // NaN check
				return opts, errors.New("connect(): timeout must be a non-negative number of milliseconds")
			}
			opts.timeout = time.Duration(ms * float64(time.Millisecond))
		}
		tags, err := exportTags(rt, o.Get("tags"))
		if err != nil {
			return opts, err
		}
		opts.tags = tags
	} else {
		portVal = first
		if h := call.Argument(1); !common.IsNullish(h) {
			opts.host = h.String()
		}
	}
	if common.IsNullish(portVal) {
		return opts, errors.New("connect(): port is required")
	}
	opts.port = portVal.String()
	if n, err := strconv.Atoi(opts.port); err == nil && (n < 0 || n > 65535) {
		return opts, fmt.Errorf("connect(): port %d is out of range", n)
	}
	if opts.port == "" {
		return opts, errors.New("connect(): port is required")
	}
	if opts.host == "" {
		opts.host = "localhost"
	}
	return opts, nil
}

func (s *socket) jsOn(call sobek.FunctionCall) sobek.Value {
	rt := s.mi.vu.Runtime()
	name := call.Argument(0).String()
	ev, ok := eventNames[name]
	if !ok {
		panic(rt.NewTypeError(fmt.Sprintf("unknown socket event %q (expected connect, data, close, error or timeout)", name)))
	}
	arg := call.Argument(1)
	if common.IsNullish(arg) {
		s.listeners[ev] = nil
		return sobek.Undefined()
	}
	fn, ok := sobek.AssertFunction(arg)
	if !ok {
		panic(rt.NewTypeError(fmt.Sprintf("the listener for %q must be a function", name)))
	}
	s.listeners[ev] = fn
	return sobek.Undefined()
}

func (s *socket) jsSetTimeout(call sobek.FunctionCall) sobek.Value {
	rt := s.mi.vu.Runtime()
	ms := call.Argument(0).ToFloat()
	if ms < 0 || ms != ms { //nolint:gocritic // NaN check
		panic(rt.NewTypeError("setTimeout(): timeout must be a non-negative number of milliseconds"))
	}
	d := time.Duration(ms * float64(time.Millisecond))
	s.timeout.Store(int64(d))
	if s.state == stateOpen && s.c != nil {
		s.c.applyTimeout(d)
	}
	return call.This
}

func (s *socket) jsConnect(call sobek.FunctionCall) sobek.Value {
	rt := s.mi.vu.Runtime()
	p, resolve, reject := rt.NewPromise()
	fail := func(err error) sobek.Value {
		_ = reject(s.jsError(err))
		return rt.ToValue(p)
	}
	opts, err := parseConnectArgs(rt, call)
	if err != nil {
		return fail(err)
	}
	switch s.state {
	case stateDestroyed:
		return fail(errors.New("connect(): socket has been destroyed; create a new Socket"))
	case stateOpening, stateOpen:
		return fail(errors.New("connect(): socket is already connecting or connected"))
	default:
	}
	if s.mi.vu.State() == nil {
		return fail(errors.New("connect(): not available in the init context"))
	}
	if s.mi.metrics == nil {
		return fail(errors.New("connect(): k6/x/tcp metrics are not initialised"))
	}
	c := newConn(s, opts)
	s.c = c
	s.state = stateOpening
	s.localIP, s.remoteIP, s.localPort, s.remotePort = "", "", 0, 0
	go c.run(opts, resolve, reject)
	return rt.ToValue(p)
}

func (s *socket) jsWrite(call sobek.FunctionCall) sobek.Value {
	rt := s.mi.vu.Runtime()
	p, resolve, reject := rt.NewPromise()
	fail := func(err error) sobek.Value {
		_ = reject(s.jsError(err))
		return rt.ToValue(p)
	}
	if s.state != stateOpen || s.c == nil {
		return fail(errNotOpen)
	}
	var encoding string
	var tags map[string]string
	if o := call.Argument(1); !common.IsNullish(o) {
		obj := o.ToObject(rt)
		if e := obj.Get("encoding"); !common.IsNullish(e) {
			encoding = e.String()
		}
		var err error
		if tags, err = exportTags(rt, obj.Get("tags")); err != nil {
			return fail(err)
		}
	}
	data, err := toBytes(rt, call.Argument(0), encoding)
	if err != nil {
		return fail(err)
	}
	c := s.c
	ts := c.tags
	if len(tags) > 0 {
		ts = ts.WithTagsFromMap(tags)
	}
	cb := s.mi.vu.RegisterCallback()
	c.enqueueWrite(&writeJob{data: data, tags: ts, done: func(n int, err error) {
		cb(func() error {
			s.bytesWritten += int64(n)
			if err != nil {
				_ = reject(s.jsError(err))
			} else {
				_ = resolve(sobek.Undefined())
			}
			return nil
		})
	}})
	return rt.ToValue(p)
}

// destroy closes the socket for good. Idempotent; 'close' fires once, asynchronously.
func (s *socket) destroy() {
	switch s.state {
	case stateDestroyed:
		return
	case stateOpening, stateOpen:
		s.state = stateDestroyed
		s.c.teardown(nil, "") // queues the 'close' event on the connection's queue
	default: // never connected, or the last connect failed: no queue holds the loop
		s.state = stateDestroyed
		if !s.closeFired {
			s.closeFired = true
			cb := s.mi.vu.RegisterCallback()
			cb(func() error { return s.fire(evClose) })
		}
	}
}

// fire calls a listener on the event loop. Listeners are skipped once the VU context is done
// (the iteration is being torn down and the runtime may be interrupted).
func (s *socket) fire(ev int, args ...sobek.Value) error {
	fn := s.listeners[ev]
	if fn == nil {
		return nil
	}
	if ctx := s.mi.vu.Context(); ctx != nil && ctx.Err() != nil {
		return nil
	}
	_, err := fn(s.obj, args...)
	return err
}

func (s *socket) fireClose() error {
	if s.closeFired {
		return nil
	}
	s.closeFired = true
	return s.fire(evClose)
}

// jsError converts a Go error to a JS Error with a Node-like `code` when one is known.
func (s *socket) jsError(err error) *sobek.Object {
	rt := s.mi.vu.Runtime()
	o := rt.NewGoError(err)
	if code := errorCode(err); code != "" {
		_ = o.Set("code", code)
	}
	return o
}
