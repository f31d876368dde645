package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/wire"
)

// WebSocket close codes the scheduler uses.
const (
	CloseProtocolError = 1002 // a frame broke the protocol
	ClosePolicy        = 1008 // a frame was refused
	CloseTooBig        = 1009 // a frame was over wire.MaxFrameSize
	CloseReplaced      = 4000 // the same agent connected again
	CloseExpired       = 4001 // the proven credentials expired
)

// Identity is who a connecting agent proved to be, and its pool.
type Identity = identity.Identity

// principal names an identity uniquely: its kind and subject.
func principal(id Identity) string { return id.Kind + ":" + id.Subject }

// ErrUnauthenticated is wrapped by every refusal of an agent's proof.
var ErrUnauthenticated = errors.New("agent identity not proven")

// Challenge lifetime and limits.
const (
	ChallengeTTL = 60 * time.Second
	// maxChallenges bounds unanswered challenges, which anyone may request.
	maxChallenges = 10000
	// reproveMargin is how long before its credentials expire a connection
	// is challenged to prove itself again.
	reproveMargin = 5 * time.Minute
)

// IssueChallenge returns a new single-use challenge that expires after
// ChallengeTTL. conn is empty for a challenge answered in a connection's
// upgrade request, or the connection a re-proof challenge belongs to.
func (ev *event) issueChallenge(conn string) (string, int64, error) {
	s := ev.s
	now := s.nowMS()
	s.exec(`DELETE FROM challenges WHERE expires_ms <= ?`, now)
	if conn == "" && asInt(s.exec(`SELECT COUNT(*) FROM challenges WHERE conn = ''`)[0][0]) >= maxChallenges {
		return "", 0, &HTTPError{Status: 429, Message: "too many outstanding challenges; retry in a minute"}
	}
	ch := newID("ach_") + newID("")
	exp := now + ChallengeTTL.Milliseconds()
	s.exec(`INSERT INTO challenges (id, conn, expires_ms) VALUES (?, ?, ?)`, ch, conn, exp)
	return ch, exp, nil
}

// consumeChallenge deletes the challenge and reports whether it was
// outstanding, unexpired and issued for conn ("" for a new connection).
func (ev *event) consumeChallenge(ch, conn string) bool {
	s := ev.s
	rows := s.exec(`SELECT conn, expires_ms FROM challenges WHERE id = ?`, ch)
	if len(rows) == 0 {
		return false
	}
	s.exec(`DELETE FROM challenges WHERE id = ?`, ch)
	return asString(rows[0][0]) == conn && asInt(rows[0][1]) > s.nowMS()
}

// Verification is a proof waiting to be verified. Verifying talks to the
// outside world (STS, an OIDC issuer), so it happens outside the scheduler's
// synchronous events: the caller verifies Proof against Challenge and hands
// the result to Admit (a new connection) or Reproved (an open one).
type Verification struct {
	Proof     *identity.Proof
	Challenge string
	// Conn is the open connection proving itself again; empty for a new one.
	Conn string
}

// beginConnect decodes the proof of an upgrade request and consumes its
// challenge: a proof is only ever verified once.
func (s *Scheduler) beginConnect(header string) (*Verification, error) {
	if header == "" {
		return nil, &HTTPError{Status: 401, Message: fmt.Sprintf("%v: no %s header (get a challenge from POST /v1/agents/challenge and answer it)", ErrUnauthenticated, identity.ProofHeader)}
	}
	p, err := identity.DecodeProof(header)
	if err != nil {
		return nil, &HTTPError{Status: 401, Message: fmt.Sprintf("%v: %v", ErrUnauthenticated, err)}
	}
	var ok bool
	if err := s.run(func(ev *event) error { ok = ev.consumeChallenge(p.Challenge, ""); return nil }); err != nil {
		return nil, err
	}
	if !ok {
		return nil, &HTTPError{Status: 401, Message: fmt.Sprintf("%v: the challenge is unknown, already used or expired", ErrUnauthenticated)}
	}
	return &Verification{Proof: p, Challenge: p.Challenge}, nil
}

