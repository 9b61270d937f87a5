// Package tcp implements the k6 JavaScript module "k6/x/tcp": raw TCP (optionally TLS) client sockets
// with a Promise/event API that mirrors the one of the grafana/xk6-tcp extension, so scenarios can later
// switch to the official extension by changing one import in main.go.
//
// Design notes:
//   - every JS callback runs on the VU event loop; network I/O runs in goroutines;
//   - one reader goroutine per open socket, and a writer goroutine only while writes are pending;
//   - an open socket keeps its VU iteration alive (a registered event-loop callback) until it closes;
//   - every metric sample carries a non-nil TagSet (VU tags + socket tags).
package tcp

import (
	"sync"

	"github.com/grafana/sobek"

	"go.k6.io/k6/v2/js/modules"
	"go.k6.io/k6/v2/metrics"
)

// ModuleName is the import path scripts use.
const ModuleName = "k6/x/tcp"

// Version of this implementation; reported by the module's default export as `version`.
const Version = "0.1.0"

func init() {
	modules.Register(ModuleName, New())
}

// RootModule is the global module object; one per k6 process.
type RootModule struct {
	mu      sync.Mutex
	metrics map[*metrics.Registry]*tcpMetrics
}

var _ modules.Module = (*RootModule)(nil)

// New returns the root module.
func New() *RootModule {
	return &RootModule{metrics: make(map[*metrics.Registry]*tcpMetrics)}
}

// tcpMetrics are the custom metrics this module emits. Registered once per metrics registry.
type tcpMetrics struct {
	registry        *metrics.Registry
	connects        *metrics.Metric
	connectDuration *metrics.Metric
	errors          *metrics.Metric
	reads           *metrics.Metric
	writes          *metrics.Metric
	timeouts        *metrics.Metric
	socketDuration  *metrics.Metric
}

func (r *RootModule) metricsFor(reg *metrics.Registry) (*tcpMetrics, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.metrics[reg]; ok {
		return m, nil
	}
	m := &tcpMetrics{registry: reg}
	var err error
	reg1 := func(name string, typ metrics.MetricType, vt ...metrics.ValueType) *metrics.Metric {
		if err != nil {
			return nil
		}
		var mt *metrics.Metric
		mt, err = reg.NewMetric(name, typ, vt...)
		return mt
	}
	m.connects = reg1("tcp_connects", metrics.Counter)
	m.connectDuration = reg1("tcp_connect_duration", metrics.Trend, metrics.Time)
	m.errors = reg1("tcp_errors", metrics.Counter)
	m.reads = reg1("tcp_reads", metrics.Counter)
	m.writes = reg1("tcp_writes", metrics.Counter)
	m.timeouts = reg1("tcp_timeouts", metrics.Counter)
	m.socketDuration = reg1("tcp_socket_duration", metrics.Trend, metrics.Time)
	if err != nil {
		return nil, err
	}
	r.metrics[reg] = m
	return m, nil
}

// moduleInstance is the per-VU instance of the module.
type moduleInstance struct {
	vu      modules.VU
	root    *RootModule
	metrics *tcpMetrics

	ctor       *sobek.Object // the Socket constructor
	proto      *sobek.Object // Socket.prototype
	goSym      *sobek.Symbol // symbol under which each JS Socket keeps its Go *socket
	uint8Array sobek.Value   // the global Uint8Array constructor
}

var _ modules.Instance = (*moduleInstance)(nil)

// NewModuleInstance is called once per VU (in the init context).
func (r *RootModule) NewModuleInstance(vu modules.VU) modules.Instance {
	rt := vu.Runtime()
	mi := &moduleInstance{vu: vu, root: r, goSym: sobek.NewSymbol("tcp.socket")}
	if env := vu.InitEnv(); env != nil && env.Registry != nil {
		m, err := r.metricsFor(env.Registry)
		if err != nil {
			panic(rt.NewGoError(err))
		}
		mi.metrics = m
	}
	mi.uint8Array = rt.Get("Uint8Array")
	mi.defineClass()
	return mi
}

// Exports implements modules.Instance.
func (mi *moduleInstance) Exports() modules.Exports {
	rt := mi.vu.Runtime()
	def := rt.NewObject()
	_ = def.Set("Socket", mi.ctor)
	_ = def.Set("version", Version)
	return modules.Exports{
		Default: def,
		Named:   map[string]any{"Socket": mi.ctor},
	}
}
