package secrets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/airlockci/airlock/internal/secretref"
)

// MaxAgeFile is the largest age:// file (encrypted or decrypted) read.
const MaxAgeFile = 1 << 20

// Age resolves age://<path>#<KEY>: a file in the job's workspace (so in the
// repository), encrypted with age to a key whose identity stays on the
// agent host. It is the development backend: the repository holds only
// ciphertext, the key never leaves the developer's or the agent's machine.
//
// The decrypted file is either a JSON object of strings ({"KEY": "value"},
// for multi-line values) or KEY=value lines: blank lines and lines starting
// with "#" are skipped, the value is the rest of the line exactly as
// written (no quotes, no escapes). The file is binary or ASCII-armored age.
type Age struct {
	Identities []age.Identity
}

var _ Backend = (*Age)(nil)

// LoadAgeIdentities reads an age identity file (as written by age-keygen).
func LoadAgeIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("age identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(io.LimitReader(f, MaxAgeFile))
	if err != nil {
		return nil, fmt.Errorf("age identity %s: %w", path, err)
	}
	return ids, nil
}

// Resolve decrypts the file and returns the value of the reference's key.
func (a *Age) Resolve(_ context.Context, ref secretref.Ref, job Job) (string, error) {
	if len(a.Identities) == 0 {
		return "", errors.New("this agent has no age identity; start it with --age-identity FILE")
	}
	if job.Workspace == "" {
		return "", errors.New("the job has no workspace to read the file from")
	}
	root, err := os.OpenRoot(job.Workspace)
	if err != nil {
		return "", fmt.Errorf("opening the workspace: %w", err)
	}
	defer root.Close()
	// os.Root keeps the path (and any symlink in it) inside the workspace.
	f, err := root.Open(ref.Name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("file %s is %w in the repository", ref.Name, ErrNotFound)
		}
		return "", fmt.Errorf("reading %s: %w", ref.Name, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxAgeFile+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", ref.Name, err)
	}
	if len(raw) > MaxAgeFile {
		return "", fmt.Errorf("%s is larger than %d bytes", ref.Name, MaxAgeFile)
	}
	var src io.Reader = bytes.NewReader(raw)
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(bytes.TrimSpace(raw)))
	}
	plain, err := age.Decrypt(src, a.Identities...)
	if err != nil {
		return "", fmt.Errorf("decrypting %s with the agent's age identity: %w", ref.Name, err)
	}
	data, err := io.ReadAll(io.LimitReader(plain, MaxAgeFile+1))
	if err != nil {
		return "", fmt.Errorf("decrypting %s: %w", ref.Name, err)
	}
	if len(data) > MaxAgeFile {
		return "", fmt.Errorf("%s decrypts to more than %d bytes", ref.Name, MaxAgeFile)
	}
	values, err := parseAgeFile(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref.Name, err)
	}
	v, ok := values[ref.Key]
	if !ok {
		return "", fmt.Errorf("key %s is %w in %s", ref.Key, ErrNotFound, ref.Name)
	}
	return v, nil
}

// parseAgeFile reads the decrypted file. Its errors give line numbers,
// never content.
func parseAgeFile(data []byte) (map[string]string, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var m map[string]string
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, errors.New("not a JSON object of strings")
		}
		return m, nil
	}
	m := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxAgeFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !secretref.ValidEnvName(k) {
			return nil, fmt.Errorf("line %d is not KEY=value", n)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("line %d: %s is set twice", n, k)
		}
		m[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, errors.New("unreadable KEY=value lines")
	}
	return m, nil
}