// Admit finishes a connection attempt: with a verified identity it records
// the connection and answers the upgrade; with a verification error it
// answers 401 with the reason.
func (s *Scheduler) Admit(id Identity, verifyErr error) Response {
	if verifyErr != nil {
		s.cfg.Log("agent refused: %v", verifyErr)
		status := 401
		if errors.Is(verifyErr, identity.ErrUnavailable) {
			// STS or the issuer is down: not the agent's fault, retry later.
			status = 503
		}
		return jsonResponse(status, map[string]any{"error": fmt.Sprintf("%v: %v", ErrUnauthenticated, verifyErr)})
	}
	conn, err := s.Connect(id)
	if err != nil {
		return s.errorResponse(err)
	}
	return Response{Status: 101, Upgrade: conn}
}

// Connect records a new connection for a verified identity and returns its
// connection ID; the caller accepts the WebSocket under that ID.
func (s *Scheduler) Connect(id Identity) (string, error) {
	conn := newID("c_")
	err := s.run(func(ev *event) error {
		tags, _ := json.Marshal(id.Tags)
		expires := int64(0)
		if !id.Expires.IsZero() {
			expires = id.Expires.UnixMilli()
		}
		s.exec(`INSERT INTO conns (conn, identity, pool, tags, agent_id, opened_ms, expires_ms, next_ms) VALUES (?, ?, ?, ?, '', ?, ?, ?)`,
			conn, principal(id), id.Pool, string(tags), s.nowMS(), expires, reproveAt(s.nowMS(), expires))
		ev.rearm = true
		return nil
	})
	return conn, err
}

// reproveAt is when a connection proven until expires is challenged again:
// reproveMargin before, or halfway for credentials that live less than
// twice that. Zero for credentials that do not expire.
func reproveAt(now, expires int64) int64 {
	if expires == 0 {
		return 0
	}
	margin := reproveMargin.Milliseconds()
	if life := expires - now; life < 2*margin {
		margin = life / 2
	}
	return expires - margin
}

