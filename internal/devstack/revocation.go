package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Revocation is what MeasureRevocation saw.
type Revocation struct {
	// Requests is how many requests the victim's session made in all.
	Requests int
	// AcceptedAfter counts requests sent after the revoke call returned
	// that were nevertheless accepted. The invariant: zero.
	AcceptedAfter int
	// RefusedAfter counts requests sent after the revoke returned (all of
	// which should be refused).
	RefusedAfter int
	// InFlight counts requests that were sent before the revoke returned
	// and answered after it: they may go either way.
	InFlight int
	// Revoke is how long the revoke call took.
	Revoke time.Duration
	// FirstRefusal is the time from the revoke call returning to the
	// first refused answer (an upper bound of the "window").
	FirstRefusal time.Duration
}

// MeasureRevocation keeps workers requests in flight with the victim's
// CLI session (GET /v1/me) while the admin's session ends it (DELETE
// /v1/sessions/{id}), and counts what was accepted after the revoke call
// returned. Both tokens are CLI session tokens for server.
func MeasureRevocation(ctx context.Context, server, victim, admin string, workers int, before, after time.Duration) (Revocation, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(method, path, token string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, server+path, nil)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, nil
	}
	code, body, err := get("GET", "/v1/me", victim)
	if err != nil || code != 200 {
		return Revocation{}, fmt.Errorf("the victim's session does not work before the revoke: %d %s %v", code, body, err)
	}
	var me struct {
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	if err := json.Unmarshal(body, &me); err != nil || me.Session.ID == "" {
		return Revocation{}, fmt.Errorf("GET /v1/me: no session id in %s", body)
	}

	type sample struct {
		sent, answered time.Time
		status         int
	}
	var mu sync.Mutex
	var samples []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				code, _, err := get("GET", "/v1/me", victim)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				samples = append(samples, sample{sent, time.Now(), code})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(before)
	start := time.Now()
	code, body, err = get("DELETE", "/v1/sessions/"+me.Session.ID, admin)
	revoked := time.Now()
	if err != nil || code != 204 {
		close(stop)
		wg.Wait()
		return Revocation{}, fmt.Errorf("revoke: %d %s %v", code, body, err)
	}
	time.Sleep(after)
	close(stop)
	wg.Wait()
	if firstErr != nil {
		return Revocation{}, firstErr
	}
	r := Revocation{Requests: len(samples), Revoke: revoked.Sub(start), FirstRefusal: -1}
	sort.Slice(samples, func(i, j int) bool { return samples[i].answered.Before(samples[j].answered) })
	for _, s := range samples {
		switch {
		case s.sent.After(revoked) && s.status == 200:
			r.AcceptedAfter++
		case s.sent.After(revoked):
			r.RefusedAfter++
		case s.answered.After(revoked):
			r.InFlight++
		}
		if s.status == 401 && r.FirstRefusal < 0 {
			r.FirstRefusal = s.answered.Sub(revoked)
		}
	}
	return r, nil
}
