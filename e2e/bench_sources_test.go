package e2e

// TestBenchReport's chunk-source scenario (issue 21): a new follower whose
// operator has a backup of the DB from before the new data: installed from
// the leader with that repository as a chunk source, against the same
// install from the leader alone.

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
)

const (
	bootstrapScen = "new follower, a backup of the older checkpoint in a repository"
	bootstrapRepo = "snapsync --chunks-from REPO"
	bootstrapNone = "snapsync, leader only"
)

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
// leader with the repository as a chunk source, and from the leader alone;
// a sample's wire bytes are the leader's (bytes_fetched less what the
// repository sent).
func (h *harness) bootstrapRound() []func() {
	repoDir := h.bootstrapRepoDir()
	return []func(){
		func() {
			d := h.dest()
			s, stdout := h.runInstall(h.srvNew, h.srvNew.URL, d, nil, "--chunks-from", repoDir)
			var out struct {
				BytesFetched  int64            `json:"bytes_fetched"`
				BytesBySource map[string]int64 `json:"bytes_by_source"`
			}
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				h.t.Fatalf("install --json: %v\n%s", err, stdout)
			}
			s.wire = out.BytesFetched - out.BytesBySource[repoDir]
			h.add(bootstrapScen, bootstrapRepo, h.newSize, s)
			h.remove(d)
		},
		func() {
			d := h.dest()
			h.add(bootstrapScen, bootstrapNone, h.newSize, h.snapsync(h.srvNew, d))
			h.remove(d)
		},
	}
}
