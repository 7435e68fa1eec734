package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/examples/raftkv"
)

// apiTimeout bounds one write, join or snapshot request.
const apiTimeout = 30 * time.Second

// api is the node's HTTP API: a tiny key-value interface plus what a person
// needs to build a cluster and trigger a snapshot by hand.
type api struct {
	node *raftkv.Node
	log  zerolog.Logger
}

// status is the body of GET /status.
type status struct {
	ID           string         `json:"id"`
	RaftAddr     string         `json:"raft_addr"`
	IsLeader     bool           `json:"is_leader"`
	LeaderID     string         `json:"leader_id"`
	LeaderAddr   string         `json:"leader_addr"`
	AppliedIndex uint64         `json:"applied_index"`
	LastInstall  *installStatus `json:"last_install,omitempty"`
}

// installStatus is the last snapshot install that went through the
// sidecar's Commit, as GET /status shows it.
type installStatus struct {
	PointerSidecar string `json:"pointer_sidecar"`
	PointerIndex   uint64 `json:"pointer_index"`
	SnapshotID     string `json:"snapshot_id"`
	Term           uint64 `json:"term"`
	Index          uint64 `json:"index"`
	BytesTotal     uint64 `json:"bytes_total"`
	BytesFetched   uint64 `json:"bytes_fetched"`
	BytesReused    uint64 `json:"bytes_reused"`
	Files          uint64 `json:"files"`
	Prepare        string `json:"prepare"`
	Total          string `json:"total"`
}

func newInstallStatus(r raftkv.InstallReport) *installStatus {
	return &installStatus{
		PointerSidecar: r.Pointer.SidecarURL, PointerIndex: r.Pointer.Index, SnapshotID: r.SnapshotID,
		Term: r.Term, Index: r.Index, BytesTotal: r.BytesTotal, BytesFetched: r.BytesFetched,
		BytesReused: r.BytesReused, Files: r.Files,
		Prepare: r.Prepare.Round(time.Millisecond).String(), Total: r.Total.Round(time.Millisecond).String(),
	}
}

// newAPI returns the routes of the HTTP API.
func newAPI(n *raftkv.Node, log zerolog.Logger) http.Handler {
	a := &api{node: n, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key}", a.get)
	mux.HandleFunc("PUT /kv/{key}", a.put)
	mux.HandleFunc("POST /join", a.join)
	mux.HandleFunc("POST /snapshot", a.snapshot)
	mux.HandleFunc("GET /status", a.status)
	return mux
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	v, err := a.node.Get([]byte(r.PathValue("key")))
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if _, err := w.Write(v); err != nil {
		a.log.Debug().Err(err).Msg("write response")
	}
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	v, err := io.ReadAll(http.MaxBytesReader(w, r.Body, raftkv.MaxValueSize))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	if err := a.node.Put(ctx, []byte(r.PathValue("key")), v); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// join adds the voter named by the query's id and addr (its Raft address).
func (a *api) join(w http.ResponseWriter, r *http.Request) {
	id, addr := r.URL.Query().Get("id"), r.URL.Query().Get("addr")
	if id == "" || addr == "" {
		http.Error(w, "want ?id=ID&addr=HOST:PORT", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	if err := a.node.AddVoter(ctx, id, addr); err != nil {
		a.fail(w, err)
		return
	}
	a.log.Info().Str("id", id).Str("addr", addr).Msg("voter added")
	w.WriteHeader(http.StatusNoContent)
}

// snapshot makes Raft snapshot now: a checkpoint registered with the
// sidecar, and a pointer to it; Raft then compacts its log.
func (a *api) snapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	if err := a.node.Snapshot(ctx); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) status(w http.ResponseWriter, _ *http.Request) {
	id, addr := a.node.Leader()
	s := status{
		ID: a.node.ID(), RaftAddr: a.node.RaftAddr(), IsLeader: a.node.IsLeader(),
		LeaderID: id, LeaderAddr: addr, AppliedIndex: a.node.AppliedIndex(),
	}
	if rep, ok := a.node.LastInstall(); ok {
		s.LastInstall = newInstallStatus(rep)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		a.log.Debug().Err(err).Msg("write response")
	}
}

// fail maps err to an HTTP status.
func (a *api) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, raftkv.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, raftkv.ErrCommand):
		code = http.StatusBadRequest
	case errors.Is(err, raftkv.ErrNotLeader):
		code = http.StatusMisdirectedRequest
	case errors.Is(err, raftkv.ErrClosed):
		code = http.StatusServiceUnavailable
	}
	if code == http.StatusInternalServerError {
		a.log.Error().Err(err).Msg("request")
	}
	http.Error(w, err.Error(), code)
}
