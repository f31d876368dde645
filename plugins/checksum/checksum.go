package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/airlockci/airlock/plugins/internal/plog"
	"github.com/airlockci/airlock/plugins/internal/workspace"
)

// Config is the plugin's step configuration.
type Config struct {
	Files  []string `json:"files"`
	Verify string   `json:"verify"`
}

type input struct {
	Config Config `json:"config"`
}

// Run is the whole plugin: it reads the runner's input JSON, works on fsys
// (the workspace) and returns the exit status.
func Run(rawInput []byte, fsys fs.FS, log plog.Logger) int32 {
	var in input
	if err := json.Unmarshal(rawInput, &in); err != nil {
		log(plog.Error, "checksum: bad input: "+err.Error())
		return 2
	}
	cfg := in.Config
	if len(cfg.Files) == 0 && cfg.Verify == "" {
		log(plog.Error, `checksum: config needs "files" (a list of patterns), "verify" (a SHA256SUMS file), or both`)
		return 2
	}
	failed := false
	hashes := map[string]string{}
	if len(cfg.Files) > 0 {
		files, err := workspace.Glob(fsys, cfg.Files)
		if err != nil {
			log(plog.Error, "checksum: files: "+err.Error())
			return 1
		}
		for _, f := range files {
			sum, err := hashFile(fsys, f)
			if err != nil {
				log(plog.Error, fmt.Sprintf("checksum: %s: %v", f, err))
				failed = true
				continue
			}
			hashes[f] = sum
			log(plog.Info, sum+"  "+f)
		}
	}
	if cfg.Verify != "" {
		if !verify(fsys, cfg.Verify, hashes, log) {
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

// verify checks every file listed in the sums file; known holds hashes
// already computed, by workspace path.
func verify(fsys fs.FS, sumsPath string, known map[string]string, log plog.Logger) bool {
	if !fs.ValidPath(sumsPath) {
		log(plog.Error, fmt.Sprintf("checksum: verify: %q is not a path relative to the workspace", sumsPath))
		return false
	}
	data, err := fs.ReadFile(fsys, sumsPath)
	if err != nil {
		log(plog.Error, fmt.Sprintf("checksum: verify: read %s: %v", sumsPath, err))
		return false
	}
	entries, err := ParseSums(string(data))
	if err != nil {
		log(plog.Error, fmt.Sprintf("checksum: verify: %s:%v", sumsPath, err))
		return false
	}
	if len(entries) == 0 {
		log(plog.Error, fmt.Sprintf("checksum: verify: %s lists no file", sumsPath))
		return false
	}
	dir := path.Dir(sumsPath)
	ok := true
	listed := map[string]bool{}
	for _, e := range entries {
		p := path.Join(dir, e.Path)
		listed[p] = true
		if !fs.ValidPath(p) {
			log(plog.Error, fmt.Sprintf("%s: FAILED (outside the workspace)", e.Path))
			ok = false
			continue
		}
		sum, found := known[p]
		if !found {
			sum, err = hashFile(fsys, p)
			if errors.Is(err, fs.ErrNotExist) {
				log(plog.Error, fmt.Sprintf("%s: FAILED (missing)", p))
				ok = false
				continue
			}
			if err != nil {
				log(plog.Error, fmt.Sprintf("%s: FAILED (%v)", p, err))
				ok = false
				continue
			}
		}
		if sum != e.SHA256 {
			log(plog.Error, fmt.Sprintf("%s: FAILED (sha256 is %s, %s lists %s)", p, sum, sumsPath, e.SHA256))
			ok = false
			continue
		}
		log(plog.Info, p+": OK")
	}
	for p := range known {
		if !listed[p] && p != sumsPath {
			log(plog.Warn, fmt.Sprintf("%s is not listed in %s", p, sumsPath))
		}
	}
	if ok {
		log(plog.Info, fmt.Sprintf("checksum: all %d files listed in %s match", len(entries), sumsPath))
	}
	return ok
}

func hashFile(fsys fs.FS, name string) (string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SumsEntry is one line of a sha256sum file.
type SumsEntry struct {
	SHA256 string // lower-case hex
	Path   string
}

// ParseSums parses sha256sum output: "<64 hex>  <path>" per line, or
// "<64 hex> *<path>" (binary mode). Blank lines are skipped. Errors start
// with the line number.
func ParseSums(text string) ([]SumsEntry, error) {
	var entries []SumsEntry
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(line) < 66 || (line[64:66] != "  " && line[64:66] != " *") || len(line) == 66 {
			return nil, fmt.Errorf("%d: want \"<64 hex digits>  <path>\", got %q", n, truncate(line, 80))
		}
		sum := strings.ToLower(line[:64])
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("%d: %q is not a hex SHA-256", n, line[:64])
		}
		entries = append(entries, SumsEntry{SHA256: sum, Path: line[66:]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return entries, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
