package sidecar

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// Prepare fetches, verifies and stages a snapshot from the request's source
// into the staging area beside dest, streaming progress, and ends with the
// prepared snapshot. The fetch goes on if the caller goes away; a repeated
// call joins it.
func (s *InstallService) Prepare(ctx context.Context, req *connect.Request[snapsyncv1.PrepareRequest], stream *connect.ServerStream[snapsyncv1.PrepareResponse]) error {
	dest, err := s.roots.resolve(req.Msg.GetDest())
	if err != nil {
		return toConnect(err)
	}
	source, err := checkSource(req.Msg.GetSourceUrl())
	if err != nil {
		return toConnect(err)
	}
	r, joined, err := s.prepare(dest, source, req.Msg.GetMinIndex(), req.Msg.GetReplace()...)
	if err != nil {
		return toConnect(err)
	}
	s.log.Debug().Str("dest", dest).Str("source", source).Uint64("min_index", req.Msg.GetMinIndex()).
		Bool("joined", joined).Str("peer", req.Peer().Addr).Msg("prepare call")
	return toConnect(follow(ctx, r, stream.Send))
}

// Commit swaps the prepared snapshot into dest and returns its term and
// index.
func (s *InstallService) Commit(ctx context.Context, req *connect.Request[snapsyncv1.CommitRequest]) (*connect.Response[snapsyncv1.CommitResponse], error) {
	dest, err := s.roots.resolve(req.Msg.GetDest())
	if err != nil {
		return nil, toConnect(err)
	}
	id, err := verify.DigestFromBytes(req.Msg.GetSnapshotId())
	if err != nil {
		return nil, toConnect(fmt.Errorf("%w: snapshot_id: %w", ErrBadRequest, err))
	}
	res, err := s.commit(ctx, dest, id, req.Msg.GetReplace()...)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&snapsyncv1.CommitResponse{Snapshot: infoMsg(res)}), nil
}

// Abort stops a Prepare for dest and gives the staging area back, or keeps
// it for a later Prepare.
func (s *InstallService) Abort(ctx context.Context, req *connect.Request[snapsyncv1.AbortRequest]) (*connect.Response[snapsyncv1.AbortResponse], error) {
	dest, err := s.roots.resolve(req.Msg.GetDest())
	if err != nil {
		return nil, toConnect(err)
	}
	if err := s.abort(ctx, dest, req.Msg.GetKeepStaging()); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&snapsyncv1.AbortResponse{}), nil
}

// Status reports what is under way or prepared for dest. It knows what this
// service did: after a restart a destination is IDLE until a Prepare, which
// returns at once if its snapshot is still staged.
func (s *InstallService) Status(_ context.Context, req *connect.Request[snapsyncv1.StatusRequest]) (*connect.Response[snapsyncv1.StatusResponse], error) {
	dest, err := s.roots.resolve(req.Msg.GetDest())
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(s.status(dest)), nil
}

// checkSource checks a peer sidecar's base URL and returns it without a
// trailing slash, so that one source has one spelling.
func checkSource(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("%w: source_url is required", ErrBadRequest)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: source_url: %w", ErrBadRequest, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: source_url %q: want http://host:port or https://host:port", ErrBadRequest, raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
