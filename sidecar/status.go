package sidecar

import (
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// status reports where dest stands.
func (s *InstallService) status(dest string) *snapsyncv1.StatusResponse {
	k, kept := s.kept(dest)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dest(dest)
	resp := &snapsyncv1.StatusResponse{}
	switch {
	case d.prepared != nil:
		resp.Progress = resultProgress(d.state, d.prepared.Result)
		resp.Prepared = infoMsg(d.prepared.Result)
	case d.run != nil:
		p, _ := d.run.latest()
		resp.Progress = progressMsg(d.state, p)
	default:
		resp.Progress = &snapsyncv1.Progress{State: d.state}
	}
	if d.err != nil {
		_, why, _ := classify(d.err)
		resp.Error, resp.Reason = d.err.Error(), why
	}
	if kept {
		resp.RollbackAvailable, resp.Committed = true, infoMsg(k.Snapshot)
	}
	return resp
}
