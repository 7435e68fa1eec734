package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Join retries: the leader may not be up yet.
const (
	joinFirstWait = 200 * time.Millisecond
	joinMaxWait   = 5 * time.Second
)

// joinLoop asks the node at leaderURL to add this node as a voter until it
// agrees or ctx ends.
func joinLoop(ctx context.Context, log zerolog.Logger, leaderURL, id, raftAddr string) {
	wait := joinFirstWait
	for {
		err := join(ctx, leaderURL, id, raftAddr)
		if err == nil {
			log.Info().Str("leader", leaderURL).Msg("joined")
			return
		}
		log.Warn().Err(err).Dur("retry_in", wait).Msg("join")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, joinMaxWait)
	}
}

// join makes one POST /join to leaderURL.
func join(ctx context.Context, leaderURL, id, raftAddr string) error {
	q := url.Values{"id": {id}, "addr": {raftAddr}}
	u := strings.TrimSuffix(leaderURL, "/") + "/join?" + q.Encode()
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return fmt.Errorf("join request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", u, err)
	}
	defer resp.Body.Close() //nolint:errcheck // the body is read to its end below.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return fmt.Errorf("read join response: %w", err)
	}
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("join: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
