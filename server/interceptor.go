package server

import (
	"context"

	"connectrpc.com/connect"
)

// admission is the Connect interceptor every SnapshotService call passes:
// it admits the call while the server is open (ErrClosed after Close),
// holds the server's wait group until the call ends, so Close waits for
// running streams, and turns the handler's error into a Connect error with
// its code and reason (toConnect), in one place for every method.
type admission struct{ s *Server }

var _ connect.Interceptor = admission{}

func (a admission) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
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
		if err := a.s.enter(); err != nil {
			return toConnect(err)
		}
		defer a.s.wg.Done()
		return toConnect(next(ctx, conn))
	}
}

// WrapStreamingClient is the identity: the interceptor is a handler's.
func (admission) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
