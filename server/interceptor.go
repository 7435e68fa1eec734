package server

import (
	"context"

	"connectrpc.com/connect"
)

// admission is the Connect interceptor every SnapshotService call passes:
// it turns the handler's error into a Connect error with its code and
// reason (toConnect), in one place for every method. Around a Server's
// store it also admits the call while the server is open (ErrClosed after
// Close), holds the server's wait group until the call ends, so Close waits
// for running streams, and ends a stream when the server closes.
type admission struct{ s *Server } // s nil: a store of no Server

var _ connect.Interceptor = admission{}

func (a admission) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if a.s == nil {
			resp, err := next(ctx, req)
			return resp, toConnect(err)
		}
		if err := a.s.enter(); err != nil {
			return nil, toConnect(err)
		}
		defer a.s.wg.Done()
		resp, err := next(ctx, req)
		return resp, toConnect(err)
	}
}

func (a admission) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if a.s == nil {
			return toConnect(next(ctx, conn))
		}
		if err := a.s.enter(); err != nil {
			return toConnect(err)
		}
		defer a.s.wg.Done()
		ctx, stop := a.s.streamContext(ctx)
		defer stop()
		return toConnect(next(ctx, conn))
	}
}

// WrapStreamingClient is the identity: the interceptor is a handler's.
func (admission) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// streamContext ends a stream when its request ends or the server closes.
func (s *Server) streamContext(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.ctx, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(nil) }
}
