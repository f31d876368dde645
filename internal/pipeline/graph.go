package pipeline

import (
	"fmt"
	"strings"
)

// maxImpliedDependencies bounds the dependencies that waits add. A wait makes
// every later step depend on every earlier one, so a file alternating steps
// and waits grows quadratically; a real pipeline stays far below this.
const maxImpliedDependencies = 250_000

// resolve gives every step its key, checks keys are unique, and builds each
// step's DependsOn from depends_on and the waits before it. It then checks
// that every dependency exists and that there is no cycle.
func (p *parser) resolve() []*Step {
	// Explicit keys first, so a default key can be checked against all of them.
	byKey := make(map[string]*entry)
	for _, e := range p.entries {
		if e.step == nil || e.keyNode == nil {
			continue
		}
		if first, ok := byKey[e.step.Key]; ok {
			p.c.at(e.keyNode, "duplicate step key %q (first at line %d, column %d)", e.step.Key, first.keyNode.line, first.keyNode.col)
			continue
		}
		if p.otherKeys[e.step.Key] {
			p.c.at(e.keyNode, "duplicate step key %q (also used by a step Airlock does not support yet)", e.step.Key)
			continue
		}
		byKey[e.step.Key] = e
	}
	for _, e := range p.entries {
		if e.step == nil || e.keyNode != nil {
			continue
		}
		key := fmt.Sprintf("step-%d", e.pos)
		if other, ok := byKey[key]; ok {
			p.c.at(e.at, "this step has no key, and its default key %q is already the key of the step at line %d; give this step a key", key, other.keyNode.line)
			continue
		}
		e.step.Key = key
		byKey[key] = e
	}

	var steps []*Step
	var depNodes [][]*node // parallel to steps[i].DependsOn: where each was written
	var before []*Step     // runnable steps before the latest wait
	var sinceWait []*Step  // runnable steps after it
	lastWait := (*entry)(nil)
	implied := 0
	for _, e := range p.entries {
		if e.wait {
			before = append(before, sinceWait...)
			sinceWait = nil
			lastWait = e
			continue
		}
		if e.step == nil {
			continue
		}
		s := e.step
		var nodes []*node
		index := make(map[string]int)
		for _, d := range e.deps {
			if _, ok := byKey[d.key]; !ok {
				if !p.otherKeys[d.key] {
					p.c.at(d.at, "%s", missingDependency(d.key, byKey))
				}
				continue
			}
			index[d.key] = len(s.DependsOn)
			s.DependsOn = append(s.DependsOn, Dependency{Key: d.key, AllowFailure: d.allowFailure})
			nodes = append(nodes, d.at)
		}
		if lastWait != nil {
			implied += len(before)
			if implied > maxImpliedDependencies {
				p.c.at(lastWait.at, "waits imply more than %d dependencies; use depends_on instead of so many waits", maxImpliedDependencies)
				return nil
			}
			for _, b := range before {
				// A wait that does not continue on failure stops the
				// step whatever depends_on says, so the stricter wins.
				if i, ok := index[b.Key]; ok {
					s.DependsOn[i].AllowFailure = s.DependsOn[i].AllowFailure && lastWait.continueOnFailure
					continue
				}
				index[b.Key] = len(s.DependsOn)
				s.DependsOn = append(s.DependsOn, Dependency{Key: b.Key, AllowFailure: lastWait.continueOnFailure})
				nodes = append(nodes, nil)
			}
		}
		steps = append(steps, s)
		depNodes = append(depNodes, nodes)
		sinceWait = append(sinceWait, s)
	}
	if p.c.empty() {
		p.findCycles(steps, depNodes)
	}
	return steps
}

func missingDependency(key string, byKey map[string]*entry) string {
	msg := fmt.Sprintf("depends on %q, but no step has that key", key)
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	if s := suggest(key, keys); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

// findCycles reports every dependency cycle found by a depth-first search,
// each named from the step that comes first in the file:
// "dependency cycle: a -> c -> b -> a".
func (p *parser) findCycles(steps []*Step, depNodes [][]*node) {
	index := make(map[string]int, len(steps))
	for i, s := range steps {
		index[s.Key] = i
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]int, len(steps))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = onStack
		stack = append(stack, i)
		for _, d := range steps[i].DependsOn {
			j := index[d.Key]
			switch state[j] {
			case unvisited:
				visit(j)
			case onStack:
				p.reportCycle(steps, depNodes, index, stack, j)
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range steps {
		if state[i] == unvisited {
			visit(i)
		}
	}
}

func (p *parser) reportCycle(steps []*Step, depNodes [][]*node, index map[string]int, stack []int, start int) {
	var cycle []int
	for k := len(stack) - 1; k >= 0; k-- {
		if stack[k] == start {
			cycle = append(cycle, stack[k:]...)
			break
		}
	}
	// Rotate so the cycle starts at the step that comes first in the file.
	first := 0
	for k, i := range cycle {
		if i < cycle[first] {
			first = k
		}
	}
	cycle = append(cycle[first:], cycle[:first]...)
	names := make([]string, 0, len(cycle)+1)
	for _, i := range cycle {
		names = append(names, steps[i].Key)
	}
	names = append(names, names[0])

	// Point at the depends_on entry that leaves the first step of the cycle.
	from, to := steps[cycle[0]], steps[cycle[(1)%len(cycle)]]
	line, col := from.Line, from.Column
	for k, d := range from.DependsOn {
		if d.Key == to.Key {
			if n := depNodes[cycle[0]][k]; n != nil {
				line, col = n.line, n.col
			}
			break
		}
	}
	p.c.add(line, col, "dependency cycle: %s", strings.Join(names, " -> "))
}
