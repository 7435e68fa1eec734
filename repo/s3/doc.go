// Package s3 is a repository backend on S3-compatible object storage (AWS,
// MinIO, Ceph RGW, Ozone's S3 gateway, versitygw) through minio-go.
// It is configured the standard way: a URL s3://bucket/prefix, with
// credentials, region and endpoint from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_REGION and
// AWS_ENDPOINT_URL; secrets are never printed.
// Every request is bounded by progress (internal/stall) and by dial and
// response-header timeouts, never by total time.
package s3
