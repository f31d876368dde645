package runner

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// DefaultSparesPerModule is how many spare instances of a module are kept
// ready when Wasm.SparesPerModule is zero.
const DefaultSparesPerModule = 1

// maxPooledModules bounds how many modules (each module and memory cap
// counts once) have spares at a time; the least recently used loses its
// spares to a newcomer. With SparesPerModule spares each, at most
// maxPooledModules × SparesPerModule instances are kept, each no larger
// than its memory cap (DefaultMaxMemoryPages: 32 MiB) and in practice the
// size its runtime's initialisation left it: about 5.5 MiB of host memory
// for a Go plugin (its linear memory and wazero's per-instance state), so
// about 22 MiB with the defaults, and never more than 4 × 32 MiB.
const maxPooledModules = 4

// spareInitTimeout bounds a spare's initialisation, which no step's
// timeout covers. A module that takes longer is not pooled again.
const spareInitTimeout = 30 * time.Second

// maxInitOutput bounds what an instance's initialisation may write before
// a step claims it; the rest is dropped, and the step's log says how much.
const maxInitOutput = 64 << 10

// pluginInstance is one instance of a compiled plugin, instantiated and
// initialised but not yet given to a step, or given to exactly one. The
// instance was created with indirections in place of a step's bindings —
// the workspace file system and the writer of stdout, stderr and log
// lines — and attach points them at the step's. Everything else a step
// grants travels with its call (runState: allowed hosts, secrets; the
// input: config and env) or was fixed when the module was compiled (the
// memory cap). An instance runs one step and is then closed, never reused.
type pluginInstance struct {
	plugin *extism.Plugin
	fs     *stepFS
	out    *stepWriter
}

// instantiate creates and initialises a fresh instance of c, with no step
// attached: its workspace is empty, and its output goes to log, or is held
// for the step that claims it when log is nil. The guest runtime's
// initialisation (and a Go plugin's package initialisers) run now, under
// ctx, with no capabilities, whether the instance is a spare or made for a
// step that is waiting: a plugin behaves the same either way.
func (w *Wasm) instantiate(ctx context.Context, c *compiledPlugin, log io.Writer) (*pluginInstance, error) {
	inst := &pluginInstance{fs: &stepFS{}, out: &stepWriter{log: log}}
	mc := wazero.NewModuleConfig().
		WithStdout(inst.out).
		WithStderr(inst.out).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader).
		// Always mounted, so that the instance can be made before anyone
		// knows whether its step grants the workspace; a step that does
		// not finds nothing there.
		WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(inst.fs, WorkspaceMount))
	p, err := c.plugin.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: mc})
	if err != nil {
		return nil, err
	}
	inst.plugin = p
	out := inst.out
	p.SetLogger(func(level extism.LogLevel, msg string) { writeLogLine(out, level, msg) })
	if c.initExport && p.FunctionExists(initExport) {
		// No capabilities: the initialisers run before any step is known.
		st := &runState{allowHosts: map[string]bool{}, http: w.http}
		if _, _, err := p.CallWithContext(context.WithValue(ctx, runStateKey{}, st), initExport, nil); err != nil {
			p.Close(context.Background())
			if st.hostErr != nil {
				err = st.hostErr
			}
			return nil, fmt.Errorf("%w: %w (package initialisers run before the step's workspace, secrets and hosts are attached)", errPluginInit, err)
		}
	}
	return inst, nil
}

// errPluginInit is wrapped by the error of an instance whose runtime
// initialisation failed.
var errPluginInit = errors.New("plugin initialisation failed")

// attach gives inst to a step: its workspace (nil for none) and its log,
// which first receives what the initialisation wrote.
func (inst *pluginInstance) attach(root *rootFS, log io.Writer) {
	inst.fs.cur.Store(root)
	inst.out.attach(log)
}

// close detaches the step and closes the instance; it is never reused.
func (inst *pluginInstance) close() {
	inst.out.detach()
	inst.plugin.Close(context.Background())
	inst.fs.cur.Store(nil)
}

// stepWriter is an instance's stdout, stderr and log: held (up to
// maxInitOutput) until a step attaches, then the step's log, then nothing.
type stepWriter struct {
	mu       sync.Mutex
	log      io.Writer
	held     []byte
	dropped  int
	detached bool
}

func (s *stepWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.detached:
	case s.log != nil:
		return s.log.Write(b)
	case len(s.held)+len(b) <= maxInitOutput:
		s.held = append(s.held, b...)
	default:
		s.dropped += len(b)
	}
	return len(b), nil
}

func (s *stepWriter) attach(log io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == log {
		return // made for this step: nothing was held
	}
	if len(s.held) > 0 {
		log.Write(s.held)
	}
	if s.dropped > 0 {
		fmt.Fprintf(log, "(%d more bytes of the plugin's initialisation output dropped)\n", s.dropped)
	}
	s.held, s.dropped, s.log = nil, 0, log
}

