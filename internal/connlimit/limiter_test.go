package connlimit

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/testlog"
)

// chanListener accepts the connections sent on its channel.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { close(l.done); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// fixture is a Limiter with one listener ("peer") fed by the test, and
// the connections it accepts.
type fixture struct {
	tb       testing.TB
	lim      *Limiter
	src      *chanListener
	accepted chan net.Conn
}

func newFixture(tb testing.TB, cfg Config) *fixture {
	tb.Helper()
	lim, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	src := newChanListener()
	tb.Cleanup(func() { _ = src.Close() }) // only ends the Accept loop
	f := &fixture{tb: tb, lim: lim, src: src, accepted: make(chan net.Conn)}
	ln := lim.Listen(src, "peer")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted <- c
		}
	}()
	return f
}

// dial hands the listener a new connection and returns the client's end,
// and the server's end once Accept returns it.
func (f *fixture) dial() (client net.Conn, server net.Conn) {
	f.tb.Helper()
	client, srv := net.Pipe()
	f.tb.Cleanup(func() { _ = client.Close() }) // closing a closed pipe fails harmlessly
	f.src.conns <- srv
	select {
	case c := <-f.accepted:
		return client, c
	case <-time.After(100 * time.Millisecond):
		// Refused: Accept went on to wait for the next connection.
		return client, nil
	}
}

// closedByServer reports whether the server closed client's connection.
func closedByServer(client net.Conn) bool {
	_ = client.SetReadDeadline(time.Now().Add(time.Second))
	_, err := client.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

func (f *fixture) want(authed, unauth int, refused int64) {
	f.tb.Helper()
	s := f.lim.Stats()
	if s.Authenticated != authed || s.Unauthenticated != unauth || s.Refused["peer"] != refused {
		f.tb.Fatalf("stats %+v, want %d authenticated, %d unauthenticated, %d refused", s, authed, unauth, refused)
	}
}

func promote(c net.Conn) { Authenticated(ConnContext(context.Background(), c)) }

// An unauthenticated connection beyond the share outside the reserve
// closes the oldest unauthenticated one.
func TestEvictsOldestUnauthenticated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Max: 4, Reserve: 1})
	c1, _ := f.dial()
	f.dial()
	f.dial()
	f.want(0, 3, 0)
	c4, s4 := f.dial()
	if s4 == nil {
		t.Fatal("the fourth connection was refused instead of the oldest")
	}
	if !closedByServer(c1) {
		t.Fatal("the oldest unauthenticated connection is still open")
	}
	f.want(0, 3, 1)
	go func() { _, _ = s4.Write([]byte("x")) }() // the newest one is served
	if _, err := c4.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// The reserve is held only by authenticated connections; they are never
// closed to make room, and once they hold every slot a new connection is
// refused at once.
func TestReserveForAuthenticated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Max: 3, Reserve: 1})
	_, s1 := f.dial()
	_, s2 := f.dial()
	promote(s1)
	promote(s2)
	f.want(2, 0, 0)
	c3, s3 := f.dial() // the last slot
	f.want(2, 1, 0)
	_, s4 := f.dial() // total full: the unauthenticated one goes
	if s4 == nil || !closedByServer(c3) {
		t.Fatal("the unauthenticated connection was not closed to admit the new one")
	}
	_ = s3.Close() // its server lets it go: the slot is not freed twice
	f.want(2, 1, 1)
	promote(s4)
	c5, s5 := f.dial()
	if s5 != nil || !closedByServer(c5) {
		t.Fatal("a connection was admitted with every slot authenticated")
	}
	f.want(3, 0, 2)
	_ = s1.Close()
	_ = s1.Close()
	f.want(2, 0, 2)
	if _, s6 := f.dial(); s6 == nil {
		t.Fatal("a freed slot was not reused")
	}
	f.want(2, 1, 2)
}

// Refusals are audited at once, then at most once a second, each line
// counting the refusals it stands for.
func TestAuditPaced(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClock()
	var logs testlog.Buffer
	f := newFixture(t, Config{Max: 2, Reserve: 1, Clock: clock, Logger: zerolog.New(&logs)})
	f.dial()
	f.dial() // closes the first
	waitFor(t, &logs, 1)
	if line := logs.String(); !strings.Contains(line, `"audit":"refused"`) || !strings.Contains(line, `"listener":"peer"`) ||
		!strings.Contains(line, `"connections":1`) || !strings.Contains(line, ErrCapped.Error()) {
		t.Fatalf("audit line %s", line)
	}
	f.dial()
	f.dial()
	if err := clock.BlockUntilContext(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Fatalf("%d audit lines within a second, want 1", n)
	}
	clock.Advance(auditInterval)
	waitFor(t, &logs, 2)
	if line := lastLine(logs.String()); !strings.Contains(line, `"connections":2`) {
		t.Fatalf("second audit line %s, want 2 connections", line)
	}
}

func waitFor(tb testing.TB, logs *testlog.Buffer, lines int) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(logs.String(), "\n") < lines; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%d audit lines, want %d:\n%s", strings.Count(logs.String(), "\n"), lines, logs.String())
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestDefaultMax(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		nofile uint64
		want   int
	}{
		{1024, 512},
		{4096, 2048},
		{65536, DefaultCeiling},
		{^uint64(0), DefaultCeiling}, // RLIM_INFINITY
		{3, 2},
	}
	for _, tc := range testCases {
		if got := defaultMax(tc.nofile); got != tc.want {
			t.Errorf("defaultMax(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
	if got := DefaultReserve(2048); got != 512 {
		t.Errorf("DefaultReserve(2048) = %d, want 512", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		cfg  Config
		want string // "" when valid
	}{
		{Config{}, ""},
		{Config{Max: 2}, ""},
		{Config{Max: 1}, "Max 1"},
		{Config{Max: 8, Reserve: 8}, "Reserve 8"},
		{Config{Max: -1, Reserve: -1}, "Max -1"},
	}
	for _, tc := range testCases {
		_, err := New(tc.cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("New(%+v): %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("New(%+v): %v, want an ErrBadConfig naming %q", tc.cfg, err, tc.want)
		}
	}
}
