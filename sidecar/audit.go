package sidecar

import (
	"context"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/metrics"
	"github.com/snapsync/snapsync/verify"
)

// The "audit" field of the line logged for each Prepare's result, Commit,
// Abort, Rollback and Finalize.
const (
	AuditInstall = "install"
	AuditCommit  = "commit"
	AuditAbort   = "abort"
	// AuditRollback and AuditFinalize: a Rollback or Finalize call.
	AuditRollback = "rollback"
	AuditFinalize = "finalize"
)

// outcomeOf is the outcome label and audit field of a call's error: ok, or
// the reason (package reason) its caller gets.
func outcomeOf(err error) string {
	if err == nil {
		return metrics.OutcomeOK
	}
	_, r, _ := classify(err)
	return r
}

// callerOf names who made a local call: "uid:N" on a unix socket (from
// SO_PEERCRED), "token" on TCP (where LocalAuth admits only the token's
// bearers), "unknown" when the listener was not served with ConnContext.
func callerOf(ctx context.Context) string {
	p, ok := ctx.Value(connKey{}).(connPeer)
	switch {
	case !ok:
		return "unknown"
	case !p.unix:
		return "token"
	case p.err != nil:
		return "uid:unknown"
	}
	return "uid:" + strconv.FormatUint(uint64(p.uid), 10)
}

// auditEvent starts an audit line at Info, or Warn with the error.
func auditEvent(log *zerolog.Logger, audit string, err error) *zerolog.Event {
	ev := log.Info()
	if err != nil {
		ev = log.Warn().Err(err)
	}
	return ev.Str("audit", audit)
}

// auditInstall logs the result of r's Prepare for dest and counts it.
func (s *InstallService) auditInstall(dest string, r *run, res client.Prepared, err error) {
	outcome := outcomeOf(err)
	s.cfg.Metrics.Install(outcome, res.Duration)
	ev := auditEvent(&s.log, AuditInstall, err).Str("dest", dest).Strs("sources", r.sources).Uint64("min_index", r.minIndex)
	if err == nil {
		ev = ev.Str("source", res.Source).Str("snapshot", res.SnapshotID.String()).
			Uint64("term", res.Term).Uint64("index", res.Index).Int64("bytes", res.BytesTotal).
			Int64("fetched", res.BytesFetched).Int64("reused", res.BytesReused).
			Bool("already_staged", res.AlreadyStaged).Int("failovers", len(res.Failovers))
	}
	ev.Str("outcome", outcome).Dur("duration", time.Since(r.started)).Msg("prepare ended")
}

// auditCommit logs a Commit call for dest (as the caller named it) of the
// snapshot id, and counts it.
func (s *InstallService) auditCommit(ctx context.Context, dest string, id []byte, res client.Result, err error) {
	outcome := outcomeOf(err)
	s.cfg.Metrics.Commit(outcome)
	ev := auditEvent(&s.log, AuditCommit, err).Str("dest", dest).Str("snapshot", digestString(id))
	if err == nil {
		ev = ev.Uint64("term", res.Term).Uint64("index", res.Index)
	}
	ev.Str("outcome", outcome).Str("caller", callerOf(ctx)).Msg("commit")
}

// auditAbort logs an Abort call for dest, which had snapshot (a digest, or
// "" when none was prepared) prepared, and counts it.
func (s *InstallService) auditAbort(ctx context.Context, dest, snapshot string, keep bool, err error) {
	outcome := outcomeOf(err)
	s.cfg.Metrics.Abort(outcome)
	auditEvent(&s.log, AuditAbort, err).Str("dest", dest).Str("snapshot", snapshot).Bool("keep_staging", keep).
		Str("outcome", outcome).Str("caller", callerOf(ctx)).Msg("abort")
}

// digestString is b as a snapshot ID, or "" when it is not one.
func digestString(b []byte) string {
	d, err := verify.DigestFromBytes(b)
	if err != nil {
		return ""
	}
	return d.String()
}

// preparedID is the snapshot prepared or being prepared for dest, or "".
func (s *InstallService) preparedID(dest string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ""
	}
	if d := s.dest(dest); d.prepared != nil {
		return d.prepared.SnapshotID.String()
	}
	return ""
}

// auditKept logs a Rollback or Finalize call for dest; res is the snapshot a
// Rollback removed.
func (s *InstallService) auditKept(ctx context.Context, audit, dest string, res client.Result, err error) {
	ev := auditEvent(&s.log, audit, err).Str("dest", dest)
	if err == nil && !res.SnapshotID.IsZero() {
		ev = ev.Str("snapshot", res.SnapshotID.String()).Uint64("term", res.Term).Uint64("index", res.Index)
	}
	ev.Str("outcome", outcomeOf(err)).Str("caller", callerOf(ctx)).Msg(audit)
}
