package s3

import (
	"fmt"
	"strings"
	"testing"
)

func TestFromURL(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_REGION": "eu-west-1"}
	testCases := []struct {
		url, endpoint string
		want          Config
		err           string
	}{
		{url: "s3://bkt", want: Config{Bucket: "bkt", Region: "eu-west-1", AccessKey: "AKID", SecretKey: "s3cr3t"}},
		{url: "s3://bkt/a/b/", endpoint: "http://127.0.0.1:7070",
			want: Config{Bucket: "bkt", Prefix: "a/b/", Endpoint: "127.0.0.1:7070", Insecure: true, PathStyle: true, Region: "eu-west-1", AccessKey: "AKID", SecretKey: "s3cr3t"}},
		{url: "s3://bkt/p", endpoint: "https://s3.example.com",
			want: Config{Bucket: "bkt", Prefix: "p/", Endpoint: "s3.example.com", PathStyle: true, Region: "eu-west-1", AccessKey: "AKID", SecretKey: "s3cr3t"}},
		{url: "http://bkt/p", err: "not s3://"},
		{url: "s3:///p", err: "not s3://"},
		{url: "s3://bkt", endpoint: "ftp://x", err: "AWS_ENDPOINT_URL"},
		{url: "s3://bkt", endpoint: "http://x/path", err: "AWS_ENDPOINT_URL"},
	}
	for _, tc := range testCases {
		t.Run(tc.url+" "+tc.endpoint, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string {
				if k == "AWS_ENDPOINT_URL" {
					return tc.endpoint
				}
				return env[k]
			}
			got, err := FromURL(tc.url, getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("FromURL = %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("FromURL = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	c := Config{Bucket: "b", AccessKey: "AKID", SecretKey: "s3cr3t", SessionToken: "t0ken"}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", c, c, c)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "t0ken") {
			t.Fatalf("%q shows a secret", s)
		}
	}
}
