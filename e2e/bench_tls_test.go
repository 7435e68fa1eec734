package e2e

// TestBenchReport's encrypted transfers: snapsync over mutual TLS, with
// certificates the harness makes, against rsync over ssh (aes128-gcm) to an
// sshd on loopback that the harness starts, and plaintext snapsync on the
// same checkpoint.

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/testpki"
)

// sshdPath is Debian's openssh-server daemon (make bench-deps installs it).
const sshdPath = "/usr/sbin/sshd"

// sshCipher is the cipher an operator would pick for bulk copies: AES-GCM,
// which AES-NI makes cheap.
const sshCipher = "aes128-gcm@openssh.com"

// tlsScenario names the encrypted full install; its contenders follow.
func (h *harness) tlsScenario() string {
	return fmt.Sprintf("full install over mTLS / ssh, Pebble %.0f MB", float64(h.newSize)/1e6)
}

const (
	tlsContender   = "snapsync (mTLS)"
	plainContender = "snapsync (plaintext)"
	sshContender   = "rsync --whole-file over ssh (" + sshCipher + ")"
)

// startTLS serves the newer checkpoint over mutual TLS (a peer allow-list,
// as in production), builds its manifest once, and starts an sshd.
func (h *harness) startTLS() {
	dir := h.dir()
	ca := testpki.NewCA(h.t, "bench CA")
	leader := ca.Files(h.t, dir, "leader", testpki.Both, "om-0.om.svc", "127.0.0.1", "spiffe://cluster/om-0")
	follower := ca.Files(h.t, dir, "follower", testpki.Both, "om-1.om.svc", "spiffe://cluster/om-1")
	h.srvTLS = startServe(h.t, "dir:"+h.newer, "--tls-cert", leader.Cert, "--tls-key", leader.Key, "--tls-ca", leader.CA,
		"--allow-peer", "spiffe://cluster/om-1")
	h.tlsArgs = []string{"--tls-ca", follower.CA, "--tls-cert", follower.Cert, "--tls-key", follower.Key,
		"--allow-peer", "spiffe://cluster/om-0"}
	d := h.dest()
	install(h.t, "https://"+h.srvTLS.Addr, d, h.tlsArgs...) // builds the manifest once
	h.remove(d)
	h.ssh = startSSHD(h.t, h.dir())
}

// tlsRound is one round of the encrypted full install.
func (h *harness) tlsRound() []func() {
	sc := h.tlsScenario()
	return []func(){
		func() {
			d := h.dest()
			h.add(sc, tlsContender, h.newSize, h.snapsyncURL(h.srvTLS, "https://"+h.srvTLS.Addr, d, h.tlsArgs...))
			h.remove(d)
		},
		func() {
			d := h.dest()
			h.add(sc, plainContender, h.newSize, h.snapsync(h.srvNew, d))
			h.remove(d)
		},
		func() {
			d := h.dest()
			h.add(sc, sshContender, h.newSize, h.rsyncSSH(h.newer, d, "--whole-file"))
			h.remove(d)
		},
	}
}

// sshServer is an sshd on 127.0.0.1 that lets the current user in with key.
type sshServer struct {
	cmd       *exec.Cmd
	port      int
	key, user string
}

// startSSHD starts Debian's sshd in the foreground (-D) on a free loopback
// port with a host key and an authorized user key made in dir.
func startSSHD(tb testing.TB, dir string) *sshServer {
	tb.Helper()
	u, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	hostKey, userKey := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "user_ed25519")
	for _, k := range []string{hostKey, userKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			tb.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(userKey + ".pub")
	if err != nil {
		tb.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		tb.Fatal(err)
	}
	// sshd refuses to start without its privilege separation directory,
	// which Debian's package makes at boot (tmpfiles), not at install.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		tb.Fatal(err)
	}
	conf := filepath.Join(dir, "sshd_config")
	text := strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authorized,
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"PidFile none",
		"Ciphers " + sshCipher,
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &sshServer{port: freePort(tb), key: userKey, user: u.Username}
	s.cmd = exec.Command(sshdPath, "-D", "-e", "-f", conf, "-p", fmt.Sprint(s.port))
	var logs strings.Builder
	s.cmd.Stdout, s.cmd.Stderr = &logs, &logs
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = s.cmd.Process.Kill() // its exit is not measured
		_ = s.cmd.Wait()
		if tb.Failed() {
			tb.Logf("sshd logs:\n%s", tail(logs.String(), 4000))
		}
	})
	waitListening(tb, s.port)
	return s
}

// rsh is rsync's -e: ssh with the cipher, the key, and no host key check
// (the host key is new each run).
func (s *sshServer) rsh() string {
	return fmt.Sprintf("ssh -p %d -c %s -i %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes",
		s.port, sshCipher, s.key)
}

// rsyncSSH runs rsync over ssh from src on loopback into dest, then syncs;
// the server's CPU is sshd's and its reaped children's (the session and
// the rsync it runs).
func (h *harness) rsyncSSH(src, dest string, args ...string) sample {
	script := fmt.Sprintf("rsync -a --delete --stats %s -e '%s' %s@127.0.0.1:%s/ %s/ && sync -f %s",
		strings.Join(args, " "), h.ssh.rsh(), h.ssh.user, src, dest, filepath.Dir(dest))
	pid := h.ssh.cmd.Process.Pid
	cpu0 := procCPU(pid)
	s, out := h.measure("sh", "-c", script)
	reaped(pid)
	s.srvCPU = procCPU(pid) - cpu0
	if m := rsyncReceived.FindStringSubmatch(out); m != nil {
		s.wire, _ = strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	}
	return s
}