func (s *stepWriter) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log, s.held, s.detached = nil, nil, true
}

// stepFS is the file system mounted at /workspace in every instance: the
// step's rootFS once one is attached, and until then (or when the step
// grants no workspace) an empty, read-only directory.
//
// The mount must be a directory from the start: the guest runtime lists
// its preopened directories while it initialises, before any step, and
// wazero keeps the handle it opened for the mount (fd 3) for the life of
// the instance. That handle is a mountDir, which follows the attached
// workspace; every path the guest opens is resolved by stepFS anew.
type stepFS struct {
	cur atomic.Pointer[rootFS]
}

var (
	_ experimentalsys.FS   = (*stepFS)(nil)
	_ experimentalsys.File = (*mountDir)(nil)
)

// isMountRoot says whether a path from wazero names the mount itself.
func isMountRoot(p string) bool { return rel(p) == "." }

func (f *stepFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if r := f.cur.Load(); r != nil {
		return r.OpenFile(p, flag, perm)
	}
	switch {
	case flag&writeFlags != 0:
		return nil, experimentalsys.EROFS
	case isMountRoot(p):
		d := &mountDir{fs: f}
		d.mountSeeker.d = d
		return d, 0
	}
	return nil, experimentalsys.ENOENT
}

// emptyDirStat is the mount's status when no workspace is attached.
var emptyDirStat = sys.Stat_t{Mode: fs.ModeDir | 0o555, Nlink: 1}

func (f *stepFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	if r := f.cur.Load(); r != nil {
		return r.Lstat(p)
	}
	if isMountRoot(p) {
		return emptyDirStat, 0
	}
	return sys.Stat_t{}, experimentalsys.ENOENT
}

func (f *stepFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	if r := f.cur.Load(); r != nil {
		return r.Stat(p)
	}
	if isMountRoot(p) {
		return emptyDirStat, 0
	}
	return sys.Stat_t{}, experimentalsys.ENOENT
}

func (f *stepFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Mkdir(p, perm)
	}
	return experimentalsys.EROFS
}

func (f *stepFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Chmod(p, perm)
	}
	return experimentalsys.EROFS
}

func (f *stepFS) Rename(from, to string) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Rename(from, to)
	}
	return experimentalsys.EROFS
}

func (f *stepFS) Rmdir(p string) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Rmdir(p)
	}
	return experimentalsys.EROFS
}

func (f *stepFS) Unlink(p string) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Unlink(p)
	}
	return experimentalsys.EROFS
}

func (f *stepFS) Link(oldPath, newPath string) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Link(oldPath, newPath)
	}
	return experimentalsys.EROFS
}

func (f *stepFS) Symlink(target, linkName string) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Symlink(target, linkName)
	}
	return experimentalsys.EROFS
}

func (f *stepFS) Readlink(p string) (string, experimentalsys.Errno) {
	if r := f.cur.Load(); r != nil {
		return r.Readlink(p)
	}
	return "", experimentalsys.ENOENT
}

func (f *stepFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if r := f.cur.Load(); r != nil {
		return r.Utimens(p, atim, mtim)
	}
	return experimentalsys.EROFS
}

// mountDir is the mount's directory opened while no workspace was
// attached: empty until one is, then the attached workspace's root,
// opened on first use. A step's instance is attached once and closed
// after it, so the handle never passes from one workspace to another.
type mountDir struct {
	experimentalsys.DirFile
	mountSeeker[int64]
	fs   *stepFS
	root *rootFS              // the workspace f was opened in
	f    experimentalsys.File // nil until a workspace is attached and used
}

// file returns the attached workspace's root directory, or nil when none
// is attached.
func (d *mountDir) file() (experimentalsys.File, experimentalsys.Errno) {
	r := d.fs.cur.Load()
	if r == nil {
		return nil, 0
	}
	if d.root != r {
		if d.f != nil {
			d.f.Close()
			d.f = nil
		}
		f, errno := r.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
		if errno != 0 {
			return nil, errno
		}
		d.root, d.f = r, f
	}
	return d.f, 0
}

func (d *mountDir) Stat() (sys.Stat_t, experimentalsys.Errno) {
	f, errno := d.file()
	if f == nil {
		return emptyDirStat, errno
	}
	return f.Stat()
}

func (d *mountDir) Dev() (uint64, experimentalsys.Errno) {
	st, errno := d.Stat()
	return st.Dev, errno
}

func (d *mountDir) Ino() (sys.Inode, experimentalsys.Errno) {
	st, errno := d.Stat()
	return st.Ino, errno
}

// mountSeeker gives mountDir its Seek (rewinding a directory), typed as
// seeker's is for go vet.
type mountSeeker[Offset ~int64] struct{ d *mountDir }

