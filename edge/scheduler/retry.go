package scheduler

import "fmt"

// retryable reports whether a person may start a job again: it ended
// without passing. A timed-out job, and one that lost its agent too often,
// ended failed.
func retryable(state string) bool {
	return state == StateFailed || state == StateCancelled
}

// Retry starts a new attempt of a job that ended failed or cancelled, for
// the person by. Its dependents that ended only because of it wait for it
// again (see reopen), the run is running again (and no longer cancelled),
// and the attempt goes to an idle agent at once.
func (s *Scheduler) Retry(runID, key, by string) error {
	return s.run(func(ev *event) error {
		if len(s.exec(`SELECT 1 FROM runs WHERE id = ?`, runID)) == 0 {
			return &HTTPError{Status: 404, Message: fmt.Sprintf("run %q not found", runID)}
		}
		js := s.jobs(`run_id = ? AND key = ?`, runID, key)
		if len(js) == 0 {
			return &HTTPError{Status: 404, Message: fmt.Sprintf("job %q not found in run %q", key, runID)}
		}
		j := js[0]
		if !retryable(j.State) {
			why := "it has not ended"
			switch j.State {
			case StatePassed:
				why = "it passed"
			case StateSkipped:
				why = "it never ran because a dependency failed; retry that dependency instead"
			}
			return &HTTPError{Status: 409, Message: fmt.Sprintf("job %q of run %q is %s: %s; only a job that ended %s or %s (timed out and lost jobs end %s) can be retried",
				key, runID, j.State, why, StateFailed, StateCancelled, StateFailed)}
		}
		reason := "retried"
		if by != "" {
			reason += " by " + by
		}
		s.cfg.Log("job %s (%s) attempt %d %s: %s", j.ID, j.Key, j.Attempt, j.State, reason)
		ev.newAttempt(j, reason, nil)
		// A person's retry is a fresh start: lost agents and automatic
		// retries count again from this attempt.
		s.exec(`UPDATE jobs SET lost = 0, retry_from = attempt, retried_by = ? WHERE id = ?`, by, j.ID)
		ev.reopen(runID, key)
		s.exec(`UPDATE runs SET state = ?, finished_ms = 0, cancel_requested = 0 WHERE id = ?`, RunRunning, runID)
		ev.dispatch()
		ev.rearm = true
		return nil
	})
}

// reopen puts back to waiting the dependents of a job that starts again
// that ended only because of it: skipped, or cancelled with their run before
// an agent got them, and with no other dependency that ended without passing
// (a job skipped because another dependency failed stays skipped). Their
// own dependents follow in turn; a dependent checked too early, while
// another of its dependencies was still to be reopened, is checked again
// when that one is.
func (ev *event) reopen(runID, key string) {
	s := ev.s
	for queue := []string{key}; len(queue) > 0; queue = queue[1:] {
		for _, r := range s.exec(`SELECT j.id, j.key FROM deps d JOIN jobs j ON j.run_id = d.run_id AND j.key = d.key
			WHERE d.run_id = ? AND d.dep = ? AND (j.state = ? OR (j.state = ? AND j.reason = ? AND j.agent_id = ''))`,
			runID, queue[0], StateSkipped, StateCancelled, reasonRunCancelled) {
			id, dependent := asString(r[0]), asString(r[1])
			if ev.blocked(runID, dependent) {
				continue
			}
			s.exec(`UPDATE jobs SET state = ?, reason = '', finished_ms = 0, cancel_requested = 0 WHERE id = ?`, StateWaiting, id)
			queue = append(queue, dependent)
		}
	}
}

// blocked reports whether one of a job's dependencies ended in a way that
// skips it (as release decides): not passed, not soft-failed, and not
// allowed to fail.
func (ev *event) blocked(runID, key string) bool {
	for _, d := range ev.s.exec(`SELECT d.allow_failure, dj.state, dj.soft_failed FROM deps d
		JOIN jobs dj ON dj.run_id = d.run_id AND dj.key = d.dep WHERE d.run_id = ? AND d.key = ?`, runID, key) {
		state := asString(d[1])
		ok := !terminal(state) || state == StatePassed || (state == StateFailed && asInt(d[2]) != 0) || asInt(d[0]) != 0
		if !ok {
			return true
		}
	}
	return false
}

// Rebuild submits a new run with the pipeline source, filename,
// repository, commit, branch and message of run id, started by by.
func (s *Scheduler) Rebuild(id, by string) (RunView, error) {
	var req SubmitRequest
	found := false
	err := s.view(func() error {
		rows := s.exec(`SELECT source, filename, repository, commit_sha, branch, message FROM runs WHERE id = ?`, id)
		if len(rows) == 0 {
			return nil
		}
		r := rows[0]
		found = true
		req = SubmitRequest{Pipeline: asString(r[0]), Filename: asString(r[1]), Repository: asString(r[2]),
			Commit: asString(r[3]), Branch: asString(r[4]), Message: asString(r[5])}
		return nil
	})
	if err != nil {
		return RunView{}, err
	}
	if !found {
		return RunView{}, &HTTPError{Status: 404, Message: fmt.Sprintf("run %q not found", id)}
	}
	req.CreatedBy, req.RebuildOf = by, id
	return s.Submit(req)
}
