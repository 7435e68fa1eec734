package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"
)

// errIncomplete reports a stream that ended cleanly without sending every
// chunk asked for; the rest is asked for again.
var errIncomplete = errors.New("client: stream ended early")

// retryable reports whether err is worth another attempt: a transport
// failure, a server that is restarting or busy (as it says itself), or a
// stream cut short.
func retryable(err error) bool {
	if errors.Is(err, errIncomplete) {
		return true
	}
	if errors.Is(err, ErrStalled) {
		return false // a peer that stalls once is not waited for again
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return false
	}
	if ce.Code() == connect.CodeResourceExhausted && !connect.IsWireError(ce) {
		return false // a message over our read limit: the server broke the protocol
	}
	switch ce.Code() {
	case connect.CodeUnavailable, connect.CodeResourceExhausted, connect.CodeAborted,
		connect.CodeUnknown, connect.CodeInternal, connect.CodeDeadlineExceeded, connect.CodeCanceled:
		return true
	}
	return false
}

// retrier runs one attempt after another with exponential backoff until one
// succeeds, one fails for good, or MaxAttempts fail in a row with no progress.
type retrier struct {
	max   int
	wait  time.Duration
	log   zerolog.Logger
	clock clockwork.Clock
}

func newRetrier(cfg *Config) retrier {
	return retrier{max: cfg.MaxAttempts, wait: cfg.RetryWait, log: cfg.Logger, clock: cfg.Clock}
}

// do runs attempt, which reports whether it made progress before failing.
func (r retrier) do(ctx context.Context, what string, attempt func(context.Context) (bool, error)) error {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     r.wait,
		RandomizationFactor: 0.2,
		Multiplier:          2,
		MaxInterval:         30 * r.wait,
	}
	b.Reset()
	for failures := 0; ; {
		progress, err := attempt(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if tlsProblem(err) {
			return tlsFailure(what, err)
		}
		if !retryable(err) {
			return rpcFailure(what, err)
		}
		if progress {
			failures = 0
			b.Reset()
		}
		if failures++; failures >= r.max {
			return fmt.Errorf("%s: %w after %d attempts: %w", what, ErrUnavailable, failures, err)
		}
		wait := b.NextBackOff()
		r.log.Warn().Err(err).Str("op", what).Int("attempt", failures).Dur("wait", wait).Msg("retrying")
		if err := sleep(ctx, r.clock, wait); err != nil {
			return err
		}
	}
}

// rpcFailure wraps an error an attempt cannot recover from: a Connect error
// the server returned is ErrServer; anything else (ErrMinIndex included) is
// already wrapped.
func rpcFailure(what string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) && !errors.Is(err, ErrMinIndex) {
		return fmt.Errorf("%s: %w: %w", what, ErrServer, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// sleep waits d on clock (the real one if nil) or until ctx is done.
func sleep(ctx context.Context, clock clockwork.Clock, d time.Duration) error {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.Chan():
		return nil
	}
}
