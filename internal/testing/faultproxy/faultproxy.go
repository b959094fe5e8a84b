// Package faultproxy is a reverse proxy for tests that sits between the
// AWS SDK and moto and makes the network behave like AWS on a bad day: it
// adds latency, throttles requests with each protocol's own error shape
// (EC2's RequestLimitExceeded, the query and REST-XML services' Throttling,
// S3's SlowDown, the JSON services' ThrottlingException), answers 500 and
// 503, and drops connections.
//
// Faults are injected before a request is forwarded, so a failed request
// never reached moto: a retry is then always safe, which is what lets
// tests demand exactly the resources of a clean run. (A request that AWS
// processed but whose answer was lost is covered by the crash and
// interruption tests instead.)
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the rates (0 to 1) at which each fault is injected, and the
// latency added to every request.
type Faults struct {
	Throttle    float64
	ServerError float64
	Drop        float64
	Latency     time.Duration
	// SerializeWrites forwards one write (PUT, POST, DELETE) at a time.
	// S3 evaluates a conditional write and stores the object atomically;
	// moto, a threaded server, checks the condition and then writes, so
	// two racing writers can both pass the check. Serializing writes gives
	// tests S3's guarantee while moto still judges every precondition.
	SerializeWrites bool
}

// Proxy forwards to a target and injects faults.
type Proxy struct {
	URL string

	faults   Faults
	target   *url.URL
	rp       *httputil.ReverseProxy
	srv      *http.Server
	ln       net.Listener
	mu       sync.Mutex
	rng      *rand.Rand
	writes   sync.Mutex
	Injected struct{ Throttled, ServerErrors, Dropped, Forwarded atomic.Int64 }
}

// Start listens on a free loopback port and forwards to target.
func Start(target string, f Faults, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("fault proxy target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: %w", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), faults: f, target: u, ln: ln, rng: rand.New(rand.NewPCG(seed, 7))}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

func (p *Proxy) roll() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64()
}

// ServeHTTP injects at most one fault, then forwards.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.faults.Latency > 0 {
		time.Sleep(p.faults.Latency)
	}
	if strings.HasPrefix(r.URL.Path, "/moto-api") {
		p.rp.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	x := p.roll()
	switch {
	case x < p.faults.Drop:
		p.Injected.Dropped.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		// No hijacking (HTTP/2): the nearest thing is an answer with no body.
		w.WriteHeader(http.StatusBadGateway)
		return
	case x < p.faults.Drop+p.faults.Throttle:
		p.Injected.Throttled.Add(1)
		throttle(w, r, body)
		return
	case x < p.faults.Drop+p.faults.Throttle+p.faults.ServerError:
		p.Injected.ServerErrors.Add(1)
		serverError(w, r, body, p.roll() < 0.5)
		return
	}
	p.Injected.Forwarded.Add(1)
	if p.faults.SerializeWrites && r.Method != http.MethodGet && r.Method != http.MethodHead {
		p.writes.Lock()
		defer p.writes.Unlock()
	}
	p.rp.ServeHTTP(w, r)
}

// protocol tells which of AWS's wire protocols a request uses.
type protocol int

const (
	protoEC2 protocol = iota
	protoQuery
	protoJSON
	protoRESTXML // Route 53
	protoS3
)

func protocolOf(r *http.Request, body []byte) protocol {
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		return protoJSON
	case strings.HasPrefix(r.URL.Path, "/2013-04-01/"):
		return protoRESTXML
	case bytes.Contains(body, []byte("Action=")):
		if bytes.Contains(body, []byte("Version=2016-11-15")) {
			return protoEC2
		}
		return protoQuery
	}
	return protoS3
}

func throttle(w http.ResponseWriter, r *http.Request, body []byte) {
	switch protocolOf(r, body) {
	case protoEC2:
		writeXML(w, http.StatusServiceUnavailable, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>`)
	case protoJSON:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	case protoS3:
		writeXML(w, http.StatusServiceUnavailable, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>`)
	default: // query services and Route 53 share this shape
		writeXML(w, http.StatusBadRequest, `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`)
	}
}

func serverError(w http.ResponseWriter, r *http.Request, body []byte, unavailable bool) {
	status, code := http.StatusInternalServerError, "InternalError"
	if unavailable {
		status, code = http.StatusServiceUnavailable, "ServiceUnavailable"
	}
	switch protocolOf(r, body) {
	case protoEC2:
		writeXML(w, status, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>`+code+`</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>`)
	case protoJSON:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		io.WriteString(w, `{"__type":"`+code+`","message":"An internal error has occurred"}`)
	case protoS3:
		writeXML(w, status, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>We encountered an internal error.</Message></Error>`)
	default:
		writeXML(w, status, `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Receiver</Type><Code>`+code+`</Code><Message>An internal error has occurred</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`)
	}
}

func writeXML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
