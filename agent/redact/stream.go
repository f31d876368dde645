package redact

// maxRun bounds how much masked input the stream holds back while a run of
// matches keeps growing (a value repeated back to back, a periodic value in
// a periodic input): past it the run is cut and its first part written as
// a mask of its own. Cutting where the input (not the Writes) says keeps
// streaming and one-shot output equal.
const maxRun = 64 << 10

// run is a maximal stretch of masked input, [start, end) in stream offsets.
type run struct {
	start, end int64
	name       int32 // the secret with the longest match in it
	nameLen    int32 // that match's length
	closed     bool  // cut by maxRun: final, takes no more matches
}

// stream is the masking state of one output stream. The input is
// [0, pos); output has been produced for [0, emitted); tail holds the
// input [emitted, pos) until it is known whether it is masked.
type stream struct {
	m       *machine
	masks   [][]byte // by secret name index
	code    int32
	pos     int64
	emitted int64
	tail    []byte
	runs    []run // pending, in order, disjoint and not touching
}

// feed runs p through the automaton, recording the matches in s.runs.
func (s *stream) feed(p []byte) {
	m := s.m
	dense := m.dense
	classes := &m.classes
	code := s.code
	n := len(p)
	for i := 0; i < n; {
		if code >= 0 {
			for i < n {
				code = dense[code+int32(classes[p[i]])]
				i++
				if code < 0 {
					break
				}
			}
			if code >= 0 {
				break
			}
		} else {
			code = m.step(code, p[i])
			i++
			if code >= 0 {
				continue
			}
		}
		if st := &m.sparse[^code]; st.outLen > 0 {
			end := s.pos + int64(i)
			s.match(end-int64(st.outLen), end, st.outName, st.outLen, end-int64(st.depth))
		}
	}
	s.code = code
	s.pos += int64(n)
}

// match records the match [start, end); no later match starts before
// frontier.
func (s *stream) match(start, end int64, name, length int32, frontier int64) {
	r := run{start: start, end: end, name: name, nameLen: length}
	for len(s.runs) > 0 {
		last := &s.runs[len(s.runs)-1]
		if last.closed || last.end < start {
			break
		}
		r.start = min(r.start, last.start)
		if last.nameLen >= r.nameLen {
			r.name, r.nameLen = last.name, last.nameLen
		}
		s.runs = s.runs[:len(s.runs)-1]
	}
	if frontier-r.start >= maxRun {
		s.runs = append(s.runs, run{start: r.start, end: frontier, name: r.name, nameLen: r.nameLen, closed: true})
		r.start = frontier
	}
	s.runs = append(s.runs, r)
}

// flush appends to out the output that is final, given that p was the last
// input fed; at the end of the stream everything is. It keeps the input
// still undecided in s.tail.
func (s *stream) flush(out, p []byte, end bool) []byte {
	pStart := s.pos - int64(len(p)) // p is [pStart, pos); s.tail is [emitted, pStart)
	tailStart := s.emitted
	appendInput := func(out []byte, from, to int64) []byte {
		if from < pStart {
			e := min(to, pStart)
			out = append(out, s.tail[from-tailStart:e-tailStart]...)
			from = e
		}
		if from < to {
			out = append(out, p[from-pStart:to-pStart]...)
		}
		return out
	}
	frontier := s.pos
	if !end {
		frontier -= int64(s.m.stateDepth(s.code))
	}
	k := 0
	for ; k < len(s.runs); k++ {
		r := &s.runs[k]
		if !end && !r.closed && r.end >= frontier { // a later match may still join it
			break
		}
		out = appendInput(out, s.emitted, r.start)
		out = append(out, s.masks[r.name]...)
		s.emitted = r.end
	}
	limit := frontier
	if k < len(s.runs) {
		limit = min(limit, s.runs[k].start)
	}
	if limit > s.emitted {
		out = appendInput(out, s.emitted, limit)
		s.emitted = limit
	}
	s.runs = s.runs[:copy(s.runs, s.runs[k:])]

	// Keep [emitted, pos): what is left of the old tail, then of p.
	if s.emitted < pStart {
		n := copy(s.tail, s.tail[s.emitted-tailStart:])
		s.tail = append(s.tail[:n], p...)
	} else {
		s.tail = append(s.tail[:0], p[s.emitted-pStart:]...)
	}
	return out
}
