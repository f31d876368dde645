package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a pipeline file. Line and Column are 1-based; both
// are 0 for a problem with the file as a whole (such as its size).
type Error struct {
	File    string
	Line    int
	Column  int
	Message string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
}

// Errors is every problem Parse found, sorted by position. Parse returns
// either a valid *Pipeline or a non-empty *Errors, never both.
type Errors struct {
	List []*Error
}

// Error prints one problem per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, err := range e.List {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.List))
	for i, err := range e.List {
		errs[i] = err
	}
	return errs
}

// maxErrors bounds the report: past it, more errors tell the user nothing new
// and an adversarial file could otherwise make the report huge.
const maxErrors = 100

// collector gathers errors for one file, dropping exact repeats (a node
// reached through several aliases would otherwise report the same problem
// once per alias).
type collector struct {
	file      string
	list      []*Error
	seen      map[Error]bool
	truncated bool
}

func newCollector(file string) *collector {
	return &collector{file: file, seen: make(map[Error]bool)}
}

func (c *collector) add(line, col int, format string, args ...any) {
	e := Error{File: c.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
	if c.seen[e] {
		return
	}
	if len(c.list) >= maxErrors {
		c.truncated = true
		return
	}
	c.seen[e] = true
	c.list = append(c.list, &e)
}

// at reports a problem at node n.
func (c *collector) at(n *node, format string, args ...any) {
	c.add(n.line, n.col, format, args...)
}

func (c *collector) empty() bool { return len(c.list) == 0 }

func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	list := append([]*Error(nil), c.list...)
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Line != list[j].Line {
			return list[i].Line < list[j].Line
		}
		return list[i].Column < list[j].Column
	})
	if c.truncated {
		list = append(list, &Error{File: c.file, Message: fmt.Sprintf("too many errors; only the first %d are shown", maxErrors)})
	}
	return &Errors{List: list}
}
