package redact

// machine is an Aho–Corasick automaton over bytes that reports, at every
// input position, the longest pattern ending there.
//
// A state is an int32 code. A dense state (one of the shallow states, where
// ordinary text spends nearly all its time) has code ≥ 0: its row's offset
// in dense, which holds a full transition row per state over byte classes.
// A sparse state (the long tails of the patterns) has code ^i < 0, i its
// index in the s* slices: a few edges and a failure link, followed until a
// dense state answers. Dense states are shallower than the shortest
// pattern, so only sparse states report matches.
type machine struct {
	classes    [256]uint8 // byte → class; 0 for bytes in no pattern
	stride     int32      // classes per dense row
	dense      []int32    // row per dense state
	denseDepth []int32    // by row number (code / stride)

	sparse   []sparseState
	edgeByte []byte // edges past each sparse state's first
	edgeNext []int32

	maxDenseDepth int32
}

// Dense rows cost stride×4 bytes each; past this many the shallowest states
// already absorb ordinary text, and more rows only cost cache.
const maxDenseStates = 1 << 13

// sparseState is one state of a pattern's tail, all it needs in one cache
// line: most have a single edge, kept inline.
type sparseState struct {
	b       byte  // the first edge's byte
	nEdges  uint8 // 0, 1, or more: edges past the first are edgeByte/edgeNext[more:]
	next    int32 // the first edge's target
	more    int32
	nMore   int32
	fail    int32
	depth   int32
	outLen  int32 // longest pattern ending in this state, 0 if none
	outName int32
}

type pattern struct {
	s    string
	name int32
}

// compile builds the automaton. Patterns must be non-empty; a pattern equal
// to an earlier one is ignored, so the earlier one names it.
func compile(pats []pattern) *machine {
	// The trie: node 0 is the root; children as sibling lists.
	var (
		first = []int32{-1}
		next  = []int32{-1}
		label = []byte{0}
		depth = []int32{0}
		term  = []int32{-1} // pattern name, -1 if no pattern ends here
	)
	child := func(u int32, b byte) int32 {
		for c := first[u]; c >= 0; c = next[c] {
			if label[c] == b {
				return c
			}
		}
		return -1
	}
	minLen := int32(1 << 30)
	var present [256]bool
	for _, p := range pats {
		u := int32(0)
		for i := 0; i < len(p.s); i++ {
			b := p.s[i]
			present[b] = true
			c := child(u, b)
			if c < 0 {
				c = int32(len(first))
				first = append(first, -1)
				next = append(next, first[u])
				first[u] = c
				label = append(label, b)
				depth = append(depth, depth[u]+1)
				term = append(term, -1)
			}
			u = c
		}
		if term[u] < 0 {
			term[u] = p.name
		}
		minLen = min(minLen, int32(len(p.s)))
	}
	n := int32(len(first))

	// Breadth-first: failure links and outputs.
	fail := make([]int32, n)
	outLen := make([]int32, n)
	outName := make([]int32, n)
	order := make([]int32, 0, n)
	order = append(order, 0)
	for h := 0; h < len(order); h++ {
		u := order[h]
		for v := first[u]; v >= 0; v = next[v] {
			order = append(order, v)
			f := int32(0)
			if u != 0 {
				for f = fail[u]; ; f = fail[f] {
					if c := child(f, label[v]); c >= 0 {
						f = c
						break
					}
					if f == 0 {
						break
					}
				}
			}
			fail[v] = f
			if term[v] >= 0 {
				outLen[v], outName[v] = depth[v], term[v]
			} else {
				outLen[v], outName[v] = outLen[f], outName[f]
			}
		}
	}

	m := &machine{}
	nClasses := int32(1)
	for b := range 256 {
		if present[b] {
			m.classes[b] = uint8(nClasses)
			nClasses++
		}
	}
	if nClasses > 256 { // every byte value is in some pattern: no class 0
		for b := range 256 {
			m.classes[b] = uint8(b)
		}
		nClasses = 256
	}
	m.stride = nClasses

	// Dense states: the shallowest, in breadth-first order, while they are
	// shallower than the shortest pattern and fit the budget.
	dMax := min(minLen-1, 4)
	nDense := int32(0)
	for _, u := range order {
		if depth[u] > dMax || nDense >= maxDenseStates {
			break
		}
		nDense++
	}
	for nDense > 1 && nDense < n && depth[order[nDense]] == depth[order[nDense-1]] {
		nDense-- // whole levels only, so every dense state's failure is dense
	}
	if nDense > 1 {
		m.maxDenseDepth = depth[order[nDense-1]]
	}
	code := make([]int32, n)
	for i, u := range order[:nDense] {
		code[u] = int32(i) * m.stride
	}
	// Sparse states in creation order: a pattern's tail is consecutive.
	sparse := int32(0)
	isDense := make([]bool, n)
	for _, u := range order[:nDense] {
		isDense[u] = true
	}
	for u := range n {
		if !isDense[u] {
			code[u] = ^sparse
			sparse++
		}
	}

	m.dense = make([]int32, nDense*m.stride)
	m.denseDepth = make([]int32, nDense)
	for i, u := range order[:nDense] {
		row := m.dense[int32(i)*m.stride : int32(i+1)*m.stride]
		if u != 0 {
			copy(row, m.dense[code[fail[u]]:code[fail[u]]+m.stride])
		}
		for c := first[u]; c >= 0; c = next[c] {
			row[m.classes[label[c]]] = code[c]
		}
		m.denseDepth[i] = depth[u]
	}

	m.sparse = make([]sparseState, 0, sparse)
	for u := range n {
		if isDense[u] {
			continue
		}
		st := sparseState{fail: code[fail[u]], depth: depth[u], outLen: outLen[u], outName: outName[u]}
		for c := first[u]; c >= 0; c = next[c] {
			if st.nEdges == 0 {
				st.b, st.next, st.nEdges = label[c], code[c], 1
				st.more = int32(len(m.edgeByte))
				continue
			}
			st.nEdges = 2
			st.nMore++
			m.edgeByte = append(m.edgeByte, label[c])
			m.edgeNext = append(m.edgeNext, code[c])
		}
		m.sparse = append(m.sparse, st)
	}
	return m
}

// step is the transition from sparse state code on b.
func (m *machine) step(code int32, b byte) int32 {
	for code < 0 {
		st := &m.sparse[^code]
		if st.nEdges > 0 && st.b == b {
			return st.next
		}
		for e := st.more; e < st.more+st.nMore; e++ {
			if m.edgeByte[e] == b {
				return m.edgeNext[e]
			}
		}
		code = st.fail
	}
	return m.dense[code+int32(m.classes[b])]
}

// stateDepth is the length of the longest suffix of the input read so far
// that is a prefix of a pattern: no later match can start before it.
func (m *machine) stateDepth(code int32) int32 {
	if code < 0 {
		return m.sparse[^code].depth
	}
	return m.denseDepth[code/m.stride]
}
