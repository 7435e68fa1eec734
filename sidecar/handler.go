package sidecar

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// Prepare fetches, verifies and stages a snapshot from the request's source
// into the staging area beside dest, streaming progress, and ends with the
// prepared snapshot. The fetch goes on if the caller goes away; a repeated
// call joins it.
func (s *InstallService) Prepare(ctx context.Context, req *connect.Request[snapsyncv1.PrepareRequest], stream *connect.ServerStream[snapsyncv1.PrepareResponse]) error {
	dest, err := s.roots.resolve(req.Msg.GetDest(), len(req.Msg.GetReplace()) > 0)
	if err != nil {
		return err
	}
	sources, err := checkSources(req.Msg)
	if err != nil {
		return err
	}
	chunkSources, err := checkChunkSources(req.Msg.GetChunkSources())
	if err != nil {
		return err
	}
	r, joined, err := s.prepare(dest, sources, chunkSources, req.Msg.GetMinIndex(), req.Msg.GetReplace()...)
	if err != nil {
		return err
	}
	s.log.Debug().Str("dest", dest).Strs("sources", sources).Uint64("min_index", req.Msg.GetMinIndex()).
		Bool("joined", joined).Str("peer", req.Peer().Addr).Msg("prepare call")
	return follow(ctx, r, stream.Send)
}

// Commit swaps the prepared snapshot into dest and returns its term and
// index.
func (s *InstallService) Commit(ctx context.Context, req *connect.Request[snapsyncv1.CommitRequest]) (*connect.Response[snapsyncv1.CommitResponse], error) {
	res, err := s.commitCall(ctx, req.Msg)
	s.auditCommit(ctx, req.Msg.GetDest(), req.Msg.GetSnapshotId(), res, err)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.CommitResponse{Snapshot: infoMsg(res), RollbackAvailable: res.RollbackAvailable}), nil
}

func (s *InstallService) commitCall(ctx context.Context, req *snapsyncv1.CommitRequest) (client.Result, error) {
	dest, err := s.roots.resolveCommit(req.GetDest())
	if err != nil {
		return client.Result{}, err
	}
	id, err := verify.DigestFromBytes(req.GetSnapshotId())
	if err != nil {
		return client.Result{}, fmt.Errorf("%w: snapshot_id: %w", ErrBadRequest, err)
	}
	return s.commit(ctx, dest, id, req.GetKeepOld(), req.GetReplace()...)
}

// Abort stops a Prepare for dest and gives the staging area back, or keeps
// it for a later Prepare.
func (s *InstallService) Abort(ctx context.Context, req *connect.Request[snapsyncv1.AbortRequest]) (*connect.Response[snapsyncv1.AbortResponse], error) {
	keep := req.Msg.GetKeepStaging()
	dest, err := s.roots.resolve(req.Msg.GetDest(), true)
	snapshot := ""
	if err == nil {
		snapshot = s.preparedID(dest)
		err = s.abort(ctx, dest, keep)
	}
	s.auditAbort(ctx, req.Msg.GetDest(), snapshot, keep, err)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.AbortResponse{}), nil
}

// Status reports what is under way or prepared for dest. The state survives
// a restart: on its first use of dest the service reads the record its
// predecessor kept in the staging area (PREPARED if the area still holds
// that snapshot, FAILED with the error and its reason, SIDECAR_RESTARTED for
// a Prepare the restart cut short).
func (s *InstallService) Status(_ context.Context, req *connect.Request[snapsyncv1.StatusRequest]) (*connect.Response[snapsyncv1.StatusResponse], error) {
	dest, err := s.roots.resolve(req.Msg.GetDest(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(s.status(dest)), nil
}

// maxSources bounds PrepareRequest.source_urls: each is probed at once.
const maxSources = 16

// checkSources returns the request's sources: source_urls, or source_url as
// a list of one, each checked, none twice.
func checkSources(req *snapsyncv1.PrepareRequest) ([]string, error) {
	raw := req.GetSourceUrls()
	switch {
	case req.GetSourceUrl() != "" && len(raw) > 0:
		return nil, fmt.Errorf("%w: set source_url or source_urls, not both", ErrBadRequest)
	case len(raw) == 0:
		raw = []string{req.GetSourceUrl()}
	case len(raw) > maxSources:
		return nil, fmt.Errorf("%w: %d source_urls, at most %d", ErrBadRequest, len(raw), maxSources)
	}
	out := make([]string, 0, len(raw))
	for _, u := range raw {
		src, err := checkSource(u)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, src) {
			return nil, fmt.Errorf("%w: source %s named twice", ErrBadRequest, src)
		}
		out = append(out, src)
	}
	return out, nil
}

// checkChunkSources checks PrepareRequest.chunk_sources as source_urls are
// checked.
func checkChunkSources(raw []string) ([]string, error) {
	if len(raw) > maxSources {
		return nil, fmt.Errorf("%w: %d chunk_sources, at most %d", ErrBadRequest, len(raw), maxSources)
	}
	out := make([]string, 0, len(raw))
	for _, u := range raw {
		src, err := checkSource(u)
		if err != nil {
			return nil, fmt.Errorf("chunk_sources: %w", err)
		}
		if slices.Contains(out, src) {
			return nil, fmt.Errorf("%w: chunk source %s named twice", ErrBadRequest, src)
		}
		out = append(out, src)
	}
	return out, nil
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
