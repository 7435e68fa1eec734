package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config says where a Backend stores its objects and how it signs in.
type Config struct {
	// Bucket holds the repository. Required.
	Bucket string
	// Prefix is put before every key ("backups/om1/"); empty or ending in "/".
	Prefix string
	// Endpoint is the server's host[:port]. Default s3.amazonaws.com.
	Endpoint string
	// Insecure sends requests over http instead of https.
	Insecure bool
	// PathStyle addresses the bucket in the path rather than the host name;
	// FromURL sets it whenever an endpoint is given.
	PathStyle bool
	// Region is the bucket's region. Default us-east-1.
	Region string
	// AccessKey, SecretKey and SessionToken sign requests; empty keys make
	// anonymous requests. String never prints the secrets.
	AccessKey, SecretKey, SessionToken string
	// StallLimit is how long a request may go without progress (no response
	// headers yet, or too few body bytes) before it is cancelled; it is also
	// the dial's bound. Default 60 s.
	StallLimit time.Duration
}

// String describes c without its secrets.
func (c Config) String() string {
	scheme := "https"
	if c.Insecure {
		scheme = "http"
	}
	key := "anonymous"
	if c.AccessKey != "" {
		key = "access key " + c.AccessKey
	}
	return fmt.Sprintf("s3://%s/%s at %s://%s (region %s, %s)", c.Bucket, c.Prefix, scheme, c.endpoint(), c.region(), key)
}

// GoString keeps %#v from printing the secrets too.
func (c Config) GoString() string { return c.String() }

func (c Config) endpoint() string {
	if c.Endpoint == "" {
		return "s3.amazonaws.com"
	}
	return c.Endpoint
}

func (c Config) region() string {
	if c.Region == "" {
		return "us-east-1"
	}
	return c.Region
}

func (c Config) stallLimit() time.Duration {
	if c.StallLimit <= 0 {
		return 60 * time.Second
	}
	return c.StallLimit
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("s3: no bucket"))
	}
	if c.Prefix != "" && (!strings.HasSuffix(c.Prefix, "/") || strings.HasPrefix(c.Prefix, "/")) {
		errs = append(errs, fmt.Errorf("s3: prefix %q must end in / and not start with one", c.Prefix))
	}
	if strings.Contains(c.Endpoint, "/") {
		errs = append(errs, fmt.Errorf("s3: endpoint %q is host[:port]", c.Endpoint))
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("s3: an access key needs a secret key and the other way round"))
	}
	return errors.Join(errs...)
}

// FromURL returns the Config of s3://bucket[/prefix], taking credentials,
// region and endpoint from getenv (os.Getenv): AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (default us-east-1)
// and AWS_ENDPOINT_URL (https://host[:port], or http:// for cleartext; when
// set, the bucket is addressed path-style, which S3-compatible servers
// expect).
func FromURL(s string, getenv func(string) string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, fmt.Errorf("s3: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("s3: %q is not s3://bucket[/prefix]", s)
	}
	c := Config{
		Bucket: u.Host, Region: getenv("AWS_REGION"),
		AccessKey: getenv("AWS_ACCESS_KEY_ID"), SecretKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: getenv("AWS_SESSION_TOKEN"),
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		c.Prefix = p + "/"
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		e, err := url.Parse(ep)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || strings.Trim(e.Path, "/") != "" {
			return Config{}, fmt.Errorf("s3: AWS_ENDPOINT_URL %q is not http[s]://host[:port]", ep)
		}
		c.Endpoint, c.Insecure, c.PathStyle = e.Host, e.Scheme == "http", true
	}
	return c, c.Validate()
}