func (s mountSeeker[Offset]) Seek(offset Offset, whence int) (int64, experimentalsys.Errno) {
	f, errno := s.d.file()
	if f == nil {
		return 0, errno
	}
	return f.Seek(int64(offset), whence)
}

func (d *mountDir) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	f, errno := d.file()
	if f == nil {
		return nil, errno
	}
	return f.Readdir(n)
}

func (d *mountDir) Sync() experimentalsys.Errno { return 0 }

func (d *mountDir) Datasync() experimentalsys.Errno { return 0 }

func (d *mountDir) Utimens(atim, mtim int64) experimentalsys.Errno {
	f, errno := d.file()
	if f == nil {
		if errno == 0 {
			errno = experimentalsys.EROFS
		}
		return errno
	}
	return f.Utimens(atim, mtim)
}

func (d *mountDir) Close() experimentalsys.Errno {
	if d.f == nil {
		return 0
	}
	f := d.f
	d.f, d.root = nil, nil
	return f.Close()
}

// instancePool keeps, for each recently used module (and memory cap), a
// few spare instances made ahead of need by background fills, so that a
// warm step skips instantiation (copying the module's data segments) and
// the guest runtime's initialisation. A spare has never run a step; a step
// takes one out for good (claim), and the pool makes another.
//
// The pool owns its fill goroutines: close cancels them, waits for them,
// and closes every spare.
type instancePool struct {
	size int // spares per module
	make func(context.Context, *compiledPlugin) (*pluginInstance, error)

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	fills  sync.WaitGroup

	mu      sync.Mutex
	idle    *sync.Cond // signalled when a fill ends
	modules map[string]*poolModule
	clock   uint64 // for least recently used
	closed  bool

	claimed atomic.Int64 // steps started on a spare, for tests
}

type poolModule struct {
	compiled *compiledPlugin
	spares   []*pluginInstance
	filling  int
	lastUsed uint64
	// broken is set when a spare could not be made: the module then runs
	// only on instances made for its step.
	broken bool
}

func newInstancePool(size int, make func(context.Context, *compiledPlugin) (*pluginInstance, error)) *instancePool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &instancePool{size: size, make: make, ctx: ctx, cancel: cancel, modules: map[string]*poolModule{}}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// claim takes a spare of the module key for a step, or returns nil, and
// starts making spares up to the pool's size.
func (p *instancePool) claim(key string, c *compiledPlugin) *pluginInstance {
	if p == nil || p.size <= 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.clock++
	m := p.modules[key]
	if m == nil {
		m = &poolModule{compiled: c, lastUsed: p.clock}
		p.modules[key] = m
		p.evictLocked()
	}
	m.lastUsed = p.clock
	var inst *pluginInstance
	if n := len(m.spares); n > 0 {
		inst = m.spares[n-1]
		m.spares[n-1] = nil
		m.spares = m.spares[:n-1]
		p.claimed.Add(1)
	}
	for !m.broken && len(m.spares)+m.filling < p.size {
		m.filling++
		p.fills.Add(1)
		go p.fill(key, m)
	}
	return inst
}

// fill makes one spare for m.
func (p *instancePool) fill(key string, m *poolModule) {
	defer p.fills.Done()
	ctx, cancel := context.WithTimeout(p.ctx, spareInitTimeout)
	inst, err := p.make(ctx, m.compiled)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.idle.Broadcast()
	m.filling--
	switch {
	case err != nil:
		// A cancelled fill is the pool closing; any other failure would
		// recur, and the step that needs the module will report it.
		m.broken = p.ctx.Err() == nil
	case p.closed || p.modules[key] != m:
		inst.close()
	default:
		m.spares = append(m.spares, inst)
	}
}

// evictLocked drops the least recently used module's spares while more
// than maxPooledModules modules are kept.
func (p *instancePool) evictLocked() {
	for len(p.modules) > maxPooledModules {
		var oldest string
		for k, m := range p.modules {
			if oldest == "" || m.lastUsed < p.modules[oldest].lastUsed {
				oldest = k
			}
		}
		for _, inst := range p.modules[oldest].spares {
			inst.close()
		}
		delete(p.modules, oldest) // a fill in progress closes its spare
	}
}

// wait returns when no fill is in progress.
func (p *instancePool) wait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.fillingLocked() {
		p.idle.Wait()
	}
}

func (p *instancePool) fillingLocked() bool {
	for _, m := range p.modules {
		if m.filling > 0 {
			return true
		}
	}
	return false
}

// spares counts the spares kept, for tests.
func (p *instancePool) spares() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.modules {
		n += len(m.spares)
	}
	return n
}

// close stops the fills, waits for them, and closes every spare.
func (p *instancePool) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.fills.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, m := range p.modules {
		for _, inst := range m.spares {
			inst.close()
		}
		delete(p.modules, k)
	}
}
