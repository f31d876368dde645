// Package workspace finds files in a step's workspace for the example
// plugins. It works on an fs.FS so that plugins test it natively with
// fstest.MapFS and run it in the guest on os.DirFS("/workspace").
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// ErrBadPattern is wrapped by Glob's errors for a malformed pattern.
var ErrBadPattern = errors.New("bad file pattern")

// Glob returns the regular files of fsys matched by any of patterns, sorted
// and without duplicates. A pattern is a slash-separated path relative to
// the workspace in path.Match syntax, where a "**" segment also matches any
// number of directories ("reports/**/*.xml"). A pattern that matches no file
// is an error: it is almost always a mistake in the step's config.
func Glob(fsys fs.FS, patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var files []string
	for _, pat := range patterns {
		if err := checkPattern(pat); err != nil {
			return nil, err
		}
		matches, err := glob(fsys, pat)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pat, err)
		}
		n := 0
		for _, m := range matches {
			info, err := fs.Stat(fsys, m)
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			n++
			if !seen[m] {
				seen[m] = true
				files = append(files, m)
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("pattern %q matches no file in the workspace", pat)
		}
	}
	slices.Sort(files)
	return files, nil
}

func checkPattern(pat string) error {
	if pat == "" {
		return fmt.Errorf("%w: empty pattern", ErrBadPattern)
	}
	if strings.HasPrefix(pat, "/") {
		return fmt.Errorf("%w %q: want a path relative to the workspace, not an absolute one", ErrBadPattern, pat)
	}
	for _, seg := range strings.Split(pat, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return fmt.Errorf("%w %q: %q is not allowed as a path segment", ErrBadPattern, pat, seg)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("%w %q: %w", ErrBadPattern, pat, err)
		}
	}
	return nil
}

func glob(fsys fs.FS, pat string) ([]string, error) {
	if !slices.Contains(strings.Split(pat, "/"), "**") {
		return fs.Glob(fsys, pat)
	}
	segs := strings.Split(pat, "/")
	// Walk only below the part of the pattern that has no wildcard.
	i := 0
	for i < len(segs) && !hasMeta(segs[i]) {
		i++
	}
	root := "."
	if i > 0 {
		root = path.Join(segs[:i]...)
	}
	var out []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() && Match(pat, p) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func hasMeta(seg string) bool { return strings.ContainsAny(seg, `*?[\`) }

// Match reports whether name matches pattern, with the "**" rule of Glob.
// A malformed pattern matches nothing.
func Match(pattern, name string) bool {
	return matchSegments(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
