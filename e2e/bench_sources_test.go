package e2e

// TestBenchReport's chunk-source scenario (issue 21): a new follower whose
// operator has a backup of the DB from before the new data: installed from
// the leader with that repository as a chunk source, against the same
// install from the leader alone.

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

const (
	bootstrapScen = "new follower, a backup of the older checkpoint in a repository"
	bootstrapRepo = "snapsync --chunks-from REPO"
	bootstrapNone = "snapsync, leader only"
	bootstrapLies = "snapsync --chunks-from a source that lies"
)

// lyingSource says it has every chunk and sends zeros for each: a chunk
// source that lies, in this process.
type lyingSource struct {
	snapsyncv1connect.UnimplementedSnapshotServiceHandler
}

func (lyingSource) HasChunks(_ context.Context, req *connect.Request[snapsyncv1.HasChunksRequest]) (*connect.Response[snapsyncv1.HasChunksResponse], error) {
	have := make([]byte, (len(req.Msg.GetDigests())+7)/8)
	for i := range have {
		have[i] = 0xff
	}
	return connect.NewResponse(&snapsyncv1.HasChunksResponse{Have: have}), nil
}

func (lyingSource) FetchByDigest(_ context.Context, req *connect.Request[snapsyncv1.FetchByDigestRequest], s *connect.ServerStream[snapsyncv1.FetchByDigestResponse]) error {
	zeros := make([]byte, 1<<20)
	for i := range req.Msg.GetDigests() {
		if err := s.Send(&snapsyncv1.FetchByDigestResponse{Index: uint32(i), Encoding: snapsyncv1.Encoding_ENCODING_RAW, Data: zeros}); err != nil {
			return err
		}
	}
	return nil
}

// serveLying serves a lyingSource on 127.0.0.1 until the harness ends.
func (h *harness) serveLying() string {
	if h.liar == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			h.t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle(snapsyncv1connect.NewSnapshotServiceHandler(lyingSource{}))
		protos := new(http.Protocols)
		protos.SetUnencryptedHTTP2(true)
		protos.SetHTTP1(true)
		srv := &http.Server{Handler: mux, Protocols: protos}
		go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at cleanup
		h.t.Cleanup(func() { srv.Close() })
		h.liar = "http://" + ln.Addr().String()
	}
	return h.liar
}

// bootstrapRepoDir backs the older checkpoint up, once, into a repository of
// the harness's, and returns it.
func (h *harness) bootstrapRepoDir() string {
	if h.bootRepo == "" {
		h.bootRepo = filepath.Join(h.work, "bootstrap-repo")
		h.run(exec.Command(binary, "backup", "--from", "dir:"+h.ckpt, "--to", h.bootRepo, "--cache-dir", ""))
	}
	return h.bootRepo
}

// bootstrapRound installs the newer checkpoint into an empty dest from the
// leader with the repository as a chunk source, with a source that lies,
// and from the leader alone. A sample's wire bytes are the leader's
// (bytes_fetched less what the source sent); every contender asks for no
// compression, so that they count the chunks the leader sent (one sent
// twice counts twice), not the compression choices of its streams.
func (h *harness) bootstrapRound() []func() {
	repoDir, liar := h.bootstrapRepoDir(), h.serveLying()
	fromSource := func(contender, src string) {
		d := h.dest()
		args := []string{"--compression", "none"}
		if src != "" {
			args = append(args, "--chunks-from", src)
		}
		s, stdout := h.runInstall(h.srvNew, h.srvNew.URL, d, nil, args...)
		var out struct {
			BytesFetched  int64            `json:"bytes_fetched"`
			BytesBySource map[string]int64 `json:"bytes_by_source"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			h.t.Fatalf("install --json: %v\n%s", err, stdout)
		}
		s.wire = out.BytesFetched - out.BytesBySource[src]
		h.add(bootstrapScen, contender, h.newSize, s)
		h.remove(d)
	}
	return []func(){
		func() { fromSource(bootstrapRepo, repoDir) },
		func() { fromSource(bootstrapLies, liar) },
		func() { fromSource(bootstrapNone, "") },
	}
}