// Reproved finishes a re-proof on an open connection: the same identity,
// verified, extends the connection's life; anything else closes it.
func (s *Scheduler) Reproved(conn string, id Identity, verifyErr error) error {
	var closeReason string
	err := s.run(func(ev *event) error {
		rows := s.exec(`SELECT identity FROM conns WHERE conn = ?`, conn)
		if len(rows) == 0 {
			return nil
		}
		switch {
		case verifyErr != nil:
			closeReason = "re-proof refused: " + verifyErr.Error()
		case asString(rows[0][0]) != principal(id):
			closeReason = "re-proof is for another identity"
		default:
			expires := id.Expires.UnixMilli()
			s.exec(`UPDATE conns SET expires_ms = ?, next_ms = ? WHERE conn = ?`, expires, reproveAt(s.nowMS(), expires), conn)
			ev.rearm = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if closeReason != "" {
		s.refuse(conn, ClosePolicy, closeReason)
	}
	return nil
}

// expireConns challenges connections whose credentials expire soon and
// closes those whose credentials have expired.
func (ev *event) expireConns() {
	s := ev.s
	now := s.nowMS()
	for _, r := range s.exec(`SELECT conn, expires_ms FROM conns WHERE next_ms > 0 AND next_ms <= ?`, now) {
		conn, expires := asString(r[0]), asInt(r[1])
		if expires <= now {
			s.exec(`UPDATE conns SET next_ms = 0 WHERE conn = ?`, conn)
			ev.sendFrame(conn, wire.Frame{Type: wire.TError, Error: &wire.ErrorReason{Message: "credentials expired before the connection was proven again"}})
			ev.close(conn, CloseExpired, "credentials expired")
			continue
		}
		ch, _, err := ev.issueChallenge(conn)
		if err != nil {
			continue
		}
		s.exec(`UPDATE conns SET next_ms = ? WHERE conn = ?`, expires, conn)
		ev.sendFrame(conn, wire.Frame{Type: wire.TChallenge, Challenge: &wire.Challenge{Challenge: ch, DeadlineMS: expires}})
	}
}

// Message handles one frame from a connection. A frame that cannot be
// decoded, or that breaks the protocol, closes that connection with the
// reason and changes nothing else.
//
// A Proof frame comes back as a Verification for the caller to verify and
// hand to Reproved; every other frame is handled completely.
func (s *Scheduler) Message(conn string, data []byte) (*Verification, error) {
	f, err := wire.Decode(data)
	if err != nil {
		code := CloseProtocolError
		if errors.Is(err, wire.ErrFrameTooLarge) {
			code = CloseTooBig
		}
		s.refuse(conn, code, err.Error())
		return nil, nil
	}
	var refusal string
	var pending *Verification
	err = s.run(func(ev *event) error {
		rows := s.exec(`SELECT identity, agent_id, tags, pool FROM conns WHERE conn = ?`, conn)
		if len(rows) == 0 {
			refusal = "unknown connection"
			return nil
		}
		ident, agentID := asString(rows[0][0]), asString(rows[0][1])
		if f.Type == wire.THello {
			if agentID != "" {
				refusal = "hello sent twice"
				return nil
			}
			var poolTags map[string]string
			_ = json.Unmarshal(asBytes(rows[0][2]), &poolTags)
			refusal = ev.hello(conn, ident, asString(rows[0][3]), poolTags, f.Hello)
			return nil
		}
		if f.Type == wire.TProof {
			p, err := identity.DecodeProof(f.Proof.Proof)
			switch {
			case err != nil:
				refusal = "proof: " + err.Error()
			case !ev.consumeChallenge(p.Challenge, conn):
				refusal = "proof answers no outstanding challenge of this connection"
			default:
				pending = &Verification{Proof: p, Challenge: p.Challenge, Conn: conn}
			}
			return nil
		}
		if agentID == "" {
			refusal = fmt.Sprintf("%s frame before hello", f.Type)
			return nil
		}
		now := s.nowMS()
		switch f.Type {
		case wire.THeartbeat:
			s.exec(`UPDATE agents SET last_seen_ms = ? WHERE id = ?`, now, agentID)
			s.exec(`UPDATE jobs SET lease_ms = ? WHERE agent_id = ? AND state IN ('assigned','running')`,
				now+wire.LeaseTimeout.Milliseconds(), agentID)
			ev.rearm = true
		case wire.TAccept:
			ev.accept(conn, agentID, *f.Accept)
		case wire.TLog:
			ev.log(conn, agentID, f.Log)
		case wire.TFinished:
			ev.finished(conn, agentID, f.Finished)
		default:
			refusal = fmt.Sprintf("agents do not send %s frames", f.Type)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refusal != "" {
		s.refuse(conn, CloseProtocolError, refusal)
		return nil, nil
	}
	return pending, nil
}

// refuse tells the agent why, then closes its connection. The connection's
// record goes when the close event arrives.
func (s *Scheduler) refuse(conn string, code int, reason string) {
	if b, err := wire.Encode(wire.Frame{Type: wire.TError, Error: &wire.ErrorReason{Message: reason}}); err == nil {
		_ = s.sockets.Send(conn, b)
	}
	if len(reason) > 120 { // a WebSocket close reason is at most 123 bytes
		reason = reason[:120]
	}
	s.sockets.Close(conn, code, reason)
}

// Closed handles a connection that ended. Its agent's jobs keep their leases:
// the agent may reconnect and carry on; if it does not, Alarm re-queues them.
func (s *Scheduler) Closed(conn string) error {
	return s.run(func(ev *event) error {
		s.exec(`UPDATE agents SET connected = 0, ready = 0, conn = '', disconnected_ms = ? WHERE conn = ?`, s.nowMS(), conn)
		s.exec(`DELETE FROM conns WHERE conn = ?`, conn)
		s.exec(`DELETE FROM challenges WHERE conn = ?`, conn)
		ev.rearm = true
		return nil
	})
}

func (ev *event) hello(conn, identity, pool string, poolTags map[string]string, h *wire.Hello) string {
	s := ev.s
	if h.Name == "" || len(h.Name) > 128 {
		return "hello: agent name must be 1 to 128 bytes"
	}
	if len(h.Tags) > 64 {
		return "hello: more than 64 tags"
	}
	slots := h.Slots
	if slots < 1 || slots > 64 {
		return fmt.Sprintf("hello: slots %d, want 1 to 64", h.Slots)
	}
	tags := map[string]string{"queue": "default"}
	for k, v := range h.Tags {
		tags[k] = v
	}
	for k, v := range poolTags { // the pool's tags win over what the agent claims
		tags[k] = v
	}
	tagsJSON, _ := json.Marshal(tags)
	now := s.nowMS()
	var agentID string
	if rows := s.exec(`SELECT id, conn FROM agents WHERE identity = ? AND name = ?`, identity, h.Name); len(rows) > 0 {
		agentID = asString(rows[0][0])
		if old := asString(rows[0][1]); old != "" && old != conn {
			ev.close(old, CloseReplaced, "replaced by a new connection of the same agent")
			s.exec(`UPDATE conns SET agent_id = '' WHERE conn = ?`, old)
		}
		s.exec(`UPDATE agents SET tags = ?, slots = ?, version = ?, conn = ?, connected = 1, ready = 1, connected_ms = ?, last_seen_ms = ?, pool = ?, disconnected_ms = 0 WHERE id = ?`,
			string(tagsJSON), int64(slots), h.Version, conn, now, now, pool, agentID)
	} else {
		agentID = newID("a_")
		s.exec(`INSERT INTO agents (id, identity, name, tags, slots, version, conn, connected, ready, connected_ms, last_seen_ms, pool)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?)`, agentID, identity, h.Name, string(tagsJSON), int64(slots), h.Version, conn, now, now, pool)
	}
	s.exec(`UPDATE conns SET agent_id = ? WHERE conn = ?`, agentID, conn)

	// Reconcile: jobs the agent still runs keep going; jobs we think it has
	// but it does not know are lost; jobs it has that we no longer give it
	// are unknown to us and it stops them.
	still := make(map[string]int, len(h.Running))
	for _, r := range h.Running {
		still[r.ID] = r.Attempt
	}
	var unknown []wire.JobRef
	for _, r := range h.Running {
		j := s.job(r.ID)
		if j == nil || j.AgentID != agentID || j.Attempt != int64(r.Attempt) {
			// A finished attempt that was not acknowledged is acknowledged by
			// the Finished frame the agent re-sends; anything else is unknown.
			if j == nil || j.AgentID != agentID || !terminal(j.State) {
				unknown = append(unknown, r)
			}
		}
	}
	// Welcome is the first frame the agent gets on this connection: losing a
	// job below dispatches, which may assign work to this very connection.
	ev.sendFrame(conn, wire.Frame{Type: wire.TWelcome, Welcome: &wire.Welcome{
		AgentID: agentID, HeartbeatSeconds: int(wire.HeartbeatInterval.Seconds()), Unknown: unknown,
	}})
	for _, j := range s.jobs(`agent_id = ? AND state IN ('assigned','running')`, agentID) {
		if a, ok := still[j.ID]; !ok || int64(a) != j.Attempt {
			ev.lose(j, "agent restarted without it")
		} else {
			s.exec(`UPDATE jobs SET lease_ms = ? WHERE id = ?`, now+wire.LeaseTimeout.Milliseconds(), j.ID)
		}
	}
	ev.dispatch()
	return ""
}

// held returns the job if this agent holds this attempt of it.
func (ev *event) held(agentID string, ref wire.JobRef) *jobRow {
	j := ev.s.job(ref.ID)
	if j == nil || j.AgentID != agentID || j.Attempt != int64(ref.Attempt) {
		return nil
	}
	return j
}

func (ev *event) accept(conn, agentID string, ref wire.JobRef) {
	s := ev.s
	j := ev.held(agentID, ref)
	if j == nil || terminal(j.State) {
		ev.sendFrame(conn, wire.Frame{Type: wire.TCancel, Cancel: &ref})
		return
	}
	if j.State == StateAssigned {
		s.exec(`UPDATE jobs SET state = ?, started_ms = ? WHERE id = ?`, StateRunning, s.nowMS(), j.ID)
	}
}

func (ev *event) log(conn, agentID string, l *wire.Log) {
	s := ev.s
	j := ev.held(agentID, l.JobRef)
	if j == nil {
		// Not ours (any more): acknowledge so the agent stops re-sending.
		ev.sendFrame(conn, wire.Frame{Type: wire.TLogAck, LogAck: &wire.LogAck{JobRef: l.JobRef, Seq: l.Seq}})
		return
	}
	if l.Seq == j.LogSeq+1 && !terminal(j.State) {
		s.exec(`INSERT OR IGNORE INTO logs (job_id, attempt, seq, data) VALUES (?, ?, ?, ?)`, j.ID, j.Attempt, l.Seq, l.Data)
		s.exec(`UPDATE jobs SET log_seq = ? WHERE id = ?`, l.Seq, j.ID)
		j.LogSeq = l.Seq
	}
	ev.sendFrame(conn, wire.Frame{Type: wire.TLogAck, LogAck: &wire.LogAck{JobRef: l.JobRef, Seq: j.LogSeq}})
}

func (ev *event) finished(conn, agentID string, f *wire.Finished) {
	j := ev.held(agentID, f.JobRef)
	if j != nil && !terminal(j.State) && f.LastSeq <= j.LogSeq {
		ev.finish(j, f.ExitStatus, f.Reason, f.StartedMS, f.FinishedMS)
	}
	if j != nil && !terminal(j.State) && f.LastSeq > j.LogSeq {
		// Log chunks are missing: the agent re-sends them and this frame
		// after reconnecting; until then the job stays running.
		return
	}
	ev.sendFrame(conn, wire.Frame{Type: wire.TFinishedAck, FinishedAck: &f.JobRef})
}

// agentRow is a connected agent with free slots.
type agentRow struct {
	ID, Name, Conn string
	Tags           map[string]string
	Free           int64
}

// dispatch pushes queued jobs to connected agents with matching tags and a
// free slot, oldest job first.
func (ev *event) dispatch() {
	s := ev.s
	queued := s.jobs(`state = 'queued' ORDER BY queued_ms, run_id, idx`)
	if len(queued) == 0 {
		return
	}
	rows := s.exec(`SELECT a.id, a.name, a.conn, a.tags, a.slots - (SELECT COUNT(*) FROM jobs j WHERE j.agent_id = a.id AND j.state IN ('assigned','running'))
		FROM agents a WHERE a.connected = 1 AND a.ready = 1 ORDER BY a.last_seen_ms DESC`)
	var agents []*agentRow
	for _, r := range rows {
		a := &agentRow{ID: asString(r[0]), Name: asString(r[1]), Conn: asString(r[2]), Free: asInt(r[4])}
		_ = json.Unmarshal(asBytes(r[3]), &a.Tags)
		if a.Free > 0 {
			agents = append(agents, a)
		}
	}
	repos := map[string][2]string{}
	for _, j := range queued {
		var pick *agentRow
		for _, a := range agents {
			if a.Free > 0 && tagsMatch(j.Tags, a.Tags) && (pick == nil || a.Free > pick.Free) {
				pick = a
			}
		}
		if pick == nil {
			continue
		}
		pick.Free--
		lease := s.nowMS() + wire.LeaseTimeout.Milliseconds()
		s.exec(`UPDATE jobs SET state = ?, agent_id = ?, agent_name = ?, lease_ms = ?, log_seq = 0 WHERE id = ?`,
			StateAssigned, pick.ID, pick.Name, lease, j.ID)
		repo, ok := repos[j.RunID]
		if !ok {
			r := s.exec(`SELECT repository, commit_sha FROM runs WHERE id = ?`, j.RunID)[0]
			repo = [2]string{asString(r[0]), asString(r[1])}
			repos[j.RunID] = repo
		}
		ev.sendFrame(pick.Conn, wire.Frame{Type: wire.TAssign, Assign: &wire.Job{
			JobRef:         wire.JobRef{ID: j.ID, Attempt: int(j.Attempt)},
			RunID:          j.RunID,
			Key:            j.Key,
			Label:          j.Label,
			Commands:       j.Spec.Commands,
			Env:            j.Spec.Env,
			TimeoutMinutes: j.Spec.TimeoutMinutes,
			Plugin:         j.Spec.Plugin,
			Container:      j.Spec.Container,
			Repository:     repo[0],
			Commit:         repo[1],
			Secrets:        j.Spec.Secrets,
		}})
		ev.rearm = true
	}
}

// tagsMatch reports whether an agent's tags satisfy every tag a job needs.
// A needed value "*" matches any value of that tag.
func tagsMatch(need, have map[string]string) bool {
	for k, v := range need {
		got, ok := have[k]
		if !ok || (v != "*" && got != v) {
			return false
		}
	}
	return true
}

func (ev *event) sendFrame(conn string, f wire.Frame) {
	b, err := wire.Encode(f)
	if err != nil {
		panic(err) // our own frames are always encodable
	}
	ev.send(conn, b)
}

func (s *Scheduler) connOf(agentID string) string {
	rows := s.exec(`SELECT conn FROM agents WHERE id = ? AND connected = 1`, agentID)
	if len(rows) == 0 {
		return ""
	}
	return asString(rows[0][0])
}
