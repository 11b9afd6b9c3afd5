package quic

import (
	"net"
	"sync"
	"time"
)

// limiter rate-limits failed handshakes per source IP with token buckets:
// a failure takes a token, tokens come back one per refill period up to
// burst, and an address without a token is refused before any TLS work.
//
// Spoofed source addresses cannot drain a bucket: a failure is counted only
// after the QUIC handshake, which needs the peer to receive our packets.
type limiter struct {
	mu     sync.Mutex
	burst  float64
	refill time.Duration
	now    func() time.Time
	m      map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds the limiter's memory; beyond it, full buckets are
// forgotten first, then arbitrary ones.
const maxBuckets = 4096

func newLimiter(burst int, refill time.Duration) *limiter {
	return &limiter{burst: float64(burst), refill: refill, now: time.Now, m: make(map[string]*bucket)}
}

func ipOf(a net.Addr) string {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.IP.String()
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// level refills b and returns its tokens. l.mu is held.
func (l *limiter) level(b *bucket, now time.Time) float64 {
	if l.refill <= 0 {
		b.tokens = l.burst
	} else if d := now.Sub(b.at); d > 0 {
		b.tokens += float64(d) / float64(l.refill)
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
	}
	b.at = now
	return b.tokens
}

// allow reports whether a new connection from ip may try a handshake.
func (l *limiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[ip]
	return b == nil || l.level(b, l.now()) >= 1
}

// fail records a failed handshake from ip.
func (l *limiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.m[ip]
	if b == nil {
		if len(l.m) >= maxBuckets {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.m[ip] = b
	}
	if l.level(b, now) >= 1 {
		b.tokens--
	} else {
		b.tokens = 0
	}
}

func (l *limiter) evict(now time.Time) {
	for k, b := range l.m {
		if l.level(b, now) >= l.burst {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxBuckets {
			break
		}
		delete(l.m, k)
	}
}

// unauthenticated counts the accepted connections that have not proved the
// cookie yet, in all and per source IP, so that nobody without the cookie
// can hold more than a few connections (and their buffers) at once.
type unauthenticated struct {
	mu    sync.Mutex
	max   int
	perIP int
	n     int
	byIP  map[string]int // only addresses with connections; at most max entries
}

func newUnauthenticated(max, perIP int) *unauthenticated {
	return &unauthenticated{max: max, perIP: perIP, byIP: make(map[string]int)}
}

// full reports whether a connection from ip would be turned away now.
func (u *unauthenticated) full(ip string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fullLocked(ip)
}

func (u *unauthenticated) fullLocked(ip string) bool {
	return u.n >= u.max || u.byIP[ip] >= u.perIP
}

// take counts a connection from ip, unless that would exceed a bound; the
// caller calls release(ip) once the connection has authenticated or gone.
func (u *unauthenticated) take(ip string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fullLocked(ip) {
		return false
	}
	u.n++
	u.byIP[ip]++
	return true
}

func (u *unauthenticated) release(ip string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.n--
	if u.byIP[ip]--; u.byIP[ip] <= 0 {
		delete(u.byIP, ip)
	}
}
