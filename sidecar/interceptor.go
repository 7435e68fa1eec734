package sidecar

import (
	"context"

	"connectrpc.com/connect"
)

// errorMapping is the Connect interceptor of the local API: it turns every
// handler's error into a Connect error with its code and reason (toConnect),
// in one place for every method. An error a handler already made a
// *connect.Error passes as it is.
type errorMapping struct{}

var _ connect.Interceptor = errorMapping{}

func (errorMapping) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		return resp, mapped(err)
	}
}

func (errorMapping) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return mapped(next(ctx, conn))
	}
}

// WrapStreamingClient is the identity: the interceptor is a handler's.
func (errorMapping) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func mapped(err error) error {
	if _, ok := err.(*connect.Error); ok || err == nil {
		return err
	}
	return toConnect(err)
}
