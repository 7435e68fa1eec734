// Package backend opens a repository backend from what a user types: a
// directory path (or file://path) for repo/dir, or s3://bucket/prefix for
// repo/s3 with its settings from the AWS_* environment variables.
// It lives apart from repo so that repo does not import its backends.
package backend
