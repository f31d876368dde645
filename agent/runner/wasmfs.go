package runner

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// rootFS is the WASI file system a plugin sees at /workspace: the job's
// workspace served through an os.Root. Every path is resolved by os.Root,
// which refuses `..` and absolute paths, and follows symbolic links only
// while they stay inside the root, checking each component as it opens it
// (openat with O_NOFOLLOW), so a link swapped while the plugin runs cannot
// lead out either. wazero's own directory mounts are not used: they
// document that `../` can escape them.
//
// A read-only rootFS refuses every change with EROFS. A read-write one also
// refuses to create a symbolic link whose target is absolute or climbs out
// of the workspace: the plugin could not follow it, but a later shell step
// on the host would.
type rootFS struct {
	root     *os.Root
	readOnly bool
}

var (
	_ experimentalsys.FS   = (*rootFS)(nil)
	_ experimentalsys.File = (*rootFile)(nil)
)

// rel turns a path from wazero (relative to the mount, perhaps "." or with
// a trailing slash) into a name for os.Root.
func rel(p string) string {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "."
	}
	return p
}

func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	// os.Root's refusal to leave the root reads "path escapes from parent";
	// to the guest it is a permission error, like a path outside a preopen.
	if strings.Contains(err.Error(), "escapes from parent") {
		return experimentalsys.EPERM
	}
	return experimentalsys.UnwrapOSError(err)
}

const writeFlags = experimentalsys.O_WRONLY | experimentalsys.O_RDWR | experimentalsys.O_CREAT |
	experimentalsys.O_TRUNC | experimentalsys.O_APPEND | experimentalsys.O_EXCL

func (r *rootFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if r.readOnly && flag&writeFlags != 0 {
		return nil, experimentalsys.EROFS
	}
	name := rel(p)
	var osFlag int
	switch {
	case flag&experimentalsys.O_RDWR != 0:
		osFlag = os.O_RDWR
	case flag&experimentalsys.O_WRONLY != 0:
		osFlag = os.O_WRONLY
	default:
		osFlag = os.O_RDONLY
	}
	if flag&experimentalsys.O_CREAT != 0 {
		osFlag |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		osFlag |= os.O_EXCL
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		osFlag |= os.O_TRUNC
	}
	if flag&experimentalsys.O_APPEND != 0 {
		osFlag |= os.O_APPEND
	}
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		// The guest asked not to follow a final symbolic link.
		if info, err := r.root.Lstat(name); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	f, err := r.root.OpenFile(name, osFlag, perm&fs.ModePerm)
	if err != nil {
		return nil, errno(err)
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		if info, err := f.Stat(); err != nil || !info.IsDir() {
			f.Close()
			return nil, experimentalsys.ENOTDIR
		}
	}
	return &rootFile{f: f, seeker: seeker[int64]{f}, readOnly: r.readOnly, append: flag&experimentalsys.O_APPEND != 0}, 0
}

func (r *rootFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	info, err := r.root.Lstat(rel(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(info), 0
}

func (r *rootFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	info, err := r.root.Stat(rel(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(info), 0
}

func (r *rootFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Mkdir(rel(p), perm&fs.ModePerm))
}

func (r *rootFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Chmod(rel(p), perm&fs.ModePerm))
}

func (r *rootFS) Rename(from, to string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Rename(rel(from), rel(to)))
}

func (r *rootFS) Rmdir(p string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	info, err := r.root.Lstat(name)
	if err != nil {
		return errno(err)
	}
	if !info.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errno(r.root.Remove(name))
}

func (r *rootFS) Unlink(p string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	info, err := r.root.Lstat(name)
	if err != nil {
		return errno(err)
	}
	if info.IsDir() {
		return experimentalsys.EISDIR
	}
	return errno(r.root.Remove(name))
}

func (r *rootFS) Link(oldPath, newPath string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Link(rel(oldPath), rel(newPath)))
}

func (r *rootFS) Symlink(target, linkName string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(linkName)
	// The target is resolved from the link's directory; it must stay in
	// the workspace as written, not only as os.Root would resolve it.
	if path.IsAbs(target) || !fs.ValidPath(path.Join(path.Dir(name), target)) {
		return experimentalsys.EPERM
	}
	return errno(r.root.Symlink(target, name))
}

func (r *rootFS) Readlink(p string) (string, experimentalsys.Errno) {
	target, err := r.root.Readlink(rel(p))
	if err != nil {
		return "", errno(err)
	}
	return target, 0
}

func (r *rootFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Chtimes(rel(p), utime(atim), utime(mtim)))
}

// utime converts a WASI timestamp; the zero time leaves it unchanged.
func utime(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// rootFile is a file or directory opened through rootFS.
type rootFile struct {
	seeker[int64]
	f        *os.File
	readOnly bool
	append   bool
}

func (r *rootFile) Dev() (uint64, experimentalsys.Errno) {
	st, e := r.Stat()
	return st.Dev, e
}

func (r *rootFile) Ino() (sys.Inode, experimentalsys.Errno) {
	st, e := r.Stat()
	return st.Ino, e
}

func (r *rootFile) IsDir() (bool, experimentalsys.Errno) {
	st, e := r.Stat()
	return st.Mode.IsDir(), e
}

func (r *rootFile) IsAppend() bool { return r.append }

func (r *rootFile) SetAppend(bool) experimentalsys.Errno { return experimentalsys.ENOSYS }

func (r *rootFile) Utimens(int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }

func (r *rootFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	info, err := r.f.Stat()
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(info), 0
}

func (r *rootFile) Read(buf []byte) (int, experimentalsys.Errno) {
	n, err := r.f.Read(buf)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, errno(err)
}

func (r *rootFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	n, err := r.f.ReadAt(buf, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, errno(err)
}

// seeker gives rootFile its Seek. Offset is always int64: the type
// parameter only keeps go vet's stdmethods check, which takes any Seek(int64,
// int) for io.Seeker's, from refusing the Errno result wazero's File wants.
type seeker[Offset ~int64] struct{ f *os.File }

func (s seeker[Offset]) Seek(offset Offset, whence int) (int64, experimentalsys.Errno) {
	n, err := s.f.Seek(int64(offset), whence)
	return n, errno(err)
}

func (r *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	infos, err := r.f.Readdir(n)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return nil, errno(err)
	}
	dirents := make([]experimentalsys.Dirent, 0, len(infos))
	for _, info := range infos {
		st := sys.NewStat_t(info)
		dirents = append(dirents, experimentalsys.Dirent{Ino: st.Ino, Name: info.Name(), Type: info.Mode().Type()})
	}
	return dirents, 0
}

func (r *rootFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if r.readOnly {
		return 0, experimentalsys.EBADF
	}
	n, err := r.f.Write(buf)
	return n, errno(err)
}

func (r *rootFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if r.readOnly {
		return 0, experimentalsys.EBADF
	}
	n, err := r.f.WriteAt(buf, off)
	return n, errno(err)
}

func (r *rootFile) Truncate(size int64) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EBADF
	}
	return errno(r.f.Truncate(size))
}

func (r *rootFile) Sync() experimentalsys.Errno {
	if r.readOnly {
		return 0
	}
	return errno(r.f.Sync())
}

func (r *rootFile) Datasync() experimentalsys.Errno { return r.Sync() }

func (r *rootFile) Close() experimentalsys.Errno { return errno(r.f.Close()) }
