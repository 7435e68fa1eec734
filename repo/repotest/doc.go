// Package repotest holds the suites every repository backend passes. Run
// runs repo's whole life (backup, dedup, verify, damage, interrupted
// backups, prune, prune beside a backup) against a Backend a test supplies;
// RunBackend checks the repo.Backend contract itself (not-found, listing,
// delete, overwrite, exact sizes, large objects, cancellation). repo/dir
// runs both on a temporary directory and repo/s3 against a real
// S3-compatible server (internal/s3test), so the two behave alike; Memory,
// an in-memory backend for tests, passes them too.
package repotest
