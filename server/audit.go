package server

import (
	"context"
	"time"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/metrics"
)

// AuditCreateSnapshot is the "audit" field of the line each CreateSnapshot
// call logs.
const AuditCreateSnapshot = "create_snapshot"

// auditCreate logs the audit line of a CreateSnapshot call from peer (who
// asked: its address, and its certificate's identity when TLS verified one)
// and counts the call by outcome: ok, or the reason the caller gets.
func (h *handler) auditCreate(ctx context.Context, peer, client string, minIndex uint64, d Desc, reused bool, start time.Time, err error) {
	outcome := metrics.OutcomeOK
	if err != nil {
		_, outcome, _ = classify(err)
	}
	h.metrics.CreateSnapshot(outcome)
	ev := h.log.Info()
	if err != nil {
		ev = h.log.Warn().Err(err)
	}
	ev = ev.Str("audit", AuditCreateSnapshot).Str("peer", peer)
	if id := auth.IdentityFrom(ctx); id != "" {
		ev = ev.Str("identity", id)
	}
	ev = ev.Str("client", client).Uint64("min_index", minIndex)
	if d.Manifest != nil || d.Shape != nil {
		s := d.shape()
		meta := s.Meta()
		ev = ev.Str("snapshot", d.ID.String()).Uint64("term", meta.Term).Uint64("index", meta.Index).
			Int("files", s.Files()).Int64("bytes", s.TotalBytes()).Bool("reused", reused)
	}
	ev.Str("outcome", outcome).Dur("duration", time.Since(start)).Msg("create snapshot")
}
