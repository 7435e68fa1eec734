// Package repotest is the repository test suite every backend passes: it
// runs repo's whole life (backup, dedup, verify, damage, interrupted backups,
// prune, prune beside a backup) against a Backend a test supplies.
// repo/dir runs it on a temporary directory and repo/s3 against a real
// S3-compatible server (internal/s3test), so the two behave alike.
package repotest
